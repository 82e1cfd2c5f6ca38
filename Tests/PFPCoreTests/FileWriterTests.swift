import XCTest
@testable import PFPCore

/// The file writer: what it writes, and the sha256 it reports, whichever way the
/// bytes arrive (small writes, large writes, whole files appended).
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
        let scratch = try FileIO.Writer(path: dir + "/scratch", check: .none)
        try scratch.write(head)
        XCTAssertEqual(try scratch.finish(sync: false), "")
        XCTAssertEqual(try FileIO.readAll(dir + "/scratch"), head)
    }

    /// A file written well past the 8 MiB at which the writer asks the disk to start
    /// writing what it has (`startWriteback`), in small writes and large ones,
    /// reads back whole with its digest, synced or not.
    func testAFileSentToTheDiskAsItIsWrittenReadsBackWhole() throws {
        let dir = NSTemporaryDirectory() + "pfp-writer-\(UUID().uuidString)"
        try FileIO.makeDirectory(dir)
        defer { try? FileIO.remove(dir) }
        let piece = (0..<(3 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 11) }
        for sync in [true, false] {
            let w = try FileIO.Writer(path: dir + "/out-\(sync)")
            var expected: [UInt8] = []
            for k in 0..<9 {
                if k % 3 == 0 {
                    try w.write(piece)  // large: straight to the file
                    expected += piece
                } else {
                    for at in stride(from: 0, to: piece.count, by: 65_521) {
                        let part = Array(piece[at..<min(piece.count, at + 65_521)])
                        try w.write(part)
                        expected += part
                    }
                }
            }
            let sha = try w.finish(sync: sync)
            XCTAssertEqual(w.bytesWritten, expected.count)
            XCTAssertGreaterThan(expected.count, 3 * (8 << 20))
            XCTAssertEqual(try FileIO.readAll(dir + "/out-\(sync)"), expected)
            XCTAssertEqual(sha, SHA256Digest.hex(of: expected))
        }
    }

    /// Direct mode (O_DIRECT, aligned blocks written on a thread of their own): the
    /// same bytes and digest as a plain writer, however the writes fall across the
    /// blocks: small and large writes, an exact block, appended files (themselves
    /// written direct), and an empty file. Each with helper threads and with one.
    func testDirectWriterGivesTheSameBytesAndDigest() throws {
        let dir = NSTemporaryDirectory() + "pfp-direct-\(UUID().uuidString)"
        try FileIO.makeDirectory(dir)
        defer { try? FileIO.remove(dir) }
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        let block = 16 << 10
        func bytes(_ n: Int, _ seed: Int) -> [UInt8] {
            (0..<n).map { UInt8(truncatingIfNeeded: ($0 &+ seed) &* 131 &+ $0 >> 11) }
        }
        for threads in [2, 1] {
            Parallel.threads = threads
            let side = try FileIO.Writer(path: dir + "/side", mode: 0o600, check: .none, direct: true, block: block)
            let sideBytes = bytes(block + 12_345, 7)
            try side.write(sideBytes)
            XCTAssertEqual(try side.finish(sync: false), "")
            XCTAssertTrue(try FileIO.readAll(dir + "/side") == sideBytes, "the side file's bytes")
            try FileIO.write(dir + "/empty", [])

            let pieces: [[UInt8]] = [
                bytes(5, 1), bytes(block - 5, 2), bytes(3 * block + 999, 3), bytes(1, 4), bytes(4095, 5),
            ]
            let w = try FileIO.Writer(path: dir + "/out", mode: 0o600, check: .sha256, direct: true, block: block)
            var expected: [UInt8] = []
            for (i, p) in pieces.enumerated() {
                try w.write(p)
                expected += p
                if i == 2 {
                    try w.append(file: dir + "/side")
                    try w.append(file: dir + "/empty")
                    expected += sideBytes
                }
            }
            let sha = try w.finish()
            XCTAssertEqual(w.bytesWritten, expected.count)
            XCTAssertTrue(
                try FileIO.readAll(dir + "/out") == expected, "the bytes (direct: \(w.isDirect), threads \(threads))")
            XCTAssertEqual(sha, SHA256Digest.hex(of: expected))
            var st = stat()
            XCTAssertEqual(stat(dir + "/out", &st), 0)
            XCTAssertEqual(st.st_mode & 0o777, 0o600)

            // Exactly one block, and nothing at all.
            let exact = try FileIO.Writer(path: dir + "/exact", mode: 0o600, check: .sha256, direct: true, block: block)
            let one = bytes(block, 9)
            try exact.write(one)
            XCTAssertEqual(try exact.finish(), SHA256Digest.hex(of: one))
            XCTAssertTrue(try FileIO.readAll(dir + "/exact") == one, "one block's bytes")
            let none = try FileIO.Writer(path: dir + "/none", mode: 0o600, check: .sha256, direct: true, block: block)
            XCTAssertEqual(try none.finish(), SHA256Digest.hex(of: []))
            XCTAssertEqual(try FileIO.readAll(dir + "/none"), [])
        }
    }
}
