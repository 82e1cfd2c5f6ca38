import XCTest
@testable import PFPMatch

/// `KeySet`: exactly the keys it was made from, whatever their length, with
/// keys that share a hash told apart by their text.
final class KeySetTests: XCTestCase {
    func testItHoldsExactlyItsKeys() {
        var keys: [String] = []
        for h in 0..<20_000 {
            keys.append("push,H\(String(format: "%010d", h)),,dibao")
            keys.append("push,H\(String(format: "%010d", h)),11000019\(h % 10)70728016\(h % 7),elderly_allowance")
        }
        keys += ["", "a", "1234567", "12345678", "123456789", "户籍,家庭"]
        let set = KeySet(keys)
        for k in keys { XCTAssertTrue(set.contains(k), k) }
        for h in 20_000..<20_500 { XCTAssertFalse(set.contains("push,H\(String(format: "%010d", h)),,dibao")) }
        XCTAssertFalse(set.contains("push,H0000000001,,dibao "), "one byte more")
        XCTAssertFalse(set.contains("push,H0000000001,,diba"), "one byte less")
        XCTAssertFalse(set.contains("12345679"))
        XCTAssertFalse(KeySet().contains(""))
        XCTAssertTrue(KeySet(["x", "x"]).contains("x"), "a key given twice")
    }

    /// Keys whose hashes agree are still told apart by their text: every key of a
    /// large set is found, and as many strings that are not keys are not.
    func testEveryKeyOfALargeSetIsFoundAndNoOther() {
        let keys = (0..<300_000).map { "k\($0 &* 7919)" }
        let set = KeySet(keys)
        XCTAssertEqual(keys.filter { set.contains($0) }.count, keys.count)
        XCTAssertEqual((0..<300_000).filter { set.contains("k\($0 &* 7919 + 1)") && $0 % 7919 != 0 }.count, 0)
    }
}
