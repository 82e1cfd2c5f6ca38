import Foundation
import PFPCore
import PFPSchema
import PFPFormats
import PFPIngest
import PFPRules
import PFPMatch

/// The emit stage: writes the lists, explanations, rejects and manifest into a
/// staging directory and publishes it whole (outputs.md).
package struct EmitStage {
    package struct Inputs {
        package var runDate: CivilDate
        package var outRoot: String
        package var rules: RuleSet
        package var match: MatchResult
        package var feeds: [FeedReport]
        package var rejects: [(feed: String, line: Int, reason: String)]
        package var allowedMissing: [String]
        package var startedAt: String
        package var pipelineVersion: String
        package var schemaVersion: Int
        /// Entries per list of the previous successful run, for the report's changes.
        package var previousCounts: [String: Int]? = nil
        package var previousDate: String? = nil
        /// The feeds of the last runs (this one included), for the data-quality trends.
        package var feedHistory: Feedback.History = []
        /// Called once everything is written, right before the run is published
        /// (the nightly run registers the match result stored beside this stage).
        package var beforePublish: () throws -> Void = {}
        /// A shard's run (`pfp shard`): the manifest's `shard` object; figures.json is published beside.
        package var shard: JSON? = nil
        package init(
            runDate: CivilDate, outRoot: String, rules: RuleSet, match: MatchResult, feeds: [FeedReport],
            rejects: [(feed: String, line: Int, reason: String)], allowedMissing: [String], startedAt: String,
            pipelineVersion: String, schemaVersion: Int
        ) {
            self.runDate = runDate; self.outRoot = outRoot; self.rules = rules; self.match = match; self.feeds = feeds
            self.rejects = rejects; self.allowedMissing = allowedMissing; self.startedAt = startedAt
            self.pipelineVersion = pipelineVersion; self.schemaVersion = schemaVersion
        }
    }

    package init() {}

    /// Publishes the run; returns the published directory and the manifest's counts.
    @discardableResult
    package func run(_ x: Inputs, console: Console) throws -> (path: String, counts: JSON) {
        let dir = try RunDirectory(root: x.outRoot, runDate: x.runDate)
        // explain.jsonl: one explanation per entry, lists in rule order. Written once by
        // the match stage and linked here (copied when the link cannot be made), then
        // synced: on a thread of its own while the lists are written, as the sync
        // mostly waits for the disk (gigabytes at city scale).
        guard let explainSource = x.match.explainPath, FileIO.exists(explainSource) else {
            dir.abandon()
            throw PipelineError.failure(
                stage: "emit", location: x.match.explainPath ?? "explain.jsonl",
                "the explanations of the match stage are gone",
                hint: "rerun 'pfp run --from match --run-date \(x.runDate)'")
        }
        let explainTarget = dir.path("explain.jsonl")
        let explainLinked = Background("pfp-explain-sync") { try RunDirectory.linkOrCopy(explainSource, explainTarget) }
        do {
            let byList = EmitStage.byList(x.match)
            let (report, figures) = try writeLists(x, byList: byList, into: dir)
            FaultPoint.hit("emit.lists_written")
            try explainLinked.value()
            dir.add(
                name: "explain.jsonl", rows: x.match.explainRows, sha256: x.match.explainSHA,
                bytes: x.match.explainBytes)
            try writeRejects(x.rejects, into: dir)
            try Feedback.write(
                feeds: x.feeds, rejects: x.rejects, history: x.feedHistory, runDate: x.runDate, into: dir)
            try dir.write("report.html", Array(report.utf8), rows: 1)
            if x.shard != nil {
                try dir.write(
                    RunFigures.fileName, Array((figures.json.serialized(pretty: true) + "\n").utf8), rows: 1)
            }
            let counts = figures.counts(x.rules)
            let manifest = EmitStage.manifest(x, dir: dir, counts: counts)
            try dir.write("manifest.json", Array((manifest.serialized(pretty: true) + "\n").utf8), rows: 1)
            try x.beforePublish()
            try dir.publish()
            FaultPoint.hit("emit.published")
            return (dir.finalPath, counts)
        } catch {
            _ = try? explainLinked.value()
            dir.abandon()
            throw error
        }
    }

    /// One CSV per list, list by list: its rows formatted in parallel pieces, then
    /// written in order (the digest needs the order) on a thread of its own while
    /// the next list's rows are formatted; the figures and the report are made
    /// beside the first list's pieces and returned.
    /// `report: false` makes the figures' counts only (a what-if draws its own report).
    /// `copy`: rows formatted before, copied where an entry is the one formatted (a
    /// what-if's reforms). `metered: false` leaves the progress line to other work.
    package func writeLists(
        _ x: Inputs, byList: [String: ArraySlice<PublishedEntry>], into dir: RunDirectory,
        report makesReport: Bool = true, copy: FormattedLists? = nil, metered: Bool = true
    ) throws -> (report: String, figures: RunFigures) {
        let lists = x.rules.lists
        var report = ""
        var figures = RunFigures()
        let makeReport = {
            figures = RunFigures(
                rules: x.rules, match: x.match, byList: byList, rejects: x.rejects.count, countsOnly: !makesReport)
            guard makesReport else { return }
            report = RunReport.html(
                runDate: x.runDate, rules: x.rules, figures: figures, previousCounts: x.previousCounts,
                previousDate: x.previousDate,
                dataQuality: Feedback.section(feeds: x.feeds, history: x.feedHistory, runDate: x.runDate))
        }
        let pieceRows = 16_384, group = 4
        if metered { Meter.shared.start("writing lists", unit: "entries", total: x.match.entries.count) }
        let policyFields = x.match.policyIDs.map { CSVText.field($0) }
        // Each list is formatted a group of pieces at a time on every core, and the
        // groups are written in order by one serial queue (its first error kept)
        // while the next ones are formatted: at most two groups wait in memory.
        final class Written: @unchecked Sendable { var error: Error? }
        let writer = DispatchQueue(label: "pfp.emit.lists"), written = Written()
        let waiting = DispatchSemaphore(value: 2)
        defer { writer.sync {} }
        var reportMade = false
        let copy = copy.flatMap { $0.fits(x.match) ? $0 : nil }
        for l in lists {
            let entries = byList[l.id] ?? []
            let copied = copy.flatMap { c in c.list(l).map { (c, $0) } }
            let pieces = max(1, (entries.count + pieceRows - 1) / pieceRows)
            let file = ListFile(
                dir: dir, name: "\(l.id).csv",
                header: (l.keyColumns + l.columns.map(\.rawValue)).joined(separator: ",") + "\n",
                rows: entries.count)
            for first in stride(from: 0, to: pieces, by: group) {
                let count = min(group, pieces - first)
                let extra = reportMade ? 0 : 1
                reportMade = true
                var text = [ByteWriter?](repeating: nil, count: count)
                text.withUnsafeMutableBufferPointer { out in
                    Parallel.forEach(count + extra) { i in
                        if i == count { makeReport(); return }
                        let k = first + i
                        let lo = entries.startIndex + k * pieceRows, hi = min(entries.endIndex, lo + pieceRows)
                        // Room for long rows: memory not written to is never touched.
                        let bytes = ByteWriter(capacity: max(64, (hi - lo) * 192))
                        if let (rows, formatted) = copied {
                            rows.rows(entries, lo..<hi, of: formatted, into: bytes) { e in
                                EmitStage.row(e, x.match, list: l, policies: policyFields, into: bytes)
                            }
                        } else {
                            for e in entries[lo..<hi] {
                                EmitStage.row(e, x.match, list: l, policies: policyFields, into: bytes)
                            }
                        }
                        out[i] = bytes
                        if metered { Meter.shared.add(hi - lo) }
                    }
                }
                let made = Pieces(text.map { $0! }), last = first + count >= pieces
                // The formatted rows read for these pieces: their pages go (the page cache keeps them).
                if copied != nil { copy?.dropResidentPages() }
                waiting.wait()
                writer.async {
                    defer { waiting.signal() }
                    guard written.error == nil else { return }
                    do {
                        try file.write(made.pieces)
                        if last { try file.finish() }
                    } catch {
                        written.error = error
                    }
                }
            }
        }
        writer.sync {}
        if let e = written.error { throw e }
        if !reportMade { makeReport() }
        return (report, figures)
    }

    /// Formatted pieces handed to the writing thread (not touched again here).
    final class Pieces: @unchecked Sendable {
        let pieces: [ByteWriter]
        init(_ p: [ByteWriter]) { pieces = p }
    }

    /// A list's file, written a group of formatted pieces at a time by the thread
    /// that writes the files in order (opened with its first group).
    final class ListFile: @unchecked Sendable {
        let dir: RunDirectory, name: String, header: String, rows: Int
        private var out: FileIO.Writer?
        init(dir: RunDirectory, name: String, header: String, rows: Int) {
            self.dir = dir; self.name = name; self.header = header; self.rows = rows
        }
        /// The pieces' bytes from where they were made (no copy); the header first.
        func write(_ pieces: [ByteWriter]) throws {
            if out == nil {
                let w = try FileIO.Writer(path: dir.path(name))
                try w.write(header)
                out = w
            }
            for p in pieces { try out!.write(p.bytes) }
        }
        func finish() throws {
            guard let w = out else { return }
            dir.add(name: name, rows: rows, sha256: try w.finish(), bytes: w.bytesWritten)
            out = nil
        }
    }

    /// rejects.csv: every rejected row, sorted by feed then line (outputs.md).
    func writeRejects(_ rejects: [(feed: String, line: Int, reason: String)], into dir: RunDirectory) throws {
        let w = try FileIO.Writer(path: dir.path("rejects.csv"))
        try w.write("feed,line,reason\n")
        for r in rejects { try w.write("\(r.feed),\(r.line),\(r.reason)\n") }
        dir.add(name: "rejects.csv", rows: rejects.count, sha256: try w.finish(), bytes: w.bytesWritten)
    }

    /// One CSV row of `l` into `w`. `policies`: each policy's id as a field
    /// (`field`), made once per run.
    static func row(_ e: PublishedEntry, _ m: MatchResult, list l: ListInfo, policies: [[UInt8]], into w: ByteWriter) {
        func codes(_ e: PublishedEntry) { w.csvCodes(m.codes(e)) }
        w.csvField(m.householdID(e))
        if l.perPolicy {
            w.byte(UInt8(ascii: ","))
            if e.personKey != 0 { w.idDigits(e.personKey) }  // digits and X: nothing to quote
            w.byte(UInt8(ascii: ","))
            if e.policy >= 0 { policies[Int(e.policy)].withUnsafeBufferPointer { w.append($0) } }
        }
        for c in l.columns {
            w.byte(UInt8(ascii: ","))
            switch c {
            case .certainty:
                // words: nothing to quote
                PublishedEntry.certaintyUTF8[Int(e.certainty.rawValue)].withUnsafeBufferPointer { w.append($0) }
            case .amount: if e.amountValue != Int64.min { w.int(Int(e.amountValue)) }
            case .status: PublishedEntry.statusUTF8[Int(e.status.rawValue)].withUnsafeBufferPointer { w.append($0) }
            case .district: w.int(Int(e.district))
            case .street: w.int(Int(e.street))
            case .community: w.int(Int(e.community))
            case .unknownFacts: if e.certainty == .toVerify { codes(e) }
            case .failedCriteria, .reasons, .triggers: codes(e)
            case .lastOutcome, .outcome:
                if let o = Outcome(rawValue: e.outcome) {
                    PublishedEntry.outcomeUTF8[Int(o.rawValue)].withUnsafeBufferPointer { w.append($0) }
                }
            case .lastOutcomeDate, .outcomeDate:
                if e.outcome != PublishedEntry.noOutcome {
                    w.write(count: 10) { CivilDate(days: e.outcomeDate).writeText(to: $0) }
                }
            case .until: if e.until != 0 { w.write(count: 10) { CivilDate(days: e.until).writeText(to: $0) } }
            }
        }
        w.byte(UInt8(ascii: "\n"))
    }

    /// As `byList`, for entries known to be in list order (a match's, a what-if's
    /// merged result): each list's end found by halving, not by reading every entry.
    package static func byListInOrder(_ m: MatchResult) -> [String: ArraySlice<PublishedEntry>] {
        var out: [String: ArraySlice<PublishedEntry>] = [:]
        let entries = m.entries
        var start = 0
        for (l, id) in m.listIDs.enumerated() {
            let lo = entries[start...].firstIndex(ofListAfter: Int32(l))
            precondition(start == lo || entries[start].list == Int32(l), "entries not in list order")
            out[id] = entries[start..<lo]
            start = lo
        }
        precondition(start == entries.count, "entries of no list")
        return out
    }

    /// Each list's entries. The match stage gives them list by list, so each list is
    /// a slice (no copy); entries in another order are grouped.
    package static func byList(_ m: MatchResult) -> [String: ArraySlice<PublishedEntry>] {
        var out: [String: ArraySlice<PublishedEntry>] = [:]
        let entries = m.entries
        var i = 0
        for (l, id) in m.listIDs.enumerated() {
            let start = i
            while i < entries.count && entries[i].list == Int32(l) { i += 1 }
            out[id] = entries[start..<i]
        }
        if i == entries.count { return out }
        var grouped: [String: [PublishedEntry]] = [:]
        for e in entries { grouped[m.list(e), default: []].append(e) }
        return grouped.mapValues { $0[...] }
    }

    package static func manifest(_ x: Inputs, dir: RunDirectory, counts: JSON) -> JSON {
        manifest(
            schemaVersion: x.schemaVersion, runDate: x.runDate, startedAt: x.startedAt,
            pipelineVersion: x.pipelineVersion, rules: x.rules, feeds: x.feeds, allowedMissing: x.allowedMissing,
            households: x.match.households, people: x.match.people, counts: counts, dir: dir,
            extra: x.shard.map { [("shard", $0)] } ?? [])
    }

    /// manifest.json (outputs.md), field by field in its order; `extra` after the
    /// outputs (a shard's `shard`, a merged run's `shards`). The nightly run and
    /// `pfp merge` both write it here.
    package static func manifest(
        schemaVersion: Int, runDate: CivilDate, startedAt: String, pipelineVersion: String, rules: RuleSet,
        feeds: [FeedReport], allowedMissing: [String], households: Int, people: Int, counts: JSON,
        dir: RunDirectory, extra: [(String, JSON)] = []
    ) -> JSON {
        let outputs: [JSON] = dir.files.sorted { $0.name < $1.name }.map { f in
            .object([
                ("file", .string(f.name)), ("rows", .int(f.rows)), ("sha256", .string(f.sha256)),
                ("bytes", .int(f.bytes)),
            ])
        }
        let skipped: [JSON] = rules.skippedPolicies.map {
            .object([("policy", .string($0.id)), ("reason", .string($0.reason))])
        }
        return .object(
            [
                ("schema_version", .int(schemaVersion)),
                ("run_date", .string(runDate.description)),
                ("started_at", .string(startedAt)),
                ("ended_at", .string(RunRegistry.timestamp())),
                ("pipeline_version", .string(pipelineVersion)),
                ("rule_digest", .string(rules.digest)),
                ("rule_files", .array(rules.files.map { .string(($0 as NSString).lastPathComponent) })),
                ("inputs", .array(feeds.map { $0.json() })),
                ("allowed_missing", .array(allowedMissing.map { .string($0) })),
                ("skipped_policies", .array(skipped)),
                ("households", .int(households)),
                ("people", .int(people)),
                ("counts", counts),
                ("outputs", .array(outputs)),
            ] + extra)
    }
}
