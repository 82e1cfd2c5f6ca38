import XCTest
@testable import PFPCore

final class SHA256Tests: XCTestCase {
    // FIPS 180-2 appendix B and common vectors.
    let vectors: [(String, String)] = [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        (
            "The quick brown fox jumps over the lazy dog",
            "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"
        ),
    ]

    func check(portable: Bool) {
        SHA256Digest.forcePortable(portable)
        defer { SHA256Digest.forcePortable(false) }
        for (input, hex) in vectors {
            XCTAssertEqual(SHA256Digest.hex(of: Array(input.utf8)), hex, input)
        }
        // One million 'a'.
        XCTAssertEqual(
            SHA256Digest.hex(of: [UInt8](repeating: 0x61, count: 1_000_000)),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testPortablePath() { check(portable: true) }
    func testHardwarePathWhenPresent() { check(portable: false) }

    func testStreamingInPiecesEqualsWhole() {
        var data = [UInt8]()
        var x: UInt32 = 1
        for _ in 0..<100_003 { x = x &* 1_103_515_245 &+ 12345; data.append(UInt8(truncatingIfNeeded: x >> 16)) }
        let whole = SHA256Digest.hex(of: data)
        for step in [1, 7, 63, 64, 65, 1000] {
            var d = SHA256Digest()
            var i = 0
            while i < data.count {
                let end = min(data.count, i + step)
                data.withUnsafeBytes { d.update(UnsafeRawBufferPointer(rebasing: $0[i..<end])) }
                i = end
            }
            XCTAssertEqual(d.finalizeHex(), whole, "step \(step)")
        }
        SHA256Digest.forcePortable(true)
        XCTAssertEqual(SHA256Digest.hex(of: data), whole)
        SHA256Digest.forcePortable(false)
    }
}
