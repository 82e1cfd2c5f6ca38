import Foundation

/// Named arrays of plain values, written as blobs (a stage's persisted result).
public struct BlobWriter {
    public private(set) var items: [(name: String, bytes: [UInt8])] = []
    public init() {}

    public mutating func put<T: BitwiseCopyable>(_ name: String, _ array: [T]) {
        items.append((name, array.withUnsafeBytes { Array($0) }))
    }

    /// Strings joined with NUL (none of ours hold one).
    public mutating func putStrings(_ name: String, _ strings: [String]) {
        var out: [UInt8] = []
        for (i, s) in strings.enumerated() {
            if i > 0 { out.append(0) }
            out.append(contentsOf: s.utf8)
        }
        items.append((name, out))
    }
}

public struct BlobReader {
    var blobs: [String: [UInt8]]
    let runDate: CivilDate
    let stage: String

    public func get<T: BitwiseCopyable>(_ name: String) throws -> [T] {
        guard let b = blobs[name] else {
            throw PipelineError.failure(stage: stage, "the stored \(stage) result for \(runDate) has no '\(name)'",
                                        hint: "rerun 'pfp stage \(stage) --run-date \(runDate)'")
        }
        let n = b.count / MemoryLayout<T>.stride
        return [T](unsafeUninitializedCapacity: n) { buf, count in
            b.withUnsafeBytes { src in
                UnsafeMutableRawBufferPointer(buf).copyMemory(from: UnsafeRawBufferPointer(rebasing: src[0..<(n * MemoryLayout<T>.stride)]))
            }
            count = n
        }
    }

    public func strings(_ name: String) throws -> [String] {
        guard let b = blobs[name] else {
            throw PipelineError.failure(stage: stage, "the stored \(stage) result for \(runDate) has no '\(name)'")
        }
        if b.isEmpty { return [] }
        return b.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// Stage results kept in the database, keyed by run date and stage, so an analyst
/// can rerun one stage from the previous stage's result.
public final class StageStore {
    public let db: Database
    static let partSize = 256 << 20

    public init(db: Database) throws {
        self.db = db
        try db.execute("""
            CREATE TABLE IF NOT EXISTS stage_blob(
                run_date TEXT NOT NULL, stage TEXT NOT NULL, name TEXT NOT NULL, part INTEGER NOT NULL,
                data BLOB NOT NULL, PRIMARY KEY(run_date, stage, name, part));
            """)
    }

    /// Replaces a stage's stored result for a date, in one transaction.
    public func save(runDate: CivilDate, stage: String, blobs: BlobWriter) throws {
        try db.transaction {
            try db.execute("DELETE FROM stage_blob WHERE run_date = ? AND stage = ?", [.text(runDate.description), .text(stage)])
            let ins = try db.statement("INSERT INTO stage_blob(run_date, stage, name, part, data) VALUES (?, ?, ?, ?, ?)")
            for (name, bytes) in blobs.items {
                var part = 0
                var off = 0
                repeat {
                    let end = min(bytes.count, off + StageStore.partSize)
                    try ins.bind([.text(runDate.description), .text(stage), .text(name), .int(Int64(part))])
                    try bytes.withUnsafeBytes {
                        try ins.bindBlob(UnsafeRawBufferPointer(rebasing: $0[off..<end]), at: 5)
                        try ins.stepToEnd()   // inside: the blob is bound without a copy
                    }
                    part += 1
                    off = end
                } while off < bytes.count
            }
        }
    }

    public func load(runDate: CivilDate, stage: String) throws -> BlobReader? {
        var blobs: [String: [UInt8]] = [:]
        try db.query("SELECT name, data FROM stage_blob WHERE run_date = ? AND stage = ? ORDER BY name, part",
                     [.text(runDate.description), .text(stage)]) { row in
            let name = row.text(0)
            row.withBlob(1) { blobs[name, default: []].append(contentsOf: $0) }
        }
        return blobs.isEmpty ? nil : BlobReader(blobs: blobs, runDate: runDate, stage: stage)
    }

    public func delete(runDate: CivilDate, stage: String? = nil) throws {
        if let stage {
            try db.execute("DELETE FROM stage_blob WHERE run_date = ? AND stage = ?", [.text(runDate.description), .text(stage)])
        } else {
            try db.execute("DELETE FROM stage_blob WHERE run_date = ?", [.text(runDate.description)])
        }
    }
}
