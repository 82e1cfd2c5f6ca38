import Foundation
import CPFPNative
#if canImport(Glibc)
    import Glibc
#endif

/// File operations with the project's rules: owner-only files, whole-file reads, clear errors.
public enum FileIO {
    /// Reads a whole file into memory.
    public static func readAll(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw PipelineError.badInput(location: path, "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw PipelineError.failure(location: path, "cannot stat: \(String(cString: strerror(errno)))")
        }
        let size = Int(st.st_size)
        var got = 0
        var failure: Int32 = 0
        // No zero-fill: the bytes are read straight into the new array.
        var out = [UInt8](unsafeUninitializedCapacity: size) { buf, count in
            while got < size {
                let n = read(fd, buf.baseAddress! + got, min(size - got, 1 << 30))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    break
                }
                if n == 0 { break }
                got += n
            }
            count = got
        }
        if failure != 0 {
            throw PipelineError.failure(location: path, "cannot read: \(String(cString: strerror(failure)))")
        }
        if out.count > got { out.removeSubrange(got...) }
        return out
    }

    public static func readText(_ path: String) throws -> String {
        String(decoding: try readAll(path), as: UTF8.self)
    }

    /// Creates a directory and its parents, owner-only (0700) for the ones it creates.
    public static func makeDirectory(_ path: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            if isDir.boolValue { return }
            throw PipelineError.failure(location: path, "exists and is not a directory")
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != path { try makeDirectory(parent) }
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw PipelineError.failure(
                location: path, "cannot create directory: \(String(cString: strerror(errno)))",
                hint: "check that the parent directory is writable and the disk is not full")
        }
    }

    /// A file opened for writing, created with the given mode whatever the umask.
    public final class Writer {
        public let path: String
        private let fd: Int32
        private var buffer: [UInt8] = []
        /// What a writer computes over the bytes it writes: the sha256 (published
        /// files, which manifests list), a CRC-32C (stage results: a check against
        /// damage, eight times cheaper) or nothing (a scratch file, a copy).
        public enum Check: Sendable { case sha256, crc32c, none }
        private var digest = SHA256Digest()
        private var crc = CRC32C()
        private let check: Check
        public private(set) var bytesWritten = 0

        /// `direct`: for large files that this run does not read back: the bytes go
        /// from this process to the disk in aligned blocks (O_DIRECT), not through
        /// the page cache, whose fresh pages can cost more than the disk does.
        /// Where the file system has no
        /// O_DIRECT, the file is written as any other.
        public convenience init(
            path: String, mode: mode_t = 0o600, check: Check = .sha256, direct: Bool = false
        ) throws {
            try self.init(path: path, mode: mode, check: check, direct: direct, block: 8 << 20)
        }

        /// A direct writer (see `direct`) with blocks of `directBlock` bytes (a
        /// multiple of 4096): larger blocks, fewer waits for the disk.
        public convenience init(path: String, directBlock: Int) throws {
            try self.init(path: path, mode: 0o600, check: .sha256, direct: true, block: directBlock)
        }

        /// `block`: the direct mode's block size, a multiple of 4096 (smaller in tests).
        init(path: String, mode: mode_t, check: Check, direct: Bool, block: Int) throws {
            precondition(block > 0 && block % Writer.alignment == 0)
            self.path = path
            self.block = block
            self.check = check
            let fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, mode)
            guard fd >= 0 else {
                throw PipelineError.failure(
                    location: path, "cannot create: \(String(cString: strerror(errno)))",
                    hint: "check that the output directory is writable and the disk is not full")
            }
            fchmod(fd, mode)
            self.fd = fd
            if direct && pfp_set_direct(fd, 1) == 0 {
                blocks = (
                    .allocate(byteCount: block, alignment: Writer.alignment),
                    .allocate(byteCount: block, alignment: Writer.alignment)
                )
            } else {
                buffer.reserveCapacity(1 << 20)
            }
        }

        deinit {
            _ = try? inFlight?.value()
            if let blocks { blocks.0.deallocate(); blocks.1.deallocate() }
            close(fd)
        }

        // Direct mode: bytes gather in one aligned block while the other is hashed
        // and written on a thread of its own (at most one write in flight, so the
        // hash sees the blocks in order). Every block but the last is full; the last
        // is padded to the alignment and the file cut back to its length.
        let block: Int
        static let alignment = 4096
        private var blocks: (UnsafeMutableRawPointer, UnsafeMutableRawPointer)?
        private var filled = 0
        private var inFlight: Background<Void>?
        private var directRefused = false

        /// Whether the file is written past the page cache (`direct` and the file
        /// system allows it).
        public var isDirect: Bool { blocks != nil }

        private func stage(_ bytes: UnsafeRawBufferPointer) throws {
            var off = 0
            while off < bytes.count, let (current, _) = blocks {
                let k = min(block - filled, bytes.count - off)
                (current + filled).copyMemory(from: bytes.baseAddress! + off, byteCount: k)
                filled += k
                off += k
                if filled == block { try sendBlock() }
            }
            bytesWritten += bytes.count
        }

        /// Hands the filled block to the writing thread (after the previous write
        /// ended) and gathers into the other one.
        private func sendBlock() throws {
            guard let (current, other) = blocks, filled > 0 else { return }
            try inFlight?.value()
            inFlight = nil
            let logical = filled
            let padded = (logical + Writer.alignment - 1) / Writer.alignment * Writer.alignment
            if padded > logical {
                (current + logical).initializeMemory(as: UInt8.self, repeating: 0, count: padded - logical)
            }
            blocks = (other, current)
            filled = 0
            // Hashed and written on the writing thread, in order (one block in
            // flight): the caller goes on gathering (a caller that holds a lock, as
            // the match's explanation sink does, keeps no one waiting for the hash).
            nonisolated(unsafe) let job = self
            nonisolated(unsafe) let base = UnsafeRawPointer(current)
            // The hash and the write of the block side by side: a disk as fast as
            // the hash would otherwise wait for it, block after block.
            inFlight = Background("pfp-write") {
                var failure: Error?
                Parallel.forEach(2) { task in
                    if task == 1 { job.sum(UnsafeRawBufferPointer(start: base, count: logical)); return }
                    do { try job.writeOut(UnsafeRawBufferPointer(start: base, count: padded)) } catch {
                        failure = error
                    }
                }
                if let failure { throw failure }
            }
        }

        public func write(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try write($0) }
        }

        public func write(_ s: String) throws {
            var s = s
            try s.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
        }

        public func write(_ bytes: UnsafeRawBufferPointer) throws {
            if blocks != nil { try stage(bytes); return }
            if bytes.count >= 1 << 20 {
                // Large: straight to the file, no copy through the buffer; a sha256 is
                // computed on another thread while the kernel copies it (a CRC inline).
                try flush()
                if check == .sha256 && bytes.count >= 8 << 20 {
                    var failure: Error?
                    Parallel.forEach(2) { task in
                        if task == 1 { self.sum(bytes); return }
                        do { try self.writeOut(bytes) } catch { failure = error }
                    }
                    if let failure { throw failure }
                } else {
                    try writeOut(bytes)
                    sum(bytes)
                }
                bytesWritten += bytes.count
                startWriteback()
                return
            }
            buffer.append(contentsOf: bytes)
            if buffer.count >= 1 << 20 { try flush() }
        }

        /// Where the disk has not been asked to write from yet (`startWriteback`).
        private var writebackFrom = 0

        /// A checked file (one that is synced when finished: not a scratch file)
        /// has its written bytes sent to the disk every 8 MiB as it goes, so that the
        /// sync at its end does not wait for the whole file (the output of a what-if
        /// or a run is written in seconds, then synced folder by folder).
        private func startWriteback() {
            guard check != .none, bytesWritten - writebackFrom >= 8 << 20 else { return }
            _ = pfp_start_writeback(fd, Int64(writebackFrom), Int64(bytesWritten - writebackFrom))
            writebackFrom = bytesWritten
        }

        /// Appends a whole file, read block by block and written as any other bytes
        /// (hashed as they are, direct when this writer is).
        public func append(file source: String) throws {
            let fdIn = open(source, O_RDONLY | O_CLOEXEC)
            guard fdIn >= 0 else {
                throw PipelineError.failure(location: source, "cannot open: \(String(cString: strerror(errno)))")
            }
            defer { close(fdIn) }
            let size = 8 << 20
            let buf = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: Writer.alignment)
            defer { buf.deallocate() }
            while true {
                let k = read(fdIn, buf, size)
                if k < 0 && errno == EINTR { continue }
                guard k >= 0 else {
                    throw PipelineError.failure(location: source, "cannot read: \(String(cString: strerror(errno)))")
                }
                if k == 0 { break }
                try write(UnsafeRawBufferPointer(start: buf, count: k))
            }
        }

        private func writeOut(_ b: UnsafeRawBufferPointer) throws {
            var off = 0
            while off < b.count {
                let n = Glibc.write(fd, b.baseAddress! + off, b.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    // A file system that took O_DIRECT but not these blocks: written as
                    // any other file from here on (same bytes).
                    if errno == EINVAL && !directRefused && pfp_set_direct(fd, 0) == 0 {
                        directRefused = true; continue
                    }
                    throw PipelineError.failure(
                        location: path, "cannot write: \(String(cString: strerror(errno)))",
                        hint: "check free space on the output disk")
                }
                off += n
            }
        }

        /// Writes what is buffered (in direct mode only whole blocks are written
        /// before `finish`).
        public func flush() throws {
            if blocks != nil { return }
            try buffer.withUnsafeBytes { b in
                try writeOut(b)
                sum(b)
            }
            bytesWritten += buffer.count
            buffer.removeAll(keepingCapacity: true)
            startWriteback()
        }

        private func sum(_ b: UnsafeRawBufferPointer) {
            switch check {
            case .sha256: digest.update(b)
            case .crc32c: crc.update(b)
            case .none: break
            }
        }

        /// Flushes, syncs to disk (unless `sync` is false) and returns the check of
        /// everything written: the sha256 in hex, `crc32c:` and eight hex digits, or
        /// "" for a writer made without one.
        public func finish(sync: Bool = true) throws -> String {
            if blocks != nil {
                try sendBlock()
                try inFlight?.value()
                inFlight = nil
                if ftruncate(fd, off_t(bytesWritten)) != 0 {
                    throw PipelineError.failure(location: path, "cannot write: \(String(cString: strerror(errno)))")
                }
            }
            try flush()
            if sync && fsync(fd) != 0 {
                throw PipelineError.failure(location: path, "cannot sync: \(String(cString: strerror(errno)))")
            }
            switch check {
            case .sha256: return digest.finalizeHex()
            case .crc32c: return crc.text
            case .none: return ""
            }
        }
    }

    /// Writes a whole file (owner-only by default), synced, and returns its sha256.
    @discardableResult
    public static func write(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600) throws -> String {
        let w = try Writer(path: path, mode: mode)
        try w.write(bytes)
        return try w.finish()
    }

    public static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    /// Removes a file or a directory tree; no error when it does not exist.
    public static func remove(_ path: String) throws {
        if FileManager.default.fileExists(atPath: path) {
            try FileManager.default.removeItem(atPath: path)
        }
    }

    public static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    public static func isDirectory(_ path: String) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &d) && d.boolValue
    }

    /// Peak resident set size of this process since it started or since the last
    /// `resetPeakRSS()`, in bytes (Linux's VmHWM; getrusage elsewhere).
    public static func peakRSS() -> Int {
        if let kb = memoryStatus(["VmHWM:"]).first, let kb { return kb * 1024 }
        var ru = rusage()
        getrusage(__rusage_who_t(0), &ru)  // RUSAGE_SELF
        return Int(ru.ru_maxrss) * 1024
    }

    /// Memory settings for a long batch job: large blocks go back to the system when
    /// freed (see pfp_tune_malloc). Called once at start.
    public static func tuneMemory() { pfp_tune_malloc() }

    /// While `reuse` is on, large blocks come from the heap and freed memory stays
    /// in it for the next allocation, instead of fresh pages the kernel must clear
    /// first (at city scale the largest cost of the ingest). The next `resetPeakRSS()` or
    /// `releaseFreeMemory()` gives what is free back.
    public static func reuseFreedMemory(_ reuse: Bool) { pfp_reuse_freed_memory(reuse ? 1 : 0) }

    /// Blocks under `below` bytes come from the heap and stay there when freed, for
    /// the next allocation (the heap is trimmed once more than `trimAbove` bytes are
    /// free at its top); larger blocks are mapped and given back when freed. For
    /// work that allocates and frees the same medium blocks again and again (a
    /// what-if's reforms): fresh pages cost a fault and a clearing each.
    /// `reuseFreedMemory(false)` restores the usual settings.
    public static func holdFreedBlocks(below: Int, trimAbove: Int) { pfp_hold_freed_blocks(below, trimAbove) }

    /// Gives the heap memory malloc keeps free back to the system (after large data
    /// is let go in the middle of a stage).
    public static func releaseFreeMemory() { pfp_release_free_memory() }

    /// Fields of /proc/self/status in kB (`VmHWM:`, `VmRSS:`, `RssFile:` ...), nil
    /// where the system has no such field.
    public static func memoryStatus(_ keys: [String]) -> [Int?] {
        let lines = ((try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? "").split(separator: "\n")
        return keys.map { key in
            lines.first { $0.hasPrefix(key) }.flatMap {
                Int($0.dropFirst(key.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
            }
        }
    }

    /// Starts a new peak for `peakRSS()` (per stage figures); a no-op where Linux's
    /// /proc/self/clear_refs is not there.
    public static func resetPeakRSS() {
        // Memory the last stage freed goes back to the system first (glibc keeps
        // freed heap pages otherwise), so a stage's peak is its own.
        pfp_release_free_memory()
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return }
        _ = Glibc.write(fd, "5", 1)
        close(fd)
    }

    /// User + system CPU seconds of this process so far.
    public static func cpuSeconds() -> Double {
        var ru = rusage()
        getrusage(__rusage_who_t(0), &ru)  // RUSAGE_SELF
        return Double(ru.ru_utime.tv_sec) + Double(ru.ru_utime.tv_usec) / 1e6
            + Double(ru.ru_stime.tv_sec) + Double(ru.ru_stime.tv_usec) / 1e6
    }

    /// Monotonic seconds.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
