import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// A whole file mapped read-only into memory: no copy and no zero-filled pages.
/// The bytes stay valid while the object lives.
public final class MappedFile: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?
    private let length: Int

    /// `populate: false` maps lazily (pages come in as they are read).
    public convenience init(path: String, populate: Bool = true) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw PipelineError.badInput(location: path, "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw PipelineError.failure(location: path, "cannot stat: \(String(cString: strerror(errno)))")
        }
        try self.init(descriptor: fd, length: Int(st.st_size), populate: populate, location: path)
    }

    /// A delivered file, mapped through the descriptor it was checked with;
    /// `location` names it in an error (a name fit to be shown).
    public convenience init(file: DeliveredFile, location: String, populate: Bool = true) throws {
        try self.init(descriptor: file.descriptor, length: file.size, populate: populate, location: location)
    }

    private init(descriptor fd: Int32, length: Int, populate: Bool, location: String) throws {
        self.length = length
        if length == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let p = mmap(nil, length, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0)
        guard let p, p != MAP_FAILED else {
            throw PipelineError.failure(location: location, "cannot map the file: \(String(cString: strerror(errno)))")
        }
        madvise(p, length, MADV_SEQUENTIAL)
        base = p
        bytes = UnsafeRawBufferPointer(start: p, count: length)
    }

    /// Drops the pages from this process's resident set; the bytes stay readable and
    /// are faulted back in from the page cache (the mapping is private and never
    /// written, so they are the file's). Lets many large files be checked in turn
    /// without all of them counting as resident at once.
    public func dropResidentPages() {
        if let base { madvise(base, length, MADV_DONTNEED) }
    }

    /// Drops the pages from `from` to before `offset` (both rounded down to a
    /// page) from the resident set: a file read once from start to end holds a
    /// few pages, not all of them.
    public func dropResidentPages(from: Int = 0, upTo offset: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = min(from, length) / page * page, hi = min(offset, length) / page * page
        if let base, hi > lo { madvise(base + lo, hi - lo, MADV_DONTNEED) }
    }

    deinit { if let base { munmap(base, length) } }
}

/// Asks the kernel to read back the parts of files that are no longer in the page
/// cache, ahead of their use: on a thread of its own, file by file in the order
/// given, the pages missing from the cache (mincore) are requested in runs of at
/// most 8 MiB (posix_fadvise WILLNEED: the kernel reads a larger range only up to
/// its readahead size, so one call for a whole file reads almost nothing). The
/// reads go on while earlier files are checked and parsed; a file already in the
/// cache costs one mincore. Nothing waits for it and nothing depends on it: a file
/// it cannot open or map is passed over (the check reports it).
///
/// Why: a delivery's files sit in the inbox for a while before the run, and the
/// system may have evicted parts of them (on the benchmark machine a proactive
/// reclaimer pages out cache idle for a minute); the check would then wait for
/// each missing run in turn.
public enum PageCacheWarmer {
    /// Starts the warming and returns at once; the files stay open until it is done.
    public static func start(_ files: [DeliveredFile]) {
        guard !files.isEmpty else { return }
        let thread = Thread { for f in files { warm(f) } }
        thread.name = "pfp-page-cache"
        thread.start()
    }

    /// The missing runs of one file requested; returns the pages found missing.
    @discardableResult
    public static func warm(_ file: DeliveredFile) -> Int { warm(descriptor: file.descriptor) ?? 0 }

    /// The same for a path (tests); 0 when it cannot be opened.
    @discardableResult
    public static func warm(_ path: String) -> Int { withOpened(path) { warm(descriptor: $0) } ?? 0 }

    /// How many of a file's pages are in the page cache, and how many it has; nil
    /// when it cannot be opened or mapped, or is empty.
    public static func residency(_ path: String) -> (resident: Int, pages: Int)? {
        withOpened(path) { fd in
            withResidency(fd) { _, resident in (resident.reduce(0) { $0 + Int($1 & 1) }, resident.count) }
        }
    }

    private static func warm(descriptor fd: Int32) -> Int? {
        withResidency(fd) { pageSize, resident in
            let run = (8 << 20) / pageSize
            var missing = 0, i = 0
            while i < resident.count {
                if resident[i] & 1 != 0 { i += 1; continue }
                var j = i
                while j < resident.count && resident[j] & 1 == 0 && j - i < run { j += 1 }
                _ = posix_fadvise(fd, off_t(i * pageSize), off_t((j - i) * pageSize), POSIX_FADV_WILLNEED)
                missing += j - i
                i = j
            }
            return missing
        }
    }

    private static func withOpened<T>(_ path: String, _ body: (Int32) -> T?) -> T? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return body(fd)
    }

    /// `body` with the page size and one byte per page whose low bit says whether
    /// the page is in the cache (mincore over a mapping never touched).
    private static func withResidency<T>(_ fd: Int32, _ body: (Int, [UInt8]) -> T) -> T? {
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size > 0 else { return nil }
        let length = Int(st.st_size)
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let p = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else { return nil }
        defer { munmap(p, length) }
        var resident = [UInt8](repeating: 0, count: (length + pageSize - 1) / pageSize)
        guard mincore(p, length, &resident) == 0 else { return nil }
        return body(pageSize, resident)
    }
}

/// Keeps the pages of several mapped files read and mapped ahead of readers that
/// go through them from start to end at once (`pfp merge`: one cursor per shard):
/// a thread of its own populates each file's next 8 MiB (MADV_POPULATE_READ, or
/// a WILLNEED request where the kernel lacks it) while the file's reader is less
/// than `window` bytes behind. Cold files read page fault by page fault, and
/// interleaved, go at a fraction of the disk's speed, on the reader's thread.
public final class ReadAhead: @unchecked Sendable {
    private let files: [MappedFile]
    private let window: Int
    private let cond = NSCondition()
    /// How far each file's reader has come (set by `reached`).
    private var positions: [Int]
    private var stopped = false
    static let step = 8 << 20
    /// MADV_POPULATE_READ (Linux 5.14).
    static let populateRead: Int32 = 22

    public init(_ files: [MappedFile], window: Int = 128 << 20) {
        self.files = files
        self.window = window
        positions = [Int](repeating: 0, count: files.count)
        let t = Thread { [self] in loop() }
        t.name = "pfp-read-ahead"
        t.start()
    }

    /// The reader of file `i` has come to `offset`.
    public func reached(_ i: Int, _ offset: Int) {
        cond.lock()
        positions[i] = offset
        cond.signal()
        cond.unlock()
    }

    /// Stops the thread after the step it is in.
    public func stop() {
        cond.lock()
        stopped = true
        cond.signal()
        cond.unlock()
    }

    private func loop() {
        var asked = [Int](repeating: 0, count: files.count)
        var populate = true
        while true {
            cond.lock()
            var want: [Int] = []
            while !stopped {
                want = positions
                if files.indices.contains(where: { asked[$0] < min(files[$0].bytes.count, want[$0] + window) }) {
                    break
                }
                cond.wait()
            }
            let stop = stopped
            cond.unlock()
            if stop { return }
            // One step per file behind, round the files: they are all being read.
            for i in files.indices where asked[i] < min(files[i].bytes.count, want[i] + window) {
                asked[i] = max(asked[i], want[i] / ReadAhead.step * ReadAhead.step)
                let b = files[i].bytes
                let n = min(ReadAhead.step, b.count - asked[i])
                let p = UnsafeMutableRawPointer(mutating: b.baseAddress! + asked[i])
                // The next steps asked for without waiting (the disk gets a deeper
                // queue), this one read and mapped.
                let next = asked[i] + n, further = min(3 * ReadAhead.step, b.count - next)
                if further > 0 {
                    madvise(UnsafeMutableRawPointer(mutating: b.baseAddress! + next), further, MADV_WILLNEED)
                }
                if !populate || madvise(p, n, ReadAhead.populateRead) != 0 {
                    populate = false
                    madvise(p, n, MADV_WILLNEED)
                }
                asked[i] += ReadAhead.step
            }
        }
    }
}

/// Large arrays in 2 MiB pages where the kernel grants them (transparent huge
/// pages on request): a fresh array of hundreds of megabytes is then faulted in
/// a few hundred times, not a hundred thousand.
public enum HugePages {
    static let size = 2 << 20

    /// Asks for huge pages over the whole 2 MiB pages inside `buffer` (not yet
    /// touched, or it changes nothing); a buffer under 4 MiB is left as it is.
    public static func advise(_ buffer: UnsafeMutableRawBufferPointer) {
        guard buffer.count >= 2 * size, let start = buffer.baseAddress else { return }
        let lo = (Int(bitPattern: start) + size - 1) / size * size
        let hi = (Int(bitPattern: start) + buffer.count) / size * size
        if hi > lo { _ = madvise(UnsafeMutableRawPointer(bitPattern: lo), hi - lo, MADV_HUGEPAGE) }
    }
}
