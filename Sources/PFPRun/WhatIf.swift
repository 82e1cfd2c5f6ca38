import Foundation
import PFPCore
import PFPSchema
import PFPFormats
import PFPIngest
import PFPRules
import PFPProfile
import PFPMatch
import PFPEmit

/// `pfp whatif`: the lists a stored night would have published under a reform,
/// and what changes against the published run. Reads the stored results of the
/// run of that date (no feed is read again); writes `<out>/<reform name>/` whole
/// or not at all; never touches a published run, the run registry's runs, or the
/// state later nightly runs compare with.
package struct WhatIfRequest: Sendable {
    package var options: RunOptions
    package var reformPaths: [String]
    package var outRoot: String?
    /// `PARAMETER=FROM..TO:STEP`: one reform per value, each an entry from the run date.
    package var sweep: String?
    /// Decide every household again, even for a reform of numbers only (the
    /// selection's check: the files are the same).
    package var everyHousehold = false
    package init(options: RunOptions, reformPaths: [String], outRoot: String?, sweep: String? = nil) {
        self.options = options; self.reformPaths = reformPaths; self.outRoot = outRoot; self.sweep = sweep
    }
}

package enum WhatIf {
    package struct Outcome {
        package var reform: String
        package var path: String
        package var added: Int
        package var removed: Int
        package var changed: Int
        /// summary.csv's rows over every district.
        var totals: [WhatIfChanges.SummaryRow] = []
        /// The sweep's summary folder, not a reform's.
        package var isSweepSummary = false
    }

    package static func run(_ req: WhatIfRequest, console: Console) throws -> [Outcome] {
        let started = FileIO.now()
        let r = try ResolvedRun(req.options)
        guard req.options.runDate != nil else {
            throw PipelineError.usage("pfp whatif needs --run-date: the stored run to start from")
        }
        let sweep = try req.sweep.map { try Sweep(spec: $0, runDate: r.runDate) }
        let reforms = try req.reformPaths.map { try Reform.load(path: $0) } + (sweep?.reforms ?? [])
        guard !reforms.isEmpty else {
            throw PipelineError.usage(
                "pfp whatif needs a --reform FILE or a --sweep PARAMETER=FROM..TO:STEP", hint: "see docs/WHATIF.md")
        }
        var seen: [String: String] = [:]
        for f in reforms {
            if let other = seen[f.name] {
                throw PipelineError.badInput(
                    location: f.path, "two reforms are named \(f.name) (the other is \(other))",
                    hint: "give each reform its own name: it names the output folder")
            }
            seen[f.name] = f.path
        }
        let run = try StoredRun(r)
        let registry = run.registry
        guard let stored = try registry.run(r.runDate), stored.status == .succeeded else {
            throw PipelineError.badInput(
                stage: "whatif", "no successful run of \(r.runDate) is stored",
                hint: "a what-if starts from a published night: run 'pfp run --run-date \(r.runDate)' first "
                    + "('pfp runs' lists the stored runs)")
        }
        let base = try run.rules()
        guard base.digest == stored.ruleDigest else {
            throw PipelineError.badInput(
                stage: "whatif",
                "the rule files changed since the run of \(r.runDate) (its digest "
                    + "\(stored.ruleDigest?.prefix(16) ?? "-"), now \(base.digest.prefix(16))): a reform would be "
                    + "compared with rules that did not make it",
                hint: "rerun its match with the rules of now: 'pfp run --from profile --run-date \(r.runDate)'")
        }
        // Every reform is loaded and checked before anything is computed or written.
        let reformRules = try reforms.map { try run.rules(reform: $0) }
        console.detail(String(format: "    rules and reforms checked: %.2f s", FileIO.now() - started))
        let load = Laps(console).mark
        // Each reform allocates and frees the same blocks (list rows formatted, chunks'
        // entries, explanations' pieces): those under 16 MiB are kept in the heap and
        // used again, not mapped fresh each time (a sweep: 3.0 → 2.0 s of system time,
        // ~0.9 of the wall; ~80 MB more at the peak, far under the nightly run's).
        FileIO.holdFreedBlocks(below: 16 << 20, trimAbove: 64 << 20)
        defer { FileIO.reuseFreedMemory(false) }
        // Which reforms change numbers only (their households are selected; the
        // stored profiles are read for them).
        let impacts = reformRules.map { req.everyHousehold ? nil : ReformImpact(base: base, reform: $0) }
        var night = try StoredNight(
            run, base: base, previousDate: try registry.previousSuccessful(before: r.runDate),
            profiles: impacts.contains { $0 != nil }, reforms: reforms.count, step: load)
        let (data, published, previous, shared) = (night.data, night.published, night.previous, night.shared)
        // The households each reform of numbers may change, in one pass for all;
        // the profiles are held by the selection alone from here (it lets them go).
        let lastReading = impacts.indices.last { impacts[$0] != nil }
        let select = night.profiles.map {
            WhatIfSelect(
                data: data, previous: previous, base: base, published: published, profiles: $0, shared: shared)
        }
        night.profiles = nil
        var subsets = [WhatIfSelect.Selected?](repeating: nil, count: reforms.count)
        if let select {
            let selected = impacts.indices.filter { impacts[$0] != nil }
            // A sweep's value is chained to the value before it (both selected).
            let firstSwept = reforms.count - (sweep?.values.count ?? 0)
            let chainable = selected.indices.map { j in
                j > 0 && selected[j - 1] == selected[j] - 1 && selected[j - 1] >= firstSwept
            }
            let found = try select.households(
                selected.map { (impacts[$0]!, reformRules[$0]) }, chainable: chainable)
            for (i, s) in zip(selected, found) { subsets[i] = s }
            // The selection read every household's people; a reform reads few of them.
            data.dropResidentPages()
            load("households selected for \(selected.count) reform\(selected.count == 1 ? "" : "s")")
        }
        let outRoot = req.outRoot ?? (r.config.resolve("out/whatif") as NSString).appendingPathComponent("\(r.runDate)")
        var outcomes: [Outcome] = []
        // The reform's result a chained value (a sweep's next) is made from.
        var chainBase: MatchResult?
        // The reforms written but for their explanations, explained together (one
        // pass over the households) a group at a time, then published.
        let explain = try WhatIfExplain(
            data: data, previous: previous, base: base, workers: Parallel.threads, lookup: shared.lookup,
            presence: shared.presence)
        // The published entries list by list, once for every reform.
        let publishedByList = EmitStage.byList(published)
        var pending: [Pending] = []
        // A folder whose lists are still being written is abandoned once they are done.
        defer {
            for p in pending {
                _ = try? p.lists.value()
                p.dir.abandon()
            }
        }
        // With several reforms of numbers, the published lists' rows are formatted
        // once: each reform's lists copy the rows of the entries it leaves as they were.
        // (In a folder of their own, never published: removed with it at the end.)
        var formatted: (dir: RunDirectory, rows: FormattedLists)?
        defer { formatted?.dir.abandon() }
        if impacts.filter({ $0 != nil }).count > 1 {
            let dir = try RunDirectory(root: outRoot, name: ".formatted-lists")
            formatted = (
                dir,
                try FormattedLists(
                    rules: base, match: published, byList: publishedByList,
                    path: dir.path("lists.csv"))
            )
            load("published lists' rows formatted (copied into each reform's lists)")
        }
        for (k, ((reform, rs), impact)) in zip(zip(reforms, reformRules), impacts).enumerated() {
            var valueBefore = chainBase
            chainBase = nil
            console.stageStarted(reform.name)
            let t0 = FileIO.now(), c0 = FileIO.cpuSeconds()
            let dir = try RunDirectory(root: outRoot, name: reform.name)
            do {
                let step = Laps(console).mark
                let m: MatchResult
                // The households whose entries may differ from the published ones (nil: any).
                var mayDiffer: [Bool]?
                if let impact, let sel = select, let selected = subsets[k] {
                    // The same rules with other numbers: only the households the
                    // changed numbers can reach are decided again; those where only
                    // an amount can change keep their entries with the amount made again.
                    // A sweep's next value starts from the value before: only the
                    // households whose frontier moved between the two are decided
                    // again, the others that may differ from the published run keep
                    // that value's entries with their amounts made again.
                    let chained = valueBefore != nil ? selected.chained : nil
                    let subset = chained ?? selected.decide
                    let keep =
                        chained.map { d in
                            let again = sel.marks(d)
                            return WhatIfSelect.union(selected.decide, selected.amounts).filter { !again[Int($0)] }
                        } ?? selected.amounts
                    console.detail(
                        "    \(grouped(subset.count)) households decided again"
                            + (chained != nil ? " (from the value before)" : "")
                            + ", \(grouped(keep.count)) with amounts made again (\(grouped(selected.decide.count)) may "
                            + "decide otherwise than published, \(grouped(selected.amounts.count)) only their amounts; "
                            + "\(impact.frontierCount) comparisons and \(impact.amountPolicies.count) amounts read a "
                            + "changed number)")
                    let amounts = try sel.amounts(
                        of: keep, impact: impact, rules: rs, base: chained != nil ? valueBefore : nil)
                    step("\(grouped(amounts.count)) amounts made again")
                    // The pages read in place of the profiles, the people and the previous
                    // records, let go: the amounts read every part of them, the decisions
                    // read them again in household order (the pages behind them are not
                    // read again), and the explanations read few of them.
                    let dropPages = {
                        sel.dropResidentPages()
                        data.dropResidentPages()
                        previous?.dropResidentPages()
                    }
                    dropPages()
                    let again = try MatchStage(writesExplanations: false).run(
                        data: data, rules: rs,
                        profiles: HouseholdProfilesView(sel.profiles, rules: rs, except: impact.changedValues),
                        previous: previous, explainPath: "", console: console, households: subset, shared: shared,
                        dropBehind: dropPages)
                    // Decided: no later reform reads the profiles, or (a sweep's next
                    // value) other pages of them.
                    if k == lastReading { sel.release() }
                    dropPages()
                    m = sel.merged(
                        again, subset: subset, amounts: amounts, base: chained != nil ? valueBefore : nil)
                    valueBefore = nil  // made into m: its entries not held twice
                    if k + 1 < reforms.count, subsets[k + 1]?.chained != nil { chainBase = m }
                    mayDiffer = sel.marks(selected.decide + selected.amounts)
                    step("decisions")
                } else {
                    // Other rules: every household is decided again.
                    let profiles = try ProfileStage().run(data: data, rules: rs, console: console)
                    step("profiles")
                    m = try MatchStage(writesExplanations: false).run(
                        data: data, rules: rs, profiles: HouseholdProfilesView(profiles, rules: rs),
                        previous: previous, explainPath: "", console: console, shared: shared)
                    step("decisions")
                }
                // The reform before's lists, written on while this one was decided, are
                // done before this one's start (one reform's lists written at a time).
                if let last = pending.last {
                    _ = try last.lists.value()
                    step("\(last.reform.name)'s lists written (beside)")
                }
                let p = try write(
                    reform: reform, rules: rs, base: base, published: published, match: m, mayDiffer: mayDiffer,
                    runDate: r.runDate, into: dir, explain: explain, formatted: formatted?.rows,
                    publishedByList: publishedByList, step: step)
                pending.append(p)
                console.stageEnded(
                    reform.name, wall: FileIO.now() - t0, cpu: FileIO.cpuSeconds() - c0, peakRSS: FileIO.peakRSS(),
                    summary: "\(grouped(p.outcome.added)) added, \(grouped(p.outcome.removed)) removed, "
                        + "\(grouped(p.outcome.changed)) changed (to explain)")
            } catch {
                dir.abandon()
                throw error
            }
            if pending.count == explainedTogether || k == reforms.count - 1 {
                outcomes += try explainAndPublish(pending, explain: explain, console: console)
                pending = []
            }
        }
        if let sweep {
            let swept = Array(outcomes.suffix(sweep.values.count))
            let path = try sweep.publish(outcomes: swept, root: outRoot, runDate: r.runDate, base: base)
            outcomes.append(
                Outcome(reform: sweep.folder, path: path, added: 0, removed: 0, changed: 0, isSweepSummary: true))
        }
        console.detail(String(format: "    what-if done: %.2f s", FileIO.now() - started))
        return outcomes
    }

    /// How many reforms' changes are explained in one pass over the households
    /// (a ten-value sweep's at once; each holds its rows, 16 bytes each, until then).
    static let explainedTogether = 10

    /// A reform's folder written but for changes.jsonl and manifest.json: its rows to
    /// explain and what its manifest says. Its lists may still be being written (on a
    /// thread of their own, while the next reform is decided): `lists` gives the
    /// manifest's counts once they are.
    struct Pending {
        var outcome: Outcome
        let dir: RunDirectory
        let target: WhatIfExplain.Target
        let reform: Reform
        let ruleDigest: String, baseDigest: String
        let runDate: CivilDate
        let lists: Background<JSON>
    }

    /// The lists, changes.csv, summary.csv and report.html of one reform; its
    /// changes to explain. `mayDiffer`: the households whose entries can differ
    /// (nil: all of them). The lists may still be being written when it returns
    /// (`Pending.lists`). `publishedByList`: `EmitStage.byList(published)`, made once.
    static func write(
        reform: Reform, rules rs: RuleSet, base: RuleSet, published: MatchResult, match m: MatchResult,
        mayDiffer: [Bool]?, runDate: CivilDate, into dir: RunDirectory,
        explain: WhatIfExplain, formatted: FormattedLists?, publishedByList: [String: ArraySlice<PublishedEntry>],
        step: (String) -> Void
    ) throws -> Pending {
        var inputs = EmitStage.Inputs(
            runDate: runDate, outRoot: dir.root, rules: rs, match: m, feeds: [], rejects: [], allowedMissing: [],
            startedAt: RunRegistry.timestamp(), pipelineVersion: PFPVersion.pipeline,
            schemaVersion: PFPVersion.schema)
        inputs.previousDate = nil
        let after = EmitStage.byListInOrder(m)
        // The lists are written on a thread of their own while the changes are found
        // and written (the files are the same whatever the timing: each is made
        // from the entries alone; the directory records them under a lock).
        final class Lists: @unchecked Sendable {
            let inputs: EmitStage.Inputs, after: [String: ArraySlice<PublishedEntry>], dir: RunDirectory
            let copy: FormattedLists?
            init(
                _ i: EmitStage.Inputs, _ a: [String: ArraySlice<PublishedEntry>], _ d: RunDirectory,
                _ c: FormattedLists?
            ) {
                (inputs, after, dir, copy) = (i, a, d, c)
            }
        }
        let lists = Lists(inputs, after, dir, formatted)
        // Not on the progress line: the next reform's decisions may be counted there meanwhile.
        let written = Background("pfp-whatif-lists") {
            try EmitStage().writeLists(
                lists.inputs, byList: lists.after, into: lists.dir, report: false, copy: lists.copy, metered: false
            ).figures.counts(lists.inputs.rules)
        }
        // Nothing throws (and the folder is abandoned) while it still writes; handed
        // over to the caller, who waits for it, once all else is written.
        var handedOver = false
        defer { if !handedOver { _ = try? written.value() } }
        let before = publishedByList
        let diff = WhatIfChanges(rules: rs, published: published, before: before, match: m, after: after)
        let changes = diff.rows(mayDiffer: mayDiffer)
        step("changes found")
        // The summary counts on a thread of its own while changes.csv is written
        // (it reads the entries and the change rows alone).
        final class Counted: @unchecked Sendable {
            let diff: WhatIfChanges, changes: WhatIfChanges.Changes
            init(_ d: WhatIfChanges, _ c: WhatIfChanges.Changes) { (diff, changes) = (d, c) }
        }
        let counted = Counted(diff, changes)
        let summarized = Background("pfp-whatif-summary") { counted.diff.summary(counted.changes) }
        defer { _ = try? summarized.value() }
        try dir.write("changes.csv", rows: changes.count) { put in try diff.csv(changes, put: put) }
        step("changes.csv written")
        let target = try WhatIfExplain.Target(changes, reform: rs, explain: explain, dir: dir)
        let summary = try summarized.value()
        step("summary (beside)")
        try dir.write("summary.csv", Array(WhatIfChanges.summaryCSV(summary).utf8), rows: summary.count)
        let report = WhatIfReport.html(
            reform: reform, runDate: runDate, rules: rs, base: base, summary: summary, changes: changes,
            before: before.mapValues(\.count), after: after.mapValues(\.count), match: m,
            afterEntries: diff.pushList.flatMap { after[$0.id] } ?? [])
        try dir.write("report.html", Array(report.utf8), rows: 1)
        let added = changes.rows.reduce(0) { $0 + ($1.change == .added ? 1 : 0) }
        let removed = changes.rows.reduce(0) { $0 + ($1.change == .removed ? 1 : 0) }
        handedOver = true
        return Pending(
            outcome: Outcome(
                reform: reform.name, path: dir.finalPath, added: added, removed: removed,
                changed: changes.count - added - removed, totals: summary.filter { $0.district == nil }),
            dir: dir, target: target, reform: reform, ruleDigest: rs.digest, baseDigest: base.digest,
            runDate: runDate, lists: written)
    }

    /// The reforms' changes explained together, then each one's manifest.json
    /// written and its folder published, in order.
    static func explainAndPublish(_ pending: [Pending], explain: WhatIfExplain, console: Console) throws -> [Outcome] {
        let t0 = FileIO.now(), c0 = FileIO.cpuSeconds()
        let what = pending.count == 1 ? pending[0].reform.name : "\(pending.count) reforms"
        console.stageStarted("explain \(what)")
        try explain.lines(pending.map(\.target))
        let lines = pending.reduce(0) { $0 + $1.target.rows.count }
        console.stageEnded(
            "explain \(what)", wall: FileIO.now() - t0, cpu: FileIO.cpuSeconds() - c0, peakRSS: FileIO.peakRSS(),
            summary: "\(grouped(lines)) changes explained"
                + String(format: " (CPU %.2f s)", FileIO.cpuSeconds() - c0))
        return try pending.map { p in
            let o = p.outcome
            let manifest = JSON.object([
                ("kind", .string("whatif")),
                ("schema_version", .int(PFPVersion.schema)),
                ("run_date", .string(p.runDate.description)),
                ("pipeline_version", .string(PFPVersion.pipeline)),
                ("base_rule_digest", .string(p.baseDigest)),
                (
                    "reform",
                    .object([
                        ("name", .string(p.reform.name)), ("label", .string(p.reform.label)),
                        ("file", .string((p.reform.path as NSString).lastPathComponent)),
                        ("sha256", .string(p.reform.digest)), ("rule_digest", .string(p.ruleDigest)),
                    ])
                ),
                (
                    "changes",
                    .object([("added", .int(o.added)), ("removed", .int(o.removed)), ("changed", .int(o.changed))])
                ),
                ("counts", try p.lists.value()),
                (
                    "outputs",
                    .array(
                        p.dir.files.sorted { $0.name < $1.name }.map { f in
                            .object([
                                ("file", .string(f.name)), ("rows", .int(f.rows)), ("sha256", .string(f.sha256)),
                            ])
                        })
                ),
            ])
            try p.dir.write("manifest.json", Array((manifest.serialized(pretty: true) + "\n").utf8), rows: 1)
            try p.dir.publish()
            console.detail("    published: \(p.dir.finalPath)")
            return o
        }
    }
}

/// What a what-if reads of a stored night, once for every reform: the ingest
/// result, the published entries, the previous run's state, the stored profiles
/// (when a reform of numbers needs them) and the evaluators' shared lookups. The
/// state and the profiles are read on a thread of their own (a connection of
/// its own) while the ingest result and the entries are read, and the lookups
/// are made beside the entries (with several reforms, the outreach events found
/// per household too, once for all).
struct StoredNight {
    let data: IngestResult
    let published: MatchResult
    let previous: RunState?
    var profiles: HouseholdProfiles?
    let shared: MatchStage.Shared

    init(
        _ run: StoredRun, base: RuleSet, previousDate: CivilDate?, profiles readProfiles: Bool, reforms: Int,
        step: (String) -> Void
    ) throws {
        final class Beside: @unchecked Sendable {
            var previous: RunState?
            var profiles: HouseholdProfiles?
            var shared: MatchStage.Shared?
            var error: Error?
        }
        let beside = Beside()
        let group = DispatchGroup()
        let dbPath = run.resolved.dbPath, runDate = run.resolved.runDate
        DispatchQueue.global().async(group: group) {
            do {
                let store = try StageStore(db: Database(path: dbPath))
                beside.previous = try previousDate.flatMap { try RunState.load(from: store, runDate: $0) }
                if readProfiles { beside.profiles = try HouseholdProfiles.load(from: store, runDate: runDate) }
            } catch {
                beside.error = error
            }
        }
        // Nothing returns (or throws) while a thread of its own still reads.
        defer { group.wait() }
        let data = try IngestResult.load(from: run.store, runDate: runDate)
        step("stored ingest result loaded")
        DispatchQueue.global().async(group: group) {
            // The person lookup and the tags' presence read most of the ingest
            // result's columns once: their pages go as they are done with.
            beside.shared = MatchStage.Shared(data: data, outreachOnce: reforms > 1) { data.dropResidentPages() }
        }
        published = try MatchResult.loadEntries(
            from: run.store, runDate: runDate, rules: base, householdIDs: data.householdIDs)
        step("published entries loaded")
        group.wait()
        if let e = beside.error { throw e }
        self.data = data
        previous = beside.previous
        profiles = beside.profiles
        shared = beside.shared!
        step("previous run's state, stored profiles, person lookup and tag presence (beside)")
    }
}

/// The wall and CPU time since the last mark, with the peak memory, told with
/// `--verbose`.
final class Laps {
    let console: Console
    var wall = FileIO.now(), cpu = FileIO.cpuSeconds()
    init(_ console: Console) { self.console = console }
    /// The resident memory now, and how much of it is pages of files (stored
    /// results read in place: let go between phases), in MiB.
    static func resident() -> (all: Int, files: Int) {
        let kb = FileIO.memoryStatus(["VmRSS:", "RssFile:"])
        return ((kb[0] ?? 0) >> 10, (kb[1] ?? 0) >> 10)
    }

    func mark(_ what: String) {
        let t = FileIO.now(), c = FileIO.cpuSeconds(), now = Laps.resident()
        console.detail(
            String(
                format: "    %@: %.2f s (CPU %.2f s), peak %d MiB, now %d MiB (%d of files)", what, t - wall, c - cpu,
                FileIO.peakRSS() >> 20, now.all, now.files))
        (wall, cpu) = (t, c)
    }
}
