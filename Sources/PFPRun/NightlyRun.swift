import Foundation
import PFPCore
import PFPSchema
import PFPIngest
import PFPRules
import PFPProfile
import PFPMatch
import PFPEmit

/// The stages of a run, in order.
package enum Stage: String, CaseIterable, Comparable, Sendable {
    case ingest, profile, match, emit
    package static func < (a: Stage, b: Stage) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
}

/// One night's job: ingest, profile, match, emit. Each stage persists its result
/// in the database, so an analyst can rerun one stage from the one before.
package final class NightlyRun {
    package let options: RunOptions
    package let console: Console

    package init(options: RunOptions, console: Console) {
        self.options = options
        self.console = console
    }

    package struct Summary {
        package var runDate: CivilDate
        package var published: String?
        package var reports: [FeedReport]
        package var households: Int
        package var people: Int
        package var rejects: Int
        package var counts: JSON?
        package var skipped: [(id: String, reason: String)]
        package var seconds: Double
        package var stageSeconds: [(Stage, Double)]
    }

    /// Runs the stages from `from` to `to`; throws a `PipelineError` that says what to do.
    /// Whatever the outcome (but another run holding the lock), `pfp.prom` is written
    /// when a metrics directory is configured.
    @discardableResult
    package func run(from: Stage = .ingest, to: Stage = .emit) throws -> Summary {
        let started = FileIO.now()
        var resolved: ResolvedRun?
        var registry: RunRegistry?
        do {
            let r = try ResolvedRun(options)
            resolved = r
            registry = try RunRegistry(db: try Database(path: r.dbPath))
            let summary = try run(r, registry: registry!, from: from, to: to, started: started)
            writeMetrics(
                r.metricsDir, runDate: r.runDate, status: to == .emit ? .succeeded : .partial, exitCode: 0,
                started: started, registry: registry, counts: summary.counts)
            return summary
        } catch {
            let e = error as? PipelineError
            if e?.kind != .busy {
                writeMetrics(
                    resolved?.metricsDir ?? options.metricsDir, runDate: resolved?.runDate ?? options.runDate,
                    status: e?.kind == .badInput ? .refused : .failed,
                    exitCode: e?.exitCode.rawValue ?? ExitCode.failure.rawValue, started: started, registry: registry,
                    counts: nil)
            }
            throw error
        }
    }

    private func run(
        _ r: ResolvedRun, registry: RunRegistry, from: Stage, to: Stage, started: Double
    ) throws
        -> Summary
    {
        let (catalogue, policyCatalogue) = try r.config.loadCatalogue()
        let lock = try RunLock.acquire(dbPath: r.dbPath, outRoot: r.outRoot)
        defer { lock.release() }
        let session = try RunSession(run: self, resolved: r, registry: registry, store: StageStore(db: registry.db))
        if from == .ingest {
            try registry.start(
                runDate: r.runDate, version: PFPVersion.pipeline, inbox: r.inbox, threads: Parallel.threads)
        } else {
            try registry.resume(runDate: r.runDate)
        }
        console.info(
            "pfp \(PFPVersion.pipeline): run \(r.runDate) (\(from.rawValue) to \(to.rawValue)), "
                + "\(Parallel.threads) threads"
        )
        console.event(
            "run_start",
            [
                ("run_date", .string(r.runDate.description)), ("from", .string(from.rawValue)),
                ("to", .string(to.rawValue)), ("threads", .int(Parallel.threads)),
                ("version", .string(PFPVersion.pipeline)),
            ])
        defer { session.abandonStoring() }
        do {
            if from <= .ingest && to >= .ingest {
                try session.ingest(catalogue: catalogue, policyCatalogue: policyCatalogue, storeNow: to < .profile)
            } else {
                try session.loadIngestRecords()
            }
            let rules = try session.loadRules(catalogue: catalogue, policyCatalogue: policyCatalogue)
            if from <= .profile && to >= .profile { try session.profile(rules: rules, storeNow: to < .match) }
            if from <= .match && to >= .match { try session.match(rules: rules, storeNow: to < .emit) }
            if from <= .emit && to >= .emit { try session.emit(rules: rules) }
            var summary = session.summary
            summary.seconds = FileIO.now() - started
            let summaryJSON = JSON.object([
                ("households", .int(summary.households)), ("people", .int(summary.people)),
                ("rejects", .int(summary.rejects)), ("counts", summary.counts ?? .null),
            ])
            let status: RunStatus = to == .emit ? .succeeded : .partial
            try registry.finish(runDate: r.runDate, status: status, summary: summaryJSON.serialized())
            if console.format == .text { printSummary(summary) }
            console.event(
                "run_end",
                [
                    ("run_date", .string(r.runDate.description)), ("status", .string(status.rawValue)),
                    ("wall_s", .measured(summary.seconds)), ("households", .int(summary.households)),
                    ("people", .int(summary.people)), ("rejected_rows", .int(summary.rejects)),
                    ("lists", summary.counts.map(NightlyRun.listTotals) ?? .null),
                    ("published", summary.published.map { .string($0) } ?? .null),
                ])
            return summary
        } catch let e as PipelineError {
            try? registry.finish(
                runDate: r.runDate, status: e.kind == .badInput ? .refused : .failed, message: e.message)
            throw e
        } catch {
            try? registry.finish(runDate: r.runDate, status: .failed, message: String(describing: error))
            throw error
        }
    }

    /// Each list's total, from the manifest's counts.
    static func listTotals(_ counts: JSON) -> JSON {
        guard case .object(let lists) = counts else { return .null }
        return .object(lists.compactMap { id, v in v["total"].map { (id, $0) } })
    }

    /// pfp.prom for the run, when a directory is configured; a failure to write it is a warning.
    func writeMetrics(
        _ dir: String?, runDate: CivilDate?, status: RunStatus, exitCode: Int32, started: Double,
        registry: RunRegistry?, counts: JSON?
    ) {
        guard let dir else { return }
        var m = RunMetrics(runDate: runDate, status: status, exitCode: exitCode, seconds: FileIO.now() - started)
        if let registry { m.read(registry) }
        m.counts = counts
        do {
            try m.write(to: dir)
            console.detail("metrics written to \((dir as NSString).appendingPathComponent("pfp.prom"))")
        } catch {
            console.warn("the metrics file was not written: \(error)")
        }
    }

    /// Feed digests, counts and every reject go to the registry.
    func record(_ o: IngestOutcome, registry: RunRegistry, runDate: CivilDate) throws {
        try registry.record(
            runDate: runDate, feeds: o.reports.map(\.record),
            rejects: o.rejects.lazy.map { (feed: $0.feed, line: Int($0.reject.line), reason: $0.reject.reason.code) })
    }

    func loadReports(registry: RunRegistry, runDate: CivilDate) throws -> [FeedReport] {
        let out = try registry.feeds(runDate: runDate).map(FeedReport.init(record:))
        guard !out.isEmpty else {
            throw PipelineError.badInput(
                stage: "profile", "no ingest recorded for \(runDate)",
                hint: "run 'pfp stage ingest --run-date \(runDate)' first")
        }
        return out
    }

    func printSummary(_ s: Summary) {
        func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, n - s.count))
            return right ? fill + s : s + fill
        }
        console.info("")
        console.info(
            "run \(s.runDate) done in \(String(format: "%.2f", s.seconds)) s: \(grouped(s.households)) "
                + "households, \(grouped(s.people)) people, \(grouped(s.rejects)) rejected rows"
        )
        if !s.reports.isEmpty {
            console.info(
                "  " + pad("feed", 13) + pad("status", 16) + pad("rows", 11, right: true)
                    + pad("accepted", 11, right: true) + pad("rejected", 9, right: true) + "  reasons")
            for rep in s.reports {
                let reasons = rep.rejectCounts.sorted { $0.key < $1.key }.map { "\($0.key.code) \($0.value)" }.joined(
                    separator: ", ")
                console.info(
                    "  " + pad(rep.feed, 13) + pad(rep.status.rawValue, 16)
                        + pad(grouped(rep.rowsRead), 11, right: true)
                        + pad(grouped(rep.accepted), 11, right: true) + pad(grouped(rep.rejected), 9, right: true)
                        + "  " + reasons)
            }
        }
        if let counts = s.counts, case .object(let lists) = counts {
            let parts = lists.map { (id, v) -> String in
                if case .some(.int(let n)) = v["total"] { return "\(id) \(grouped(Int(n)))" }
                return id
            }
            console.info("  lists: " + parts.joined(separator: ", "))
        }
        for (id, why) in s.skipped { console.info("  skipped policy \(id): \(why)") }
        if let p = s.published { console.info("published: \(p)") }
    }
}

/// One run's stages and what they hand each other: the results kept in memory
/// for the next stage, the stage result being stored on a thread of its own,
/// and the summary so far.
final class RunSession {
    let run: NightlyRun
    let r: ResolvedRun
    let registry: RunRegistry
    let store: StageStore
    var console: Console { run.console }
    let startedAt = RunRegistry.timestamp()
    var summary: NightlyRun.Summary

    var ingestResult: IngestResult?
    var reports: [FeedReport] = []
    var rejects: [(feed: String, line: Int, reason: String)] = []
    var profiles: HouseholdProfiles?
    var match: MatchResult?
    /// A stage's result file is written on a thread of its own, beside the next
    /// stage when that stage follows in this process (it takes the result in
    /// memory), and registered once the next stage's own work is done (at once
    /// when none follows; for the match, right before emit publishes); waited
    /// for on any error too.
    var storing: (stage: String, files: Background<[StageStore.Written]>)?

    init(run: NightlyRun, resolved: ResolvedRun, registry: RunRegistry, store: StageStore) {
        self.run = run
        r = resolved
        self.registry = registry
        self.store = store
        summary = NightlyRun.Summary(
            runDate: resolved.runDate, published: nil, reports: [], households: 0, people: 0, rejects: 0,
            counts: nil, skipped: [], seconds: 0, stageSeconds: [])
    }

    /// Runs a stage's body, recording its wall and CPU time and peak memory;
    /// `line` gives the stage's one line for the operator.
    func timed<T>(_ stage: Stage, line: (T) -> String, _ body: () throws -> T) throws -> T {
        console.stageStarted(stage.rawValue)
        FileIO.resetPeakRSS()
        let t0 = FileIO.now(), c0 = FileIO.cpuSeconds()
        let v = try body()
        let wall = FileIO.now() - t0, cpu = FileIO.cpuSeconds() - c0, rss = FileIO.peakRSS()
        try registry.recordStage(runDate: r.runDate, stage: stage.rawValue, wall: wall, cpu: cpu, peakRSS: rss)
        summary.stageSeconds.append((stage, wall))
        console.stageEnded(stage.rawValue, wall: wall, cpu: cpu, peakRSS: rss, summary: line(v))
        return v
    }

    /// Waits for the stage result being stored, then registers its files.
    func finishStoring(beside next: String?) throws {
        guard let (stage, files) = storing else { return }
        let t = FileIO.now()
        storing = nil
        for w in try files.value() { try store.register(w) }
        console.detail(
            String(
                format: "    %@ result stored%@ (waited %.2f s)", stage, next.map { " beside the " + $0 } ?? "",
                FileIO.now() - t))
        FaultPoint.hit("\(stage).stored")
    }

    /// After a failure: the storing thread is waited for, its files not registered.
    func abandonStoring() { _ = try? storing?.files.value() }

    /// `blobs`: each stage's items, in the order they are written; made on the
    /// storing thread from what the closure captures (the results, alive until
    /// they are written).
    func storeBeside(_ stage: String, _ blobs: @escaping () -> [(stage: String, blobs: BlobWriter)]) {
        nonisolated(unsafe) let blobs = blobs, files = store
        let date = r.runDate
        storing = (
            stage,
            Background("pfp-store-\(stage)") {
                try blobs().map { try files.write(runDate: date, stage: $0.stage, blobs: $0.blobs) }
            }
        )
    }

    func ingest(catalogue: TagCatalogue, policyCatalogue: PolicyCatalogue, storeNow: Bool) throws {
        let outcome = try timed(.ingest, line: RunSession.ingestLine) { () -> IngestOutcome in
            for f in run.options.allowDrift where r.config.feed(f) == nil {
                throw PipelineError.usage(
                    "--allow-drift \(f): no such feed; feeds are \(r.config.feeds.map(\.name).joined(separator: ", "))"
                )
            }
            let plan = try ShardPlan.read(inbox: r.inbox)
            try checkShard(plan)
            try registry.setShardSplit(runDate: r.runDate, split: plan?.split)
            let previousRows = try registry.previousAcceptedRows(before: r.runDate)
            var o = try IngestStage(config: r.config, catalogue: catalogue, policies: policyCatalogue, console: console)
                .run(
                    inbox: r.inbox, runDate: r.runDate, allowMissing: r.allowMissing,
                    previousRows: previousRows, allowDrift: run.options.allowDrift)
            try plan?.apply(to: &o)
            FaultPoint.hit("ingest.before_store")
            let result = o.result
            storeBeside(IngestResult.stage) { [(IngestResult.stage, result.blobs())] }
            try run.record(o, registry: registry, runDate: r.runDate)
            if storeNow { try finishStoring(beside: nil) }
            return o
        }
        ingestResult = outcome.result
        reports = outcome.reports
        for rep in reports { console.event("feed", RunSession.feedFields(rep), level: rep.used ? "info" : "warning") }
        rejects = outcome.rejects.map { ($0.feed, Int($0.reject.line), $0.reject.reason.code) }
        summary.reports = reports
        summary.rejects = rejects.count
    }

    /// A shard's delivery (`pfp shard`) is run with its own database, for the
    /// run date it was cut for, with the same pfp and --allow-missing; a database
    /// keeps the shard it was first run with (its state is that shard's households).
    func checkShard(_ plan: ShardPlan?) throws {
        let recorded = try registry.shard()
        guard let plan else {
            if let recorded {
                throw PipelineError.badInput(
                    stage: "ingest", location: r.inbox,
                    "this database holds the runs of shard \(recorded.index) of \(recorded.count), and this inbox is "
                        + "not a shard's delivery",
                    hint: "run the whole delivery with a database of its own (--db), or cut it with 'pfp shard "
                        + "--shards \(recorded.count)' and run shard \(recorded.index) here")
            }
            return
        }
        func refuse(_ message: String, _ hint: String) -> PipelineError {
            .badInput(stage: "ingest", location: r.inbox, "shard delivery: " + message, hint: hint)
        }
        guard plan.runDate == r.runDate else {
            throw refuse(
                "shard \(plan.index) of \(plan.count) was cut for \(plan.runDate), not \(r.runDate)",
                "run it with --run-date \(plan.runDate), or cut the delivery of \(r.runDate)")
        }
        guard plan.pipelineVersion == PFPVersion.pipeline else {
            throw refuse(
                "cut by pfp \(plan.pipelineVersion), run by pfp \(PFPVersion.pipeline)",
                "cut the shards again with this pfp, so both judge the rows alike")
        }
        guard Set(plan.allowedMissing) == r.allowMissing else {
            let cut = plan.allowedMissing.isEmpty ? "none" : plan.allowedMissing.joined(separator: ", ")
            throw refuse(
                "the shards were cut with --allow-missing \(cut); this run allows \(r.allowMissing.sorted())",
                "run every shard with the --allow-missing of the cut")
        }
        if let recorded {
            guard recorded.count == plan.count, recorded.index == plan.index else {
                throw refuse(
                    "this database holds the runs of shard \(recorded.index) of \(recorded.count); this inbox is "
                        + "shard \(plan.index) of \(plan.count)",
                    "a database keeps its shard and shard count (its warnings compare with that shard's households): "
                        + "run shard \(plan.index) of \(plan.count) with its own database (--db), or cut the delivery "
                        + "into \(recorded.count) shards again")
            }
        } else {
            if try registry.hasSucceededRuns() {
                throw refuse(
                    "this database holds runs of a whole delivery; shard \(plan.index) of \(plan.count) needs its own",
                    "give each shard a database of its own (--db)")
            }
            try registry.recordShard(index: plan.index, count: plan.count)
        }
    }

    /// The ingest stage's line: feeds, rows, households.
    static func ingestLine(_ o: IngestOutcome) -> String {
        let rows = o.reports.reduce(0) { $0 + $1.rowsRead }, accepted = o.reports.reduce(0) { $0 + $1.accepted }
        let used = o.reports.filter(\.used).count
        return "\(used) of \(o.reports.count) feeds used, \(grouped(rows)) rows read, \(grouped(accepted)) accepted, "
            + "\(grouped(o.rejects.count)) rejected; \(grouped(o.result.livingHouseholdCount)) households"
    }

    /// A feed's figures for the JSON log.
    static func feedFields(_ rep: FeedReport) -> [(String, JSON)] {
        var f: [(String, JSON)] = [
            ("feed", .string(rep.feed)), ("status", .string(rep.status.rawValue)), ("required", .bool(rep.required)),
        ]
        if let a = rep.asOf { f.append(("as_of", .string(a.description))) }
        f += rep.counts
        if let m = rep.message { f.append(("message", .string(m))) }
        return f
    }

    /// A run from a later stage: the feeds and rejects its ingest recorded.
    func loadIngestRecords() throws {
        reports = try run.loadReports(registry: registry, runDate: r.runDate)
        rejects = try registry.rejects(runDate: r.runDate)
        summary.reports = reports
        summary.rejects = rejects.count
    }

    /// The rules of the run date, with the policies that read a feed allowed to be missing skipped.
    func loadRules(catalogue: TagCatalogue, policyCatalogue: PolicyCatalogue) throws -> RuleSet {
        let unavailable = Set(reports.filter { $0.required && $0.status == .allowedMissing }.map(\.feed))
        let rules = try RuleSet.load(
            directory: r.config.resolve(r.config.rulesPath), catalogue: catalogue, policyCatalogue: policyCatalogue,
            runDate: r.runDate, unavailableFeeds: unavailable,
            extraDigestFiles: [r.config.resolve(r.config.tagsPath), r.config.resolve(r.config.policiesPath)])
        summary.skipped = rules.skippedPolicies
        for (id, why) in rules.skippedPolicies { console.warn("policy \(id) is skipped on this run: \(why)") }
        // outreach.md: a cooling-off parameter with no value refuses a run that uses the outreach feed.
        if let feed = r.config.outreachFeed, reports.contains(where: { $0.feed == feed.name && $0.used }),
            let problem = rules.outreach.problem
        {
            throw PipelineError.badInput(
                stage: "match", feed: feed.name, "the outreach feed is used, but \(problem)",
                hint: "add the values to Pipelines/rules/outreach.rules, or run with the feed left out of the inbox")
        }
        try registry.setRuleDigest(runDate: r.runDate, digest: rules.digest)
        return rules
    }

    func profile(rules: RuleSet, storeNow: Bool) throws {
        var line = ""
        profiles = try timed(.profile, line: { _ in line }) {
            let data = try ingestResult ?? IngestResult.load(from: store, runDate: r.runDate)
            ingestResult = data
            let t0 = FileIO.now()
            let p = try ProfileStage().run(data: data, rules: rules, console: console)
            console.detail(String(format: "    values computed in %.2f s", FileIO.now() - t0))
            try finishStoring(beside: "profile")
            FaultPoint.hit("profile.before_store")
            storeBeside(HouseholdProfiles.stage) { [(HouseholdProfiles.stage, p.blobs())] }
            if storeNow { try finishStoring(beside: nil) }
            line = "\(grouped(data.livingHouseholdCount)) household profiles, \(rules.values.count) values each"
            return p
        }
    }

    func match(rules: RuleSet, storeNow: Bool) throws {
        match = try timed(.match, line: { "\(grouped($0.entries.count)) list entries" }) {
            let t0 = FileIO.now()
            let m = try evaluate(rules: rules)
            try finishStoring(beside: "match")
            FileIO.releaseFreeMemory()
            console.detail(String(format: "    evaluated in %.2f s", FileIO.now() - t0))
            FaultPoint.hit("match.evaluated")
            FaultPoint.hit("match.before_store")
            // The next run's state and the match result, written beside emit.
            storeBeside(MatchResult.stage) {
                [(RunState.stage, m.state.blobs()), (MatchResult.stage, m.blobs())]
            }
            if storeNow { try finishStoring(beside: nil) }
            return m
        }
    }

    /// The match stage proper. The ingest result and the profiles are let go as
    /// soon as every household is evaluated (no later stage reads them): the
    /// stored results are written without them in memory (peak RSS at city scale).
    private func evaluate(rules: RuleSet) throws -> MatchResult {
        let data = try ingestResult ?? IngestResult.load(from: store, runDate: r.runDate)
        let prof = try profiles ?? HouseholdProfiles.load(from: store, runDate: r.runDate)
        ingestResult = nil
        profiles = nil
        guard prof.ruleDigest == rules.digest else {
            throw PipelineError.badInput(
                stage: "match",
                "the rule files changed since the profiles of \(r.runDate) were computed",
                hint: "run 'pfp run --from profile --run-date \(r.runDate)' to recompute them")
        }
        let prevDate = try registry.previousSuccessful(before: r.runDate)
        let previous = try prevDate.flatMap { try RunState.load(from: store, runDate: $0) }
        if let prevDate {
            console.progress("previous run: \(prevDate)\(previous == nil ? " (no state kept)" : "")")
        }
        return try MatchStage().run(
            data: data, rules: rules, profiles: HouseholdProfilesView(prof, rules: rules),
            previous: previous,
            explainPath: store.sidePath(runDate: r.runDate, name: "explain.jsonl"), console: console)
    }

    func emit(rules: RuleSet) throws {
        let m = try match ?? MatchResult.load(from: store, runDate: r.runDate)
        var inputs = EmitStage.Inputs(
            runDate: r.runDate, outRoot: r.outRoot, rules: rules, match: m, feeds: reports, rejects: rejects,
            allowedMissing: r.allowMissing.sorted(), startedAt: startedAt,
            pipelineVersion: PFPVersion.pipeline, schemaVersion: PFPVersion.schema)
        if let prev = try registry.previousSuccessful(before: r.runDate) {
            inputs.previousDate = prev.description
            inputs.previousCounts = try registry.listCounts(runDate: prev)
        }
        inputs.feedHistory = try registry.feedHistory(upTo: r.runDate, runs: Feedback.trendRuns)
        if let (index, count) = try registry.shard() {
            inputs.shard = .object([
                ("index", .int(index)), ("count", .int(count)),
                ("split", try registry.shardSplit(runDate: r.runDate).map { .string($0) } ?? .null),
            ])
        }
        inputs.beforePublish = { try self.finishStoring(beside: "emit") }
        let (path, counts) = try timed(.emit, line: { "published \($0.path)" }) {
            try EmitStage().run(inputs, console: console)
        }
        summary.published = path
        summary.counts = counts
        summary.households = m.households
        summary.people = m.people
    }
}
