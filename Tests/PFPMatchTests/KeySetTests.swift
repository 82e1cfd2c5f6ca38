import XCTest
import PFPCore
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
        // Each key's place among the keys (the previous state's records are found by it).
        for (i, k) in keys.enumerated() where i % 97 == 0 { XCTAssertEqual(set.index(of: k), i, k) }
        XCTAssertNil(set.index(of: "push,H0000020000,,dibao"))
        XCTAssertEqual(KeySet(["y", "x", "x"]).index(of: "x"), 1, "the first place of a key given twice")
    }

    /// Keys whose hashes agree are still told apart by their text: every key of a
    /// large set is found, and as many strings that are not keys are not.
    func testEveryKeyOfALargeSetIsFoundAndNoOther() {
        let keys = (0..<300_000).map { "k\($0 &* 7919)" }
        let set = KeySet(keys)
        XCTAssertEqual(keys.filter { set.contains($0) }.count, keys.count)
        XCTAssertEqual((0..<300_000).filter { set.contains("k\($0 &* 7919 + 1)") && $0 % 7919 != 0 }.count, 0)
    }

    /// Keys read where they lie in NUL-separated text (a stored result's push
    /// keys): empty fields are not keys, each key keeps its place among the others.
    func testKeysOfJoinedTextAreFoundWhereTheyLie() {
        let text = Array("\0push,H1,,dibao\0\0push,H2,110000195711021472,tekun\0x".utf8)
        let set = KeySet(joined: Column(text))
        XCTAssertEqual(set.count, 3)
        XCTAssertEqual(set.strings, ["push,H1,,dibao", "push,H2,110000195711021472,tekun", "x"])
        XCTAssertEqual(set.index(of: "push,H2,110000195711021472,tekun"), 1)
        XCTAssertEqual(set.index(of: "x"), 2)
        XCTAssertFalse(set.contains(""))
        XCTAssertFalse(set.contains("push,H1,,dibao\0"))
        XCTAssertEqual(KeySet(joined: Column([])).count, 0)
    }
}
