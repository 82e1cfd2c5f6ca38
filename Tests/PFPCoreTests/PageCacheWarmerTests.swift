import XCTest
#if canImport(Glibc)
    import Glibc
#endif
@testable import PFPCore

/// The page-cache warmer: a file whose pages the cache lost is read back, in the
/// background, without reading the file here.
final class PageCacheWarmerTests: XCTestCase {
    func testMissingPagesAreReadBack() throws {
        let dir = NSTemporaryDirectory() + "pfp-warm-\(UUID().uuidString)"
        try FileIO.makeDirectory(dir)
        defer { try? FileIO.remove(dir) }
        let path = dir + "/feed.csv"
        try FileIO.write(path, (0..<(24 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 13) })
        XCTAssertNil(PageCacheWarmer.residency(dir + "/absent.csv"))
        XCTAssertEqual(PageCacheWarmer.warm(dir + "/absent.csv"), 0)

        // Written back to the disk, then dropped from the cache (where the file
        // system lets a process do that: not on tmpfs).
        let fd = open(path, O_RDONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        fsync(fd)
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        close(fd)
        let before = try XCTUnwrap(PageCacheWarmer.residency(path))
        XCTAssertEqual(before.pages, (24 << 20) / Int(sysconf(Int32(_SC_PAGESIZE))))
        if before.resident > before.pages / 2 {
            throw XCTSkip("this file system keeps the file in the cache (\(before.resident) of \(before.pages) pages)")
        }

        // Every missing page requested (in runs of 8 MiB: more than one call).
        XCTAssertEqual(PageCacheWarmer.warm(path), before.pages - before.resident)
        var after = before
        for _ in 0..<200 where after.resident < after.pages {
            usleep(10_000)
            after = try XCTUnwrap(PageCacheWarmer.residency(path))
        }
        XCTAssertEqual(after.resident, after.pages, "the pages the cache lost are back")
        XCTAssertEqual(PageCacheWarmer.warm(path), 0, "nothing left to request")
    }
}
