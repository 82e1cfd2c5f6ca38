import Foundation

/// The run registry: one row per run date (a rerun replaces it), with status,
/// timings, feed digests and counts, so `pfp runs` and later runs can read them.
/// Every query of the registry's tables is here; their schema is `Schema`'s.
public final class RunRegistry {
    public let db: Database

    public init(db: Database) throws {
        self.db = db
        try Schema.migrate(db)
    }

    /// Now, in UTC; or the time SOURCE_DATE_EPOCH gives (the reproducible-builds
    /// convention), so that whole published directories can be compared byte for byte.
    public static func timestamp() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        if let e = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], let secs = Double(e) {
            return f.string(from: Date(timeIntervalSince1970: secs))
        }
        return f.string(from: Date())
    }

    public func start(runDate: CivilDate, version: String, inbox: String, threads: Int) throws {
        let d = SQLValue.text(runDate.description)
        try db.transaction {
            try deleteRows(d)
            try db.execute(
                "INSERT INTO runs(run_date, status, started_at, pipeline_version, inbox, threads) VALUES (?, ?, "
                    + "?, ?, ?, ?)",
                [
                    d, .text(RunStatus.running.rawValue), .text(RunRegistry.timestamp()), .text(version), .text(inbox),
                    .int(Int64(threads)),
                ])
        }
    }

    /// A rerun of later stages of a recorded run: back to running.
    public func resume(runDate: CivilDate) throws {
        var exists = false
        try db.query("SELECT 1 FROM runs WHERE run_date = ?", [.text(runDate.description)]) { _ in exists = true }
        guard exists else {
            throw PipelineError.badInput(
                stage: "ingest", "no run recorded for \(runDate)",
                hint: "run 'pfp run --run-date \(runDate)' (or 'pfp stage ingest') first")
        }
        try db.execute(
            "UPDATE runs SET status = ?, ended_at = NULL, message = NULL WHERE run_date = ?",
            [.text(RunStatus.running.rawValue), .text(runDate.description)])
    }

    public func finish(runDate: CivilDate, status: RunStatus, message: String? = nil, summary: String? = nil) throws {
        try db.execute(
            "UPDATE runs SET status = ?, ended_at = ?, message = ?, summary = COALESCE(?, summary) WHERE run_date = ?",
            [
                .text(status.rawValue), .text(RunRegistry.timestamp()), message.map { .text($0) } ?? .null,
                summary.map { .text($0) } ?? .null, .text(runDate.description),
            ])
    }

    /// The shard this database's runs belong to (index, count); nil when none was recorded.
    public func shard() throws -> (index: Int, count: Int)? {
        var out: (Int, Int)?
        try db.query("SELECT shard_index, shard_count FROM shard_setting WHERE id = 1") {
            out = (Int($0.int(0)), Int($0.int(1)))
        }
        return out
    }

    /// Records the shard this database's runs belong to (once: later runs are checked against it).
    public func recordShard(index: Int, count: Int) throws {
        try db.execute(
            "INSERT OR REPLACE INTO shard_setting(id, shard_index, shard_count, recorded_at) VALUES (1, ?, ?, ?)",
            [.int(Int64(index)), .int(Int64(count)), .text(RunRegistry.timestamp())])
    }

    /// The split (`pfp shard`) a run's delivery was cut in; nil for a whole delivery.
    public func shardSplit(runDate: CivilDate) throws -> String? {
        var out: String?
        try db.query("SELECT shard_split FROM runs WHERE run_date = ?", [.text(runDate.description)]) {
            out = $0.optionalText(0)
        }
        return out
    }

    public func setShardSplit(runDate: CivilDate, split: String?) throws {
        try db.execute(
            "UPDATE runs SET shard_split = ? WHERE run_date = ?",
            [split.map { .text($0) } ?? .null, .text(runDate.description)])
    }

    /// Whether any run of this database succeeded.
    public func hasSucceededRuns() throws -> Bool {
        var found = false
        try db.query("SELECT 1 FROM runs WHERE status = 'succeeded' LIMIT 1") { _ in found = true }
        return found
    }

    public func setRuleDigest(runDate: CivilDate, digest: String) throws {
        try db.execute(
            "UPDATE runs SET rule_digest = ? WHERE run_date = ?", [.text(digest), .text(runDate.description)])
    }

    /// A recorded run's status and rule digest; nil when the date has no run.
    public func run(_ runDate: CivilDate) throws -> (status: RunStatus, ruleDigest: String?)? {
        var out: (RunStatus, String?)?
        try db.query("SELECT status, rule_digest FROM runs WHERE run_date = ?", [.text(runDate.description)]) {
            out = (RunStatus(rawValue: $0.text(0)) ?? .failed, $0.optionalText(1))
        }
        return out
    }

    public func recordStage(runDate: CivilDate, stage: String, wall: Double, cpu: Double, peakRSS: Int) throws {
        try db.execute(
            "INSERT OR REPLACE INTO run_stages(run_date, stage, wall_s, cpu_s, peak_rss) VALUES (?, ?, ?, ?, ?)",
            [.text(runDate.description), .text(stage), .real(wall), .real(cpu), .int(Int64(peakRSS))])
    }

    public struct RunInfo: Sendable {
        public var runDate: String
        public var status: RunStatus
        public var startedAt: String
        public var endedAt: String?
        public var summary: String?
        public var message: String?
    }

    public func list() throws -> [RunInfo] {
        var out: [RunInfo] = []
        try db.query("SELECT run_date, status, started_at, ended_at, summary, message FROM runs ORDER BY run_date") {
            r in
            out.append(
                RunInfo(
                    runDate: r.text(0), status: RunStatus(rawValue: r.text(1)) ?? .failed, startedAt: r.text(2),
                    endedAt: r.optionalText(3),
                    summary: r.optionalText(4), message: r.optionalText(5)))
        }
        return out
    }

    /// The latest successful run with a date before `date`.
    public func previousSuccessful(before date: CivilDate) throws -> CivilDate? {
        var out: CivilDate?
        try db.query(
            "SELECT run_date FROM runs WHERE status = ? AND run_date < ? ORDER BY run_date DESC LIMIT 1",
            [.text(RunStatus.succeeded.rawValue), .text(date.description)]
        ) { out = CivilDate.parse($0.text(0)) }
        return out
    }

    /// Rows read of each feed's latest accepted delivery in a successful run before `date`.
    public func previousAcceptedRows(before date: CivilDate) throws -> [String: Int] {
        var out: [String: Int] = [:]
        try db.query(
            """
            SELECT f.feed, f.rows_read FROM run_feeds f JOIN runs r ON r.run_date = f.run_date
            WHERE r.status = ? AND f.status = 'ok' AND f.run_date < ? ORDER BY f.run_date
            """, [.text(RunStatus.succeeded.rawValue), .text(date.description)]
        ) { out[$0.text(0)] = Int($0.int(1)) }
        return out
    }

    /// A recorded run's summary (households, people, rejects, counts), nil before it ends.
    public func summary(runDate: CivilDate) throws -> [String: Any]? {
        var text: String?
        try db.query("SELECT summary FROM runs WHERE run_date = ?", [.text(runDate.description)]) {
            text = $0.optionalText(0)
        }
        return text.flatMap { JSON.parseObject(Array($0.utf8)) }
    }

    /// Entries per list of a recorded run (from its summary).
    public func listCounts(runDate: CivilDate) throws -> [String: Int]? {
        guard let obj = try summary(runDate: runDate), let counts = obj["counts"] as? [String: Any] else { return nil }
        var out: [String: Int] = [:]
        for (k, v) in counts { if let o = v as? [String: Any], let n = o["total"] as? Int { out[k] = n } }
        return out
    }

    public func stageTimings(runDate: CivilDate) throws -> [(stage: String, wall: Double, cpu: Double, rss: Int)] {
        var out: [(String, Double, Double, Int)] = []
        try db.query(
            "SELECT stage, wall_s, cpu_s, peak_rss FROM run_stages WHERE run_date = ? ORDER BY rowid",
            [.text(runDate.description)]
        ) { r in
            out.append((r.text(0), r.double(1), r.double(2), Int(r.int(3))))
        }
        return out
    }

    // MARK: Feeds and rejects of a run

    /// One feed of a run as the registry keeps it (the ingest stage's report).
    public struct FeedRecord: Sendable, Equatable {
        public var feed: String
        public var required: Bool
        /// ok, missing, stale, broken or allowed_missing.
        public var status: String
        public var file: String?
        public var asOf: CivilDate?
        public var sha256: String?
        public var bytes = 0, rowsRead = 0, accepted = 0, rejected = 0, conflicts = 0
        public var message: String?
        /// Rejected rows by reason code.
        public var rejectCounts: [String: Int] = [:]

        public init(feed: String, required: Bool, status: String) {
            self.feed = feed
            self.required = required
            self.status = status
        }
    }

    /// A rejected row: its feed, line and reason code.
    public typealias RejectRecord = (feed: String, line: Int, reason: String)

    /// Records a run's feeds and every rejected row, in one transaction.
    public func record<S: Sequence>(runDate: CivilDate, feeds: [FeedRecord], rejects: S) throws
    where S.Element == RejectRecord {
        let d = SQLValue.text(runDate.description)
        try db.transaction {
            for f in feeds {
                try db.execute(
                    """
                    INSERT OR REPLACE INTO run_feeds(run_date, feed, required, status, file, as_of, sha256, bytes,
                                                     rows_read, accepted, rejected, conflicts, message)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        d, .text(f.feed), .int(f.required ? 1 : 0), .text(f.status), f.file.map { .text($0) } ?? .null,
                        f.asOf.map { .text($0.description) } ?? .null, f.sha256.map { .text($0) } ?? .null,
                        .int(Int64(f.bytes)), .int(Int64(f.rowsRead)), .int(Int64(f.accepted)), .int(Int64(f.rejected)),
                        .int(Int64(f.conflicts)), f.message.map { .text($0) } ?? .null,
                    ])
                for (reason, n) in f.rejectCounts.sorted(by: { $0.key < $1.key }) {
                    try db.execute(
                        "INSERT OR REPLACE INTO run_reject_counts(run_date, feed, reason, count) VALUES (?, ?, ?, ?)",
                        [d, .text(f.feed), .text(reason), .int(Int64(n))])
                }
            }
            let insert = try db.statement("INSERT INTO run_rejects(run_date, feed, line, reason) VALUES (?, ?, ?, ?)")
            for r in rejects { try insert.execute([d, .text(r.feed), .int(Int64(r.line)), .text(r.reason)]) }
        }
    }

    /// A run's feeds in the order they were recorded, with their reject counts.
    public func feeds(runDate: CivilDate) throws -> [FeedRecord] {
        let d = SQLValue.text(runDate.description)
        var out: [FeedRecord] = []
        try db.query(
            """
            SELECT feed, required, status, file, as_of, sha256, bytes, rows_read, accepted, rejected, conflicts, message
            FROM run_feeds WHERE run_date = ? ORDER BY rowid
            """, [d]
        ) { row in
            var f = FeedRecord(feed: row.text(0), required: row.int(1) != 0, status: row.text(2))
            f.file = row.optionalText(3)
            f.asOf = row.optionalText(4).flatMap(CivilDate.parse)
            f.sha256 = row.optionalText(5)
            f.bytes = Int(row.int(6)); f.rowsRead = Int(row.int(7)); f.accepted = Int(row.int(8))
            f.rejected = Int(row.int(9)); f.conflicts = Int(row.int(10)); f.message = row.optionalText(11)
            out.append(f)
        }
        var counts: [String: [String: Int]] = [:]
        try db.query("SELECT feed, reason, count FROM run_reject_counts WHERE run_date = ?", [d]) { row in
            counts[row.text(0), default: [:]][row.text(1)] = Int(row.int(2))
        }
        for i in out.indices { out[i].rejectCounts = counts[out[i].feed] ?? [:] }
        return out
    }

    /// The feeds of the last `runs` runs on or before `date` that recorded any, oldest
    /// first: the report's data-quality trends.
    public func feedHistory(upTo date: CivilDate, runs: Int) throws -> [(runDate: CivilDate, feeds: [FeedRecord])] {
        var dates: [CivilDate] = []
        try db.query(
            "SELECT DISTINCT run_date FROM run_feeds WHERE run_date <= ? ORDER BY run_date DESC LIMIT ?",
            [.text(date.description), .int(Int64(runs))]
        ) { if let d = CivilDate.parse($0.text(0)) { dates.append(d) } }
        return try dates.reversed().map { ($0, try feeds(runDate: $0)) }
    }

    /// A run's rejected rows in the order they were recorded.
    public func rejects(runDate: CivilDate) throws -> [RejectRecord] {
        var out: [RejectRecord] = []
        try db.query(
            "SELECT feed, line, reason FROM run_rejects WHERE run_date = ? ORDER BY rowid", [.text(runDate.description)]
        ) { row in
            out.append((row.text(0), Int(row.int(1)), row.text(2)))
        }
        return out
    }

    /// Rows read and bytes of every feed of a run.
    public func inputVolume(runDate: CivilDate) throws -> (rows: Int, bytes: Int) {
        var out = (rows: 0, bytes: 0)
        try db.query(
            "SELECT SUM(rows_read), SUM(bytes) FROM run_feeds WHERE run_date = ?", [.text(runDate.description)]
        ) {
            out = (Int($0.int(0)), Int($0.int(1)))
        }
        return out
    }

    // MARK: Purging

    /// Run dates recorded before a date.
    public func runDates(before date: CivilDate) throws -> [CivilDate] {
        var out: [CivilDate] = []
        try db.query("SELECT run_date FROM runs WHERE run_date < ? ORDER BY run_date", [.text(date.description)]) {
            if let d = CivilDate.parse($0.text(0)) { out.append(d) }
        }
        return out
    }

    /// Deletes every registry row of a run date.
    public func delete(runDate: CivilDate) throws {
        let d = SQLValue.text(runDate.description)
        try db.transaction {
            try deleteRows(d)
        }
    }

    /// The registry's tables, each keyed by run date.
    static let tables = ["runs", "run_feeds", "run_reject_counts", "run_rejects", "run_stages"]

    private func deleteRows(_ d: SQLValue) throws {
        for table in RunRegistry.tables { try db.execute("DELETE FROM \(table) WHERE run_date = ?", [d]) }
    }

    /// Gives the space of deleted rows back to the file system.
    public func compact() throws {
        try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try db.execute("VACUUM")
    }
}
