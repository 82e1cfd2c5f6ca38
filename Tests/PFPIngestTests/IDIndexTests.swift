import XCTest
import PFPCore
@testable import PFPIngest

/// The person lookups find every key's index and nothing else: the ingest's
/// (`IDIndex`, keys in the table) and the what-if's and match's for former
/// members (`ColumnIndex`, row numbers only, the keys read in the column).
final class IDIndexTests: XCTestCase {
    func testEveryKeyIsFoundAndNoOther() {
        for n in [0, 1, 3, 1000, 100_000, 174_763] {
            let keys = (0..<n).map { UInt64($0) &* 0x9E37_79B9 &+ 310_101_199_000_000_000 }
            let index = IDIndex(keys: keys), rows = ColumnIndex(keys: Column(keys))
            for (i, k) in keys.enumerated() where index.find(k) != Int32(i) || rows.find(k) != Int32(i) {
                XCTFail("key \(i) of \(n) not found (\(index.find(k)), \(rows.find(k)))")
                break
            }
            let absents: [UInt64] = [1, keys.last.map { $0 &+ 1 } ?? 7, 310_101_199_000_000_001]
            for absent in absents {
                XCTAssertEqual(index.find(absent), -1)
                XCTAssertEqual(rows.find(absent), -1)
            }
        }
    }

    /// A key given twice is found at its last row, by both.
    func testAKeyGivenTwiceIsFoundAtItsLastRow() {
        let keys: [UInt64] = [11, 22, 11, 33]
        XCTAssertEqual(IDIndex(keys: keys).find(11), 2)
        XCTAssertEqual(ColumnIndex(keys: Column(keys)).find(11), 2)
        XCTAssertEqual(ColumnIndex(keys: Column(keys)).find(33), 3)
    }
}
