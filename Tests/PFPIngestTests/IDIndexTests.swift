import XCTest
@testable import PFPIngest

/// The person lookup finds every key's index and nothing else, filled to half
/// (the ingest's) or to two thirds (`compact`, the what-if's).
final class IDIndexTests: XCTestCase {
    func testEveryKeyIsFoundAndNoOtherAtEitherFill() {
        for n in [0, 1, 3, 1000, 100_000, 174_763] {
            let keys = (0..<n).map { UInt64($0) &* 0x9E37_79B9 &+ 310_101_199_000_000_000 }
            for compact in [false, true] {
                let index = IDIndex(keys: keys, compact: compact)
                for (i, k) in keys.enumerated() where index.find(k) != Int32(i) {
                    XCTFail("key \(i) of \(n) not found (compact: \(compact))")
                    break
                }
                XCTAssertEqual(index.find(1), -1)
                XCTAssertEqual(index.find(keys.last.map { $0 &+ 1 } ?? 7), -1)
            }
        }
    }
}
