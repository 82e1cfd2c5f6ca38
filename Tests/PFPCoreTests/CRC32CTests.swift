import XCTest
@testable import PFPCore

final class CRC32CTests: XCTestCase {
    /// RFC 3720 (iSCSI) appendix B.4 and the usual check value.
    func check(portable: Bool) {
        CRC32C.forcePortable(portable)
        defer { CRC32C.forcePortable(false) }
        func crc(_ b: [UInt8]) -> UInt32 { b.withUnsafeBytes { CRC32C(of: $0).value } }
        XCTAssertEqual(crc(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(crc([]), 0)
        XCTAssertEqual(crc([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(crc([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(crc((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(crc((0..<32).map { UInt8(31 - $0) }), 0x113F_DB5C)
    }

    func testPortablePath() { check(portable: true) }
    func testHardwarePathWhenPresent() { check(portable: false) }

    /// Both paths agree on every length and alignment, and a stream in pieces
    /// gives the value of the whole.
    func testPathsAgreeAndPiecesEqualWhole() {
        var data = [UInt8]()
        var x: UInt32 = 7
        for _ in 0..<70_001 { x = x &* 1_103_515_245 &+ 12345; data.append(UInt8(truncatingIfNeeded: x >> 16)) }
        data.withUnsafeBytes { all in
            for start in 0..<9 {
                for len in [0, 1, 7, 8, 9, 15, 16, 17, 1000, 65_536] {
                    let piece = UnsafeRawBufferPointer(rebasing: all[start..<start + len])
                    let hw = CRC32C(of: piece).value
                    CRC32C.forcePortable(true)
                    let sw = CRC32C(of: piece).value
                    CRC32C.forcePortable(false)
                    XCTAssertEqual(hw, sw, "start \(start) length \(len)")
                }
            }
            let whole = CRC32C(of: all).value
            for step in [1, 7, 8, 63, 4096] {
                var c = CRC32C()
                var i = 0
                while i < all.count {
                    let end = min(all.count, i + step); c.update(UnsafeRawBufferPointer(rebasing: all[i..<end]));
                    i = end
                }
                XCTAssertEqual(c.value, whole, "step \(step)")
            }
        }
        var c = CRC32C()
        "123456789".utf8.withContiguousStorageIfAvailable { c.update(UnsafeRawBufferPointer($0)) }
        XCTAssertEqual(c.text, "crc32c:e3069283")
    }
}

/// CRC-32 (IEEE), the shard function: zlib's, Python's zlib.crc32 and Spark SQL's crc32 values.
final class CRC32Tests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(CRC32.of(""), 0)
        XCTAssertEqual(CRC32.of("a"), 0xE8B7_BE43)
        XCTAssertEqual(CRC32.of("123456789"), 0xCBF4_3926)
        XCTAssertEqual(CRC32.of("The quick brown fox jumps over the lazy dog"), 0x414F_A339)
        // python3 -c "import zlib; print(hex(zlib.crc32(b'H0000000004')))"
        XCTAssertEqual(CRC32.of("H0000000004"), 0xE389_9DDF)
    }

    func testShardIsTheCRCModuloTheCount() {
        Array("123456789".utf8).withUnsafeBytes { b in
            XCTAssertEqual(CRC32.shard(of: b, count: 7), Int(0xCBF4_3926 % 7))
            XCTAssertEqual(CRC32.shard(of: b, count: 1), 0)
        }
    }
}
