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
    public init(path: String, populate: Bool = true) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PipelineError.badInput(location: path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw PipelineError.failure(location: path, "cannot stat: \(String(cString: strerror(errno)))") }
        length = Int(st.st_size)
        if length == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let p = mmap(nil, length, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0)
        guard let p, p != MAP_FAILED else {
            throw PipelineError.failure(location: path, "cannot map the file: \(String(cString: strerror(errno)))")
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

    deinit { if let base { munmap(base, length) } }
}
