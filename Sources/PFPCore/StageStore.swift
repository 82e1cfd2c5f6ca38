import Foundation

/// Named arrays of plain values, written as one stage result.
public struct BlobWriter {
    /// One named item: its size and a way to reach its bytes (handed over in one
    /// piece or more, in order). The arrays given are
    /// kept as they are (shared, not copied) until the result is written.
    public struct Item {
        public let name: String
        public let count: Int
        let withBytes: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void
    }
    public private(set) var items: [Item] = []
    public init() {}

    public mutating func put<T: BitwiseCopyable>(_ name: String, _ array: [T]) {
        items.append(
            Item(name: name, count: array.count * MemoryLayout<T>.stride) { body in
                try array.withUnsafeBytes { try body($0) }
            })
    }

    /// A column, kept as it is (its storage held, not copied) until the result is written.
    public mutating func put<T: BitwiseCopyable>(_ name: String, _ column: Column<T>) {
        items.append(
            Item(name: name, count: column.count * MemoryLayout<T>.stride) { body in
                try body(UnsafeRawBufferPointer(column.buffer))
            })
    }

    /// The same items but the named ones (the form results had before those items).
    public func without(_ names: Set<String>) -> BlobWriter {
        var w = BlobWriter()
        w.items = items.filter { !names.contains($0.name) }
        return w
    }

    /// `count` plain values made one by one as the result is written (never an
    /// array of them in memory; a small buffer at a time).
    public mutating func put<T: BitwiseCopyable>(_ name: String, count: Int, _ element: @escaping (Int) -> T) {
        items.append(
            Item(name: name, count: count * MemoryLayout<T>.stride) { body in
                let chunk = 16_384
                var buffer = [T]()
                buffer.reserveCapacity(min(chunk, count))
                var i = 0
                while i < count {
                    buffer.removeAll(keepingCapacity: true)
                    for k in i..<min(count, i + chunk) { buffer.append(element(k)) }
                    try buffer.withUnsafeBytes { try body($0) }
                    i += chunk
                }
            })
    }

    /// Arrays written one after another as one item (never joined in memory).
    public mutating func put(_ name: String, pieces: [[UInt8]]) {
        items.append(
            Item(name: name, count: pieces.reduce(0) { $0 + $1.count }) { body in
                for p in pieces { try p.withUnsafeBytes { try body($0) } }
            })
    }

    /// Memory the caller owns, written as it is (not copied): it must stay valid and
    /// unchanged until the result is saved.
    public mutating func put(_ name: String, _ bytes: UnsafeRawBufferPointer) {
        items.append(Item(name: name, count: bytes.count) { body in try body(bytes) })
    }

    /// The encoding of `putStrings` for `count` strings given one by one.
    public static func joined(_ count: Int, _ element: (Int) -> String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count * 12)
        for i in 0..<count {
            if i > 0 { out.append(0) }
            var s = element(i)
            s.withUTF8 { out.append(contentsOf: $0) }
        }
        return out
    }

    /// Strings joined with NUL (none of ours hold one).
    public mutating func putStrings(_ name: String, _ strings: [String]) {
        put(name, BlobWriter.joined(strings.count) { strings[$0] })
    }
}

public struct BlobReader {
    let file: MappedFile
    var index: [String: Range<Int>]
    let runDate: CivilDate
    let stage: String
    /// Every item starts at a multiple of 8 in the file (results written since
    /// `PFPSTAGE2`): `inPlace` can hand out its bytes as they are.
    public let itemsAligned: Bool

    /// What keeps the bytes `inPlace` hands out valid: hold it as long as they are read.
    public var mapping: AnyObject { file }

    /// The item as it lies in the file (no copy; its pages come from the page cache
    /// as they are read), valid while `mapping` lives. Only for results whose items
    /// are aligned (`itemsAligned`).
    public func inPlace<T: BitwiseCopyable>(_ name: String) throws -> UnsafeBufferPointer<T> {
        let b = try bytes(name)
        guard itemsAligned, b.count % MemoryLayout<T>.stride == 0,
            Int(bitPattern: b.baseAddress) % MemoryLayout<T>.alignment == 0
        else { throw damaged(name) }
        return b.bindMemory(to: T.self)
    }

    /// The item as a column: read in place where the items are aligned (valid while
    /// the column lives: it holds the mapping), copied otherwise.
    public func column<T: BitwiseCopyable>(_ name: String) throws -> Column<T> {
        itemsAligned ? Column(inPlace: try inPlace(name), owner: file) : Column(try get(name) as [T])
    }

    public func bytes(_ name: String) throws -> UnsafeRawBufferPointer {
        guard let r = index[name] else {
            throw PipelineError.failure(
                stage: stage, "the stored \(stage) result for \(runDate) has no '\(name)'",
                hint: "rerun 'pfp stage \(stage) --run-date \(runDate)'")
        }
        return UnsafeRawBufferPointer(rebasing: file.bytes[r])
    }

    public func get<T: BitwiseCopyable>(_ name: String) throws -> [T] {
        let b = try bytes(name)
        let n = b.count / MemoryLayout<T>.stride
        return [T](unsafeUninitializedCapacity: n) { buf, count in
            // The storage may be larger than asked for: n elements are copied.
            copy(
                name, b,
                into: UnsafeMutableRawBufferPointer(
                    rebasing: UnsafeMutableRawBufferPointer(buf)[0..<(n * MemoryLayout<T>.stride)]))
            count = n
        }
    }

    /// The item copied once into memory the caller owns (and deallocates); empty
    /// (no allocation) for an empty item.
    public func buffer<T: BitwiseCopyable>(_ name: String) throws -> UnsafeMutableBufferPointer<T> {
        let b = try bytes(name)
        let n = b.count / MemoryLayout<T>.stride
        guard n > 0 else { return UnsafeMutableBufferPointer(start: nil, count: 0) }
        let out = UnsafeMutableBufferPointer<T>.allocate(capacity: n)
        copy(name, b, into: UnsafeMutableRawBufferPointer(out))
        return out
    }

    /// Item `name`'s bytes `b` into fresh memory `out` (whole elements' worth), in
    /// 2 MiB pages where granted; the copy is what is kept, so the file's pages
    /// need not stay resident beside it.
    private func copy(_ name: String, _ b: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        if out.count > 0 {
            HugePages.advise(out)
            out.copyMemory(from: UnsafeRawBufferPointer(rebasing: b[0..<out.count]))
        }
        dropPages(name)
    }

    public func has(_ name: String) -> Bool { index[name] != nil }

    /// Drops the item's pages from the resident set (read again from the page cache
    /// if it is read again): for an item read in place and now read seldom, or one
    /// made into other values already.
    public func dropPages(_ name: String) {
        if let r = index[name] { file.dropResidentPages(from: r.lowerBound, upTo: r.upperBound) }
    }

    /// Drops every item's pages from the resident set (read again from the page
    /// cache where they are read again).
    public func dropAllPages() { file.dropResidentPages() }

    /// The error for an item whose size does not fit the rest of the result.
    public func damaged(_ name: String) -> PipelineError {
        PipelineError.failure(
            stage: stage, "the stored \(stage) result for \(runDate) is damaged ('\(name)' has the wrong size)",
            hint: "rerun 'pfp stage \(stage) --run-date \(runDate)'")
    }

    /// Strings joined with NUL (`putStrings`): counted first, then made one by one
    /// into an array of that size (no array of pieces in between).
    public func strings(_ name: String) throws -> [String] {
        let b = try bytes(name)
        if b.isEmpty { return [] }
        var count = 1
        for x in b where x == 0 { count += 1 }
        var out: [String] = []
        out.reserveCapacity(count)
        var start = 0
        for i in 0...b.count where i == b.count || b[i] == 0 {
            out.append(String(decoding: UnsafeRawBufferPointer(rebasing: b[start..<i]), as: UTF8.self))
            start = i + 1
        }
        return out
    }
}

/// Stage results, keyed by run date and stage, so an analyst can rerun one stage
/// from the previous stage's result. Each result is one file beside the database
/// (written under a temporary name and renamed: never half-written), registered
/// in the database with its size and CRC-32C, both checked when it is loaded.
public final class StageStore {
    public let db: Database
    public let directory: String

    public init(db: Database) throws {
        self.db = db
        directory = db.path + ".stages"
        try FileIO.makeDirectory(directory)
        try Schema.migrate(db)
    }

    func fileName(_ runDate: CivilDate, _ stage: String) -> String { "\(runDate)-\(stage).bin" }

    /// A side file of a stage result (e.g. the match stage's explanations).
    public func sidePath(runDate: CivilDate, name: String) -> String {
        (directory as NSString).appendingPathComponent("\(runDate)-\(name)")
    }

    /// A stage result's file, written and in place but not yet registered.
    public struct Written: Sendable {
        let runDate: CivilDate, stage: String, name: String, bytes: Int, checksum: String
    }

    /// Replaces a stage's stored result for a date.
    public func save(runDate: CivilDate, stage: String, blobs: BlobWriter) throws {
        try register(write(runDate: runDate, stage: stage, blobs: blobs))
    }

    /// Registers a result `write` made: from here on `load` finds it.
    public func register(_ w: Written) throws {
        try db.execute(
            "INSERT OR REPLACE INTO stage_result(run_date, stage, file, bytes, checksum, created_at) VALUES (?, "
                + "?, ?, ?, ?, ?)",
            [
                .text(w.runDate.description), .text(w.stage), .text(w.name), .int(Int64(w.bytes)), .text(w.checksum),
                .text(RunRegistry.timestamp()),
            ])
    }

    /// Writes a stage's result file under a temporary name and renames it into
    /// place, touching no database (so it can run on a thread of its own beside
    /// the next stage); `register` makes it the stage's result.
    public func write(runDate: CivilDate, stage: String, blobs: BlobWriter) throws -> Written {
        let name = fileName(runDate, stage)
        let final = (directory as NSString).appendingPathComponent(name)
        let tmp = final + ".tmp-\(getpid())"
        let w = try FileIO.Writer(path: tmp, check: .crc32c, direct: true)
        // Header: magic, count, then (name length, name, byte length) per item, then
        // where the bytes start; then each item's bytes from an offset that is a
        // multiple of 8 (zeros between), so that a reader can use them in place.
        var header: [UInt8] = Array(StageStore.magic.utf8)
        func u64(_ x: Int) { withUnsafeBytes(of: UInt64(x).littleEndian) { header.append(contentsOf: $0) } }
        u64(blobs.items.count)
        for item in blobs.items {
            let nb = Array(item.name.utf8)
            u64(nb.count); header.append(contentsOf: nb); u64(item.count)
        }
        let start = StageStore.aligned(header.count + 8)
        u64(start)
        let checksum: String
        do {
            try w.write(header)
            let zeros = [UInt8](repeating: 0, count: 8)
            var at = header.count
            func pad() throws {
                let n = StageStore.aligned(at) - at
                if n > 0 { try w.write(Array(zeros[0..<n])) }
                at += n
            }
            for item in blobs.items {
                try pad()
                try item.withBytes { try w.write($0) }
                at += item.count
            }
            // Not synced: a stage result is derived data; one damaged by a power cut is
            // detected on load (size, header, checksum) and recomputed. A killed
            // process loses nothing.
            checksum = try w.finish(sync: false)
        } catch {
            try? FileIO.remove(tmp)
            throw error
        }
        if rename(tmp, final) != 0 {
            try? FileIO.remove(tmp)
            throw PipelineError.failure(
                stage: stage, location: final, "cannot store the stage result: \(String(cString: strerror(errno)))")
        }
        return Written(runDate: runDate, stage: stage, name: name, bytes: w.bytesWritten, checksum: checksum)
    }

    /// The stage results written now; `PFPSTAGE1` (items one after another, not
    /// aligned) are still read.
    static let magic = "PFPSTAGE2\n"
    static let unaligned = "PFPSTAGE1\n"
    /// `x` rounded up to a multiple of 8.
    static func aligned(_ x: Int) -> Int { (x + 7) & ~7 }

    public func load(runDate: CivilDate, stage: String) throws -> BlobReader? {
        var row: (String, Int64, String)?
        try db.query(
            "SELECT file, bytes, checksum FROM stage_result WHERE run_date = ? AND stage = ?",
            [.text(runDate.description), .text(stage)]
        ) {
            row = ($0.text(0), $0.int(1), $0.text(2))
        }
        guard let (name, size, checksum) = row else { return nil }
        let path = (directory as NSString).appendingPathComponent(name)
        guard FileIO.exists(path) else {
            throw PipelineError.failure(
                stage: stage, location: path, "the stored \(stage) result for \(runDate) is gone",
                hint: "rerun 'pfp stage \(stage) --run-date \(runDate)'")
        }
        // Mapped lazily and checked a window at a time, each window's pages let go
        // once read: a result of hundreds of MB is never resident whole for its
        // check (a what-if's peak was the ingest result's check).
        let file = try MappedFile(path: path, populate: false)
        let b = file.bytes
        func bad() -> PipelineError {
            PipelineError.failure(
                stage: stage, location: path, "the stored \(stage) result for \(runDate) is damaged",
                hint: "rerun 'pfp stage \(stage) --run-date \(runDate)'")
        }
        guard b.count == Int(size), b.count >= 18 else { throw bad() }
        let magic = Array(b[0..<10])
        let itemsAligned = magic == Array(StageStore.magic.utf8)
        guard itemsAligned || magic == Array(StageStore.unaligned.utf8) else { throw bad() }
        var crc = CRC32C(), sha = SHA256Digest()
        let crcChecked = checksum.hasPrefix(CRC32C.prefix), window = 16 << 20
        for at in stride(from: 0, to: b.count, by: window) {
            let piece = UnsafeRawBufferPointer(rebasing: b[at..<min(b.count, at + window)])
            if crcChecked { crc.update(piece) } else { sha.update(piece) }
            file.dropResidentPages(from: at, upTo: at + piece.count)
        }
        guard (crcChecked ? crc.text : sha.finalizeHex()) == checksum else { throw bad() }
        // Checked: the items are read one by one (or in place), their pages come back
        // from the page cache as they are read.
        file.dropResidentPages()
        var at = 10
        func u64() throws -> Int {
            guard at + 8 <= b.count else { throw bad() }
            defer { at += 8 }
            return Int(b.loadUnaligned(fromByteOffset: at, as: UInt64.self).littleEndian)
        }
        let count = try u64()
        var items: [(String, Int)] = []
        for _ in 0..<count {
            let nl = try u64()
            guard at + nl <= b.count else { throw bad() }
            let n = String(decoding: b[at..<at + nl], as: UTF8.self)
            at += nl
            items.append((n, try u64()))
        }
        var off = try u64()
        var index: [String: Range<Int>] = [:]
        for (n, len) in items {
            if itemsAligned { off = StageStore.aligned(off) }
            guard off + len <= b.count else { throw bad() }
            index[n] = off..<off + len
            off += len
        }
        return BlobReader(file: file, index: index, runDate: runDate, stage: stage, itemsAligned: itemsAligned)
    }

    /// Run dates with a stored result before a date.
    public func runDates(before date: CivilDate) throws -> [CivilDate] {
        var out: [CivilDate] = []
        try db.query(
            "SELECT DISTINCT run_date FROM stage_result WHERE run_date < ? ORDER BY run_date", [.text(date.description)]
        ) {
            if let d = CivilDate.parse($0.text(0)) { out.append(d) }
        }
        return out
    }

    public func delete(runDate: CivilDate, stage: String? = nil) throws {
        var names: [String] = []
        try db.query(
            "SELECT file FROM stage_result WHERE run_date = ?" + (stage == nil ? "" : " AND stage = ?"),
            stage == nil ? [.text(runDate.description)] : [.text(runDate.description), .text(stage!)]
        ) { names.append($0.text(0)) }
        for n in names { try? FileIO.remove((directory as NSString).appendingPathComponent(n)) }
        if stage == nil || stage == "match" { try? FileIO.remove(sidePath(runDate: runDate, name: "explain.jsonl")) }
        try db.execute(
            "DELETE FROM stage_result WHERE run_date = ?" + (stage == nil ? "" : " AND stage = ?"),
            stage == nil ? [.text(runDate.description)] : [.text(runDate.description), .text(stage!)])
    }
}
