import Foundation

/// The pipeline database's schema as numbered steps, each applied once, in order,
/// in its own transaction, and recorded in `schema_migrations` (the shape of
/// GRDB's `DatabaseMigrator`). A change to the schema is a new step at the end;
/// a step never changes once released.
public enum Schema {
    /// One step: its number, what it does in words, and its SQL.
    public struct Migration: Sendable {
        public let id: Int
        public let name: String
        let sql: String
    }

    public static let migrations: [Migration] = [
        Migration(
            id: 1, name: "run registry",
            sql: """
                CREATE TABLE runs(
                    run_date TEXT PRIMARY KEY,
                    status TEXT NOT NULL,              -- RunStatus: running, succeeded, partial, refused, failed
                    started_at TEXT NOT NULL,
                    ended_at TEXT,
                    pipeline_version TEXT NOT NULL,
                    rule_digest TEXT,
                    inbox TEXT,
                    threads INTEGER,
                    summary TEXT,                      -- JSON: counts per list and policy
                    message TEXT);
                CREATE TABLE run_feeds(
                    run_date TEXT NOT NULL, feed TEXT NOT NULL, required INTEGER NOT NULL, status TEXT NOT NULL,
                    file TEXT, as_of TEXT, sha256 TEXT, bytes INTEGER, rows_read INTEGER, accepted INTEGER,
                    rejected INTEGER, conflicts INTEGER, message TEXT,
                    PRIMARY KEY(run_date, feed));
                CREATE TABLE run_reject_counts(
                    run_date TEXT NOT NULL, feed TEXT NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL,
                    PRIMARY KEY(run_date, feed, reason));
                CREATE TABLE run_rejects(
                    run_date TEXT NOT NULL, feed TEXT NOT NULL, line INTEGER NOT NULL, reason TEXT NOT NULL);
                CREATE INDEX run_rejects_date ON run_rejects(run_date);
                CREATE TABLE run_stages(
                    run_date TEXT NOT NULL, stage TEXT NOT NULL, wall_s REAL, cpu_s REAL, peak_rss INTEGER,
                    PRIMARY KEY(run_date, stage));
                """),
        Migration(
            id: 2, name: "stage results",
            sql: """
                CREATE TABLE stage_result(
                    run_date TEXT NOT NULL, stage TEXT NOT NULL, file TEXT NOT NULL, bytes INTEGER NOT NULL,
                    sha256 TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY(run_date, stage));
                """),
        Migration(
            id: 3, name: "stage results checked with CRC-32C (older rows keep their sha256)",
            sql: """
                ALTER TABLE stage_result RENAME COLUMN sha256 TO checksum;
                """),
        Migration(
            id: 4, name: "the shard a database's runs belong to (pfp shard)",
            sql: """
                CREATE TABLE shard_setting(
                    id INTEGER PRIMARY KEY CHECK(id = 1), shard_index INTEGER NOT NULL, shard_count INTEGER NOT NULL,
                    recorded_at TEXT NOT NULL);
                ALTER TABLE runs ADD COLUMN shard_split TEXT;   -- the split a shard's delivery was cut in
                """),
    ]

    /// Brings the database to the last step, in one transaction. Safe to call on
    /// every open: when every step is applied, nothing is written or locked.
    public static func migrate(_ db: Database) throws {
        try db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations(id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at "
                + "TEXT NOT NULL)"
        )
        if try applied(db).count == migrations.count { return }
        try db.transaction {
            // Read again under the lock: another process may have migrated meanwhile.
            var done = try applied(db)
            if done.isEmpty { done = try adopt(db) }
            for m in migrations where !done.contains(m.id) {
                try db.execute(m.sql)
                try record(m, in: db)
            }
        }
    }

    /// The numbers of the steps recorded as applied.
    public static func applied(_ db: Database) throws -> Set<Int> {
        var ids: Set<Int> = []
        try db.query("SELECT id FROM schema_migrations") { ids.insert(Int($0.int(0))) }
        return ids
    }

    /// The steps a database already had before steps were recorded (pfp before
    /// numbered migrations created its tables as they were then): recorded as
    /// applied, read once from the tables it has. A new database has none.
    static func adopt(_ db: Database) throws -> Set<Int> {
        var tables: Set<String> = []
        try db.query("SELECT name FROM sqlite_master WHERE type = 'table'") { tables.insert($0.text(0)) }
        var had: [Int] = []
        if tables.contains("runs") { had.append(1) }
        if tables.contains("stage_result") {
            had.append(2)
            var columns: Set<String> = []
            try db.query("SELECT name FROM pragma_table_info('stage_result')") { columns.insert($0.text(0)) }
            if columns.contains("checksum") { had.append(3) }
        }
        if tables.contains("shard_setting") { had.append(4) }
        for id in had { try record(migrations[id - 1], in: db) }
        return Set(had)
    }

    private static func record(_ m: Migration, in db: Database) throws {
        try db.execute(
            "INSERT INTO schema_migrations(id, name, applied_at) VALUES (?, ?, ?)",
            [.int(Int64(m.id)), .text(m.name), .text(RunRegistry.timestamp())])
    }
}

/// What became of a run, as the registry records it.
public enum RunStatus: String, Sendable, CaseIterable {
    case running
    /// Every stage to emit done and published.
    case succeeded
    /// Some stages rerun (`pfp stage`), not up to publication.
    case partial
    /// The delivery or a rule file was refused (exit 65).
    case refused
    /// An internal failure: a full disk, a bug.
    case failed
}
