import Foundation
import PFPCore
import PFPIngest

/// One night's job: ingest the delivery, persist each stage's result, publish
/// the run directory atomically and record the run in the registry.
public final class NightlyRun {
    public let options: RunOptions
    public let console: Console

    public init(options: RunOptions, console: Console) {
        self.options = options
        self.console = console
    }

    public struct Summary {
        public var runDate: CivilDate
        public var published: String
        public var reports: [FeedReport]
        public var households: Int
        public var people: Int
        public var rejects: Int
        public var seconds: Double
    }

    /// Runs the job; throws a `PipelineError` that says what the operator can do.
    @discardableResult
    public func run() throws -> Summary {
        let started = FileIO.now()
        let startedAt = RunRegistry.timestamp()
        let r = try ResolvedRun(options)
        let (catalogue, _) = try r.config.loadCatalogue()
        let db = try Database(path: r.dbPath)
        let registry = try RunRegistry(db: db)
        let store = try StageStore(db: db)
        try registry.start(runDate: r.runDate, version: PFPVersion.pipeline, inbox: r.inbox, threads: Parallel.threads)
        console.info("pfp \(PFPVersion.pipeline): run \(r.runDate), inbox \(r.inbox), \(Parallel.threads) threads")
        do {
            // Stage 1: ingest.
            let t0 = FileIO.now(), c0 = FileIO.cpuSeconds()
            console.info("[ingest]")
            let outcome = try IngestStage(config: r.config, catalogue: catalogue, console: console)
                .run(inbox: r.inbox, runDate: r.runDate, allowMissing: r.allowMissing)
            let tSave = FileIO.now()
            try outcome.result.save(to: store)
            try record(outcome, registry: registry, db: db, runDate: r.runDate)
            console.detail("    stored in the database: \(String(format: "%.2f", FileIO.now() - tSave)) s")
            try registry.recordStage(runDate: r.runDate, stage: "ingest", wall: FileIO.now() - t0, cpu: FileIO.cpuSeconds() - c0, peakRSS: FileIO.peakRSS())

            // Publication.
            console.info("[emit]")
            let dir = try RunDirectory(root: r.outRoot, runDate: r.runDate)
            do {
                try writeRejects(outcome, to: dir)
                let manifest = manifestJSON(r: r, outcome: outcome, dir: dir, startedAt: startedAt, catalogue: catalogue)
                try dir.write("manifest.json", Array((manifest.serialized(pretty: true) + "\n").utf8), rows: 1)
                try dir.publish()
            } catch {
                dir.abandon()
                throw error
            }
            let summaryJSON = JSON.object([
                ("households", .int(outcome.result.livingHouseholdCount)),
                ("people", .int(outcome.result.member.reduce(0) { $0 + Int($1) })),
                ("rejects", .int(outcome.rejects.count)),
            ])
            try registry.finish(runDate: r.runDate, status: "succeeded", summary: summaryJSON.serialized())
            let s = Summary(runDate: r.runDate, published: dir.finalPath, reports: outcome.reports,
                            households: outcome.result.livingHouseholdCount,
                            people: outcome.result.member.reduce(0) { $0 + Int($1) },
                            rejects: outcome.rejects.count, seconds: FileIO.now() - started)
            printSummary(s)
            return s
        } catch let e as PipelineError {
            try? registry.finish(runDate: r.runDate, status: e.kind == .badInput ? "refused" : "failed", message: e.message)
            throw e
        } catch {
            try? registry.finish(runDate: r.runDate, status: "failed", message: String(describing: error))
            throw error
        }
    }

    /// Feed digests, counts and every reject go to the registry.
    func record(_ o: IngestOutcome, registry: RunRegistry, db: Database, runDate: CivilDate) throws {
        let d = SQLValue.text(runDate.description)
        try db.transaction {
            for rep in o.reports {
                try db.execute("""
                    INSERT OR REPLACE INTO run_feeds(run_date, feed, required, status, file, as_of, sha256, bytes, rows_read, accepted, rejected, conflicts, message)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [d, .text(rep.feed), .int(rep.required ? 1 : 0), .text(rep.status.rawValue),
                          rep.file.map { .text($0) } ?? .null, rep.asOf.map { .text($0.description) } ?? .null,
                          rep.sha256.map { .text($0) } ?? .null, .int(Int64(rep.bytes)), .int(Int64(rep.rowsRead)),
                          .int(Int64(rep.accepted)), .int(Int64(rep.rejected)), .int(Int64(rep.conflicts)),
                          rep.message.map { .text($0) } ?? .null])
                for (reason, n) in rep.rejectCounts {
                    try db.execute("INSERT OR REPLACE INTO run_reject_counts(run_date, feed, reason, count) VALUES (?, ?, ?, ?)",
                                   [d, .text(rep.feed), .text(reason.code), .int(Int64(n))])
                }
            }
            let ins = try db.statement("INSERT INTO run_rejects(run_date, feed, line, reason) VALUES (?, ?, ?, ?)")
            for (feed, rej) in o.rejects {
                try ins.execute([d, .text(feed), .int(Int64(rej.line)), .text(rej.reason.code)])
            }
        }
    }

    func writeRejects(_ o: IngestOutcome, to dir: RunDirectory) throws {
        let w = try FileIO.Writer(path: dir.path("rejects.csv"))
        try w.write("feed,line,reason\n")
        var line: [UInt8] = []
        for (feed, rej) in o.rejects {
            line.removeAll(keepingCapacity: true)
            line.append(contentsOf: feed.utf8)
            line.append(44)
            line.append(contentsOf: String(rej.line).utf8)
            line.append(44)
            line.append(contentsOf: rej.reason.code.utf8)
            line.append(10)
            try w.write(line)
        }
        let sha = try w.finish()
        dir.add(name: "rejects.csv", rows: o.rejects.count, sha256: sha, bytes: w.bytesWritten)
    }

    func manifestJSON(r: ResolvedRun, outcome: IngestOutcome, dir: RunDirectory, startedAt: String, catalogue: TagCatalogue) -> JSON {
        let inputs: [JSON] = outcome.reports.map { rep in
            var pairs: [(String, JSON)] = [
                ("feed", .string(rep.feed)),
                ("required", .bool(rep.required)),
                ("status", .string(rep.status.rawValue)),
                ("file", rep.file.map { .string($0) } ?? .null),
                ("as_of", rep.asOf.map { .string($0.description) } ?? .null),
                ("sha256", rep.sha256.map { .string($0) } ?? .null),
                ("rows_read", .int(rep.rowsRead)),
                ("accepted", .int(rep.accepted)),
                ("rejected", .int(rep.rejected)),
                ("conflicts", .int(rep.conflicts)),
            ]
            pairs.append(("rejects_by_reason", .object(rep.rejectCounts.sorted { $0.key < $1.key }.map { ($0.key.code, .int($0.value)) })))
            return .object(pairs)
        }
        let outputs: [JSON] = dir.files.sorted { $0.name < $1.name }.map { f in
            .object([("file", .string(f.name)), ("rows", .int(f.rows)), ("sha256", .string(f.sha256)), ("bytes", .int(f.bytes))])
        }
        return .object([
            ("schema_version", .int(PFPVersion.schema)),
            ("run_date", .string(r.runDate.description)),
            ("started_at", .string(startedAt)),
            ("ended_at", .string(RunRegistry.timestamp())),
            ("pipeline_version", .string(PFPVersion.pipeline)),
            ("inputs", .array(inputs)),
            ("allowed_missing", .array(r.allowMissing.sorted().map { .string($0) })),
            ("outputs", .array(outputs)),
        ])
    }

    func printSummary(_ s: Summary) {
        console.info("")
        console.info("run \(s.runDate) succeeded in \(String(format: "%.2f", s.seconds)) s: \(grouped(s.households)) households, \(grouped(s.people)) people")
        func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, n - s.count))
            return right ? fill + s : s + fill
        }
        console.info("  " + pad("feed", 13) + pad("status", 16) + pad("rows", 10, right: true) + pad("accepted", 10, right: true) + pad("rejected", 10, right: true))
        for rep in s.reports {
            console.info("  " + pad(rep.feed, 13) + pad(rep.status.rawValue, 16) + pad(grouped(rep.rowsRead), 10, right: true)
                         + pad(grouped(rep.accepted), 10, right: true) + pad(grouped(rep.rejected), 10, right: true))
            for (reason, n) in rep.rejectCounts.sorted(by: { $0.key < $1.key }) {
                console.info("      \(reason.code): \(n)")
            }
        }
        console.info("published: \(s.published)")
    }
}
