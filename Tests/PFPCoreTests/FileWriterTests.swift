import XCTest
@testable import PFPCore

/// The file writer: what it writes, and the sha256 it reports, whichever way the
/// bytes arrive (small writes, large writes, whole files appended by the kernel).
final class FileWriterTests: XCTestCase {
    func testAppendedFilesGiveTheSameBytesAndDigestAsWrittenOnes() throws {
        let dir = NSTemporaryDirectory() + "pfp-writer-\(UUID().uuidString)"
        try FileIO.makeDirectory(dir)
        defer { try? FileIO.remove(dir) }
        // A side file larger than the write buffer, and one empty.
        let big = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        try FileIO.write(dir + "/big", big)
        try FileIO.write(dir + "/empty", [])
        let head = Array("first line\n".utf8)

        let w = try FileIO.Writer(path: dir + "/out")
        try w.write(head)
        try w.append(file: dir + "/big")
        try w.append(file: dir + "/empty")
        try w.write([10])
        let sha = try w.finish()

        let expected = head + big + [10]
        XCTAssertEqual(try FileIO.readAll(dir + "/out"), expected)
        XCTAssertEqual(w.bytesWritten, expected.count)
        XCTAssertEqual(sha, SHA256Digest.hex(of: expected))
        XCTAssertEqual(sha, try SHA256Digest.hex(ofFile: dir + "/out"))

        // A scratch writer computes no digest.
        let scratch = try FileIO.Writer(path: dir + "/scratch", hashing: false)
        try scratch.write(head)
        XCTAssertEqual(try scratch.finish(sync: false), "")
        XCTAssertEqual(try FileIO.readAll(dir + "/scratch"), head)
    }
}
