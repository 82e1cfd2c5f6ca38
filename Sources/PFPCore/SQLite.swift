import CSQLite
import Foundation

/// A failure from SQLite: the result code, SQLite's message and the SQL text.
/// Arguments are never included: they may be personal data.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    public var code: Int32
    public var message: String
    public var sql: String?
    public var description: String {
        "SQLite error \(code): \(message)" + (sql.map { " (in: \($0))" } ?? "")
    }
}

/// A value bound to or read from a statement.
public enum SQLValue: Sendable, Equatable {
    case null
    case int(Int64)
    case text(String)
    case blob([UInt8])
    case real(Double)
}

let SQLITE_TRANSIENT_PTR = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A prepared statement. Finalized when the value goes away.
public final class Statement {
    let handle: OpaquePointer
    public let sql: String
    unowned let db: Database

    /// Prepares one statement; SQL after it (a second statement) is refused, as
    /// GRDB does: only `Database.execute(_:)` runs scripts.
    init(db: Database, sql: String) throws {
        var h: OpaquePointer?
        var trailing = false
        let rc = sql.withCString { text -> Int32 in
            var tail: UnsafePointer<CChar>?
            let rc = sqlite3_prepare_v2(db.handle, text, -1, &h, &tail)
            if rc == SQLITE_OK, let tail {
                // What follows may only be blanks and comments: preparing it gives no statement.
                var next: OpaquePointer?
                if sqlite3_prepare_v2(db.handle, tail, -1, &next, nil) != SQLITE_OK || next != nil { trailing = true }
                sqlite3_finalize(next)
            }
            return rc
        }
        guard rc == SQLITE_OK, let h else { throw db.error(rc, sql: sql) }
        if trailing {
            sqlite3_finalize(h)
            throw SQLiteError(
                code: SQLITE_MISUSE, message: "more than one statement: a prepared statement is one statement", sql: sql
            )
        }
        self.handle = h
        self.sql = sql
        self.db = db
    }

    deinit { sqlite3_finalize(handle) }

    /// The number of `?` arguments the statement takes.
    public var argumentCount: Int { Int(sqlite3_bind_parameter_count(handle)) }

    /// Binds every argument at once; their number must be the statement's.
    public func bind(_ values: [SQLValue]) throws {
        guard values.count == argumentCount else {
            throw SQLiteError(
                code: SQLITE_RANGE, message: "the statement takes \(argumentCount) arguments, \(values.count) given",
                sql: sql)
        }
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (i, v) in values.enumerated() { try bind(v, at: Int32(i + 1)) }
    }

    func bind(_ v: SQLValue, at i: Int32) throws {
        let rc: Int32
        switch v {
        case .null: rc = sqlite3_bind_null(handle, i)
        case .int(let x): rc = sqlite3_bind_int64(handle, i, x)
        case .real(let x): rc = sqlite3_bind_double(handle, i, x)
        case .text(let s): rc = sqlite3_bind_text(handle, i, s, -1, SQLITE_TRANSIENT_PTR)
        case .blob(let b):
            rc = b.withUnsafeBytes {
                sqlite3_bind_blob64(
                    handle, i, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), sqlite3_uint64($0.count),
                    SQLITE_TRANSIENT_PTR)
            }
        }
        if rc != SQLITE_OK { throw db.error(rc, sql: sql) }
    }

    /// Runs a statement that returns no rows.
    public func execute(_ values: [SQLValue] = []) throws {
        try bind(values)
        try stepToEnd()
    }

    func stepToEnd() throws {
        while true {
            let rc = sqlite3_step(handle)
            switch rc {
            case SQLITE_DONE: sqlite3_reset(handle); return
            case SQLITE_ROW: continue
            default:
                sqlite3_reset(handle)
                throw db.error(rc, sql: sql)
            }
        }
    }

    /// Runs a query and calls `row` for every result row.
    public func query(_ values: [SQLValue] = [], _ row: (Row) throws -> Void) throws {
        try bind(values)
        defer { sqlite3_reset(handle) }
        while true {
            let rc = sqlite3_step(handle)
            switch rc {
            case SQLITE_ROW: try row(Row(handle: handle))
            case SQLITE_DONE: return
            default: throw db.error(rc, sql: sql)
            }
        }
    }
}

/// A result row; columns are read by index.
public struct Row {
    let handle: OpaquePointer
    public func int(_ i: Int32) -> Int64 { sqlite3_column_int64(handle, i) }
    public func double(_ i: Int32) -> Double { sqlite3_column_double(handle, i) }
    public func isNull(_ i: Int32) -> Bool { sqlite3_column_type(handle, i) == SQLITE_NULL }
    public func text(_ i: Int32) -> String {
        guard let p = sqlite3_column_text(handle, i) else { return "" }
        return String(cString: p)
    }
    public func optionalText(_ i: Int32) -> String? { isNull(i) ? nil : text(i) }
    public func blob(_ i: Int32) -> [UInt8] {
        let n = Int(sqlite3_column_bytes(handle, i))
        guard n > 0, let p = sqlite3_column_blob(handle, i) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }
    /// Calls `body` with the blob's bytes without copying them.
    public func withBlob<T>(_ i: Int32, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        let p = sqlite3_column_blob(handle, i)
        let n = Int(sqlite3_column_bytes(handle, i))
        return try body(UnsafeRawBufferPointer(start: p, count: p == nil ? 0 : n))
    }
}

/// One connection to the pipeline's database: WAL, owner-only file, typed errors.
public final class Database {
    let handle: OpaquePointer
    public let path: String
    private var cache: [String: Statement] = [:]

    /// Opens (creating if needed) the database. A new file is created mode 0600
    /// whatever the umask.
    public init(path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileIO.makeDirectory(dir) }
        if !FileManager.default.fileExists(atPath: path) {
            let fd = open(path, O_CREAT | O_WRONLY, 0o600)
            if fd < 0 {
                throw PipelineError.failure(
                    "cannot create the database \(path): \(String(cString: strerror(errno)))",
                    hint: "check that the directory exists and is writable")
            }
            close(fd)
        }
        chmod(path, 0o600)
        var h: OpaquePointer?
        let rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let h else {
            let msg = h.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let h { sqlite3_close(h) }
            throw SQLiteError(code: rc, message: msg, sql: nil)
        }
        self.handle = h
        self.path = path
        sqlite3_busy_timeout(h, 5000)
        // Large pages suit the stage results (big blobs); only takes effect on a new file.
        try execute("PRAGMA page_size=65536")
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=NORMAL")
        try execute("PRAGMA foreign_keys=ON")
        // WAL and shared-memory files get the database file's mode from SQLite itself.
    }

    deinit {
        cache.removeAll()
        sqlite3_close_v2(handle)
    }

    func error(_ rc: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// Runs one or more statements without arguments (schema, pragmas).
    public func execute(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let msg = err.map { String(cString: $0) } ?? "error"
            sqlite3_free(err)
            throw SQLiteError(code: rc, message: msg, sql: sql)
        }
    }

    /// A prepared statement, cached by its SQL text for reuse.
    public func statement(_ sql: String) throws -> Statement {
        if let s = cache[sql] { return s }
        let s = try Statement(db: self, sql: sql)
        cache[sql] = s
        return s
    }

    public func execute(_ sql: String, _ values: [SQLValue]) throws {
        try statement(sql).execute(values)
    }

    public func query(_ sql: String, _ values: [SQLValue] = [], _ row: (Row) throws -> Void) throws {
        try statement(sql).query(values, row)
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    public func integrityCheck() throws -> String {
        var out: [String] = []
        try query("PRAGMA integrity_check") { out.append($0.text(0)) }
        return out.joined(separator: "; ")
    }
}
