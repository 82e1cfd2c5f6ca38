import Foundation

/// The run registry: one row per run date (a rerun replaces it), with status,
/// timings, feed digests and counts, so `pfp runs` and later runs can read them.
public final class RunRegistry {
    public let db: Database

    public init(db: Database) throws {
        self.db = db
        try db.execute("""
            CREATE TABLE IF NOT EXISTS runs(
                run_date TEXT PRIMARY KEY,
                status TEXT NOT NULL,              -- running, succeeded, refused, failed
                started_at TEXT NOT NULL,
                ended_at TEXT,
                pipeline_version TEXT NOT NULL,
                rule_digest TEXT,
                inbox TEXT,
                threads INTEGER,
                summary TEXT,                      -- JSON: counts per list and policy
                message TEXT);
            CREATE TABLE IF NOT EXISTS run_feeds(
                run_date TEXT NOT NULL, feed TEXT NOT NULL, required INTEGER NOT NULL, status TEXT NOT NULL,
                file TEXT, as_of TEXT, sha256 TEXT, bytes INTEGER, rows_read INTEGER, accepted INTEGER,
                rejected INTEGER, conflicts INTEGER, message TEXT,
                PRIMARY KEY(run_date, feed));
            CREATE TABLE IF NOT EXISTS run_reject_counts(
                run_date TEXT NOT NULL, feed TEXT NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL,
                PRIMARY KEY(run_date, feed, reason));
            CREATE TABLE IF NOT EXISTS run_rejects(
                run_date TEXT NOT NULL, feed TEXT NOT NULL, line INTEGER NOT NULL, reason TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS run_rejects_date ON run_rejects(run_date);
            CREATE TABLE IF NOT EXISTS run_stages(
                run_date TEXT NOT NULL, stage TEXT NOT NULL, wall_s REAL, cpu_s REAL, peak_rss INTEGER,
                PRIMARY KEY(run_date, stage));
            """)
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
            try db.execute("DELETE FROM runs WHERE run_date = ?", [d])
            try db.execute("DELETE FROM run_feeds WHERE run_date = ?", [d])
            try db.execute("DELETE FROM run_reject_counts WHERE run_date = ?", [d])
            try db.execute("DELETE FROM run_rejects WHERE run_date = ?", [d])
            try db.execute("DELETE FROM run_stages WHERE run_date = ?", [d])
            try db.execute("INSERT INTO runs(run_date, status, started_at, pipeline_version, inbox, threads) VALUES (?, 'running', ?, ?, ?, ?)",
                           [d, .text(RunRegistry.timestamp()), .text(version), .text(inbox), .int(Int64(threads))])
        }
    }

    /// A rerun of later stages of a recorded run: back to running.
    public func resume(runDate: CivilDate) throws {
        var exists = false
        try db.query("SELECT 1 FROM runs WHERE run_date = ?", [.text(runDate.description)]) { _ in exists = true }
        guard exists else {
            throw PipelineError.badInput(stage: "ingest", "no run recorded for \(runDate)", hint: "run 'pfp run --run-date \(runDate)' (or 'pfp stage ingest') first")
        }
        try db.execute("UPDATE runs SET status = 'running', ended_at = NULL, message = NULL WHERE run_date = ?", [.text(runDate.description)])
    }

    public func finish(runDate: CivilDate, status: String, message: String? = nil, summary: String? = nil) throws {
        try db.execute("UPDATE runs SET status = ?, ended_at = ?, message = ?, summary = COALESCE(?, summary) WHERE run_date = ?",
                       [.text(status), .text(RunRegistry.timestamp()), message.map { .text($0) } ?? .null,
                        summary.map { .text($0) } ?? .null, .text(runDate.description)])
    }

    public func setRuleDigest(runDate: CivilDate, digest: String) throws {
        try db.execute("UPDATE runs SET rule_digest = ? WHERE run_date = ?", [.text(digest), .text(runDate.description)])
    }

    public func recordStage(runDate: CivilDate, stage: String, wall: Double, cpu: Double, peakRSS: Int) throws {
        try db.execute("INSERT OR REPLACE INTO run_stages(run_date, stage, wall_s, cpu_s, peak_rss) VALUES (?, ?, ?, ?, ?)",
                       [.text(runDate.description), .text(stage), .real(wall), .real(cpu), .int(Int64(peakRSS))])
    }

    public struct RunInfo: Sendable {
        public var runDate: String
        public var status: String
        public var startedAt: String
        public var endedAt: String?
        public var summary: String?
        public var message: String?
    }

    public func list() throws -> [RunInfo] {
        var out: [RunInfo] = []
        try db.query("SELECT run_date, status, started_at, ended_at, summary, message FROM runs ORDER BY run_date") { r in
            out.append(RunInfo(runDate: r.text(0), status: r.text(1), startedAt: r.text(2), endedAt: r.optionalText(3),
                               summary: r.optionalText(4), message: r.optionalText(5)))
        }
        return out
    }

    /// The latest successful run with a date before `date`.
    public func previousSuccessful(before date: CivilDate) throws -> CivilDate? {
        var out: CivilDate?
        try db.query("SELECT run_date FROM runs WHERE status = 'succeeded' AND run_date < ? ORDER BY run_date DESC LIMIT 1",
                     [.text(date.description)]) { out = CivilDate.parse($0.text(0)) }
        return out
    }

    /// Rows read of each feed's latest accepted delivery in a successful run before `date`.
    public func previousAcceptedRows(before date: CivilDate) throws -> [String: Int] {
        var out: [String: Int] = [:]
        try db.query("""
            SELECT f.feed, f.rows_read FROM run_feeds f JOIN runs r ON r.run_date = f.run_date
            WHERE r.status = 'succeeded' AND f.status = 'ok' AND f.run_date < ? ORDER BY f.run_date
            """, [.text(date.description)]) { out[$0.text(0)] = Int($0.int(1)) }
        return out
    }

    /// A recorded run's summary (households, people, rejects, counts), nil before it ends.
    public func summary(runDate: CivilDate) throws -> [String: Any]? {
        var text: String?
        try db.query("SELECT summary FROM runs WHERE run_date = ?", [.text(runDate.description)]) { text = $0.optionalText(0) }
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
        try db.query("SELECT stage, wall_s, cpu_s, peak_rss FROM run_stages WHERE run_date = ? ORDER BY rowid", [.text(runDate.description)]) { r in
            out.append((r.text(0), r.double(1), r.double(2), Int(r.int(3))))
        }
        return out
    }
}
