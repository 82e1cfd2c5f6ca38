import XCTest
@testable import PFPIngest

/// The ID numbers on more than one record, against counting them in a dictionary:
/// small inputs (one bucket) and large ones (buckets by hash, pieces in parallel),
/// keys seen twice, three times and many times, and none repeated.
final class RepeatedKeysTests: XCTestCase {
    struct Rng {
        var x: UInt64;
        mutating func next() -> UInt64 { x = x &* 6364136223846793005 &+ 1442695040888963407; return x >> 11 }
    }

    func check(count: Int, repeats: Int, seed: UInt64) {
        var rng = Rng(x: seed)
        var keys = (0..<count).map { _ in 1 + rng.next() % 900_000_000_000 }
        for _ in 0..<repeats {
            let k = keys[Int(rng.next() % UInt64(keys.count))]
            for _ in 0..<(1 + Int(rng.next() % 3)) { keys.insert(k, at: Int(rng.next() % UInt64(keys.count + 1))) }
        }
        var seen: [UInt64: Int] = [:]
        for k in keys { seen[k, default: 0] += 1 }
        let want = Set(seen.filter { $0.value > 1 }.keys)
        let got = IDIndex.repeatedKeys(keys)
        XCTAssertEqual(got.count, Set(got).count, "\(count) keys: a repeated key listed twice")
        XCTAssertEqual(Set(got), want, "\(count) keys, \(repeats) repeated")
    }

    func testSmallAndLarge() {
        check(count: 0, repeats: 0, seed: 1)
        check(count: 50, repeats: 0, seed: 2)
        check(count: 50, repeats: 10, seed: 3)
        check(count: 70_000, repeats: 300, seed: 4)
        check(count: 300_000, repeats: 5_000, seed: 5)
    }

    func testEveryKeyRepeated() {
        let keys = (1...100_000).flatMap { [UInt64($0) * 1_000_003, UInt64($0) * 1_000_003] }
        XCTAssertEqual(Set(IDIndex.repeatedKeys(keys)), Set((1...100_000).map { UInt64($0) * 1_000_003 }))
    }
}
