import XCTest
@testable import PFPCore
import PFPSchema
@testable import PFPIngest

/// Households assembled from accepted population rows against a plain reference
/// (households in byte order of their id, members by ID number), in many small
/// parallel pieces (a household split across pieces included), with rows mostly in
/// household order, some households' rows out of order, and rejected rows between.
final class AssembleTests: XCTestCase {
    func words(_ s: String) -> (UInt64, UInt64, UInt64, UInt64) {
        var w: [UInt64] = [0, 0, 0, 0]
        for (i, ch) in s.utf8.enumerated() { w[i >> 3] |= UInt64(ch) << UInt64(56 - 8 * (i & 7)) }
        return (w[0], w[1], w[2], w[3])
    }

    func check(seed: UInt64, pieceRows: Int) {
        var rng = ResolveTests.Rng(x: seed)
        var rows: [PopulationRow] = []
        var accepted: [Int] = []
        var expected: [(hh: String, id: UInt64, row: Int)] = []
        var households: [String] = []
        for k in 0..<400 {
            let suffix: String = rng.next(4) == 0 ? "-x\(rng.next(1000))" : ""
            households.append("H\(100_000 + k * 7)" + suffix)
        }
        var order = Array(households.indices)
        for _ in 0..<25 { order.swapAt(rng.next(order.count), rng.next(order.count)) }  // a few out of order
        var nextID: UInt64 = 1_000_000
        for h in order {
            for _ in 0..<(1 + rng.next(5)) {
                nextID += UInt64(1 + rng.next(50))
                var r = PopulationRow()
                r.line = Int32(rows.count + 2)
                r.id = rng.next(2) == 0 ? nextID : 9_000_000 - nextID  // members not in ID order
                r.household = words(households[h])
                r.birth = Int32(rng.next(30_000)); r.male = rng.next(2) == 0; r.relation = UInt8(rng.next(6))
                r.hukou = UInt8(rng.next(3)); r.district = Int32(310_000 + rng.next(20));
                r.street = Int32(rng.next(300))
                r.community = Int64(rng.next(1_000_000))
                if rng.next(10) == 0 {
                    r.early = .malformedRow
                } else {
                    accepted.append(rows.count); expected.append((households[h], r.id, rows.count))
                }
                rows.append(r)
            }
        }
        let result = IngestResult(runDate: CivilDate.parse("2026-11-23")!)
        IngestStage.assembleHouseholds(rows: rows, accepted: accepted, into: result, pieceRows: pieceRows)
        expected.sort { $0.hh != $1.hh ? $0.hh.utf8.lexicographicallyPrecedes($1.hh.utf8) : $0.id < $1.id }
        let ids = expected.map(\.hh).reduce(into: [String]()) { if $0.last != $1 { $0.append($1) } }
        XCTAssertEqual(result.householdIDs, ids)
        XCTAssertEqual(result.personID.array, expected.map(\.id))
        XCTAssertEqual(result.household.array, expected.map { Int32(ids.firstIndex(of: $0.hh)!) })
        XCTAssertEqual(result.householdStart.count, ids.count + 1)
        for (h, id) in ids.enumerated() {
            let members = Int(result.householdStart[h])..<Int(result.householdStart[h + 1])
            XCTAssertEqual(Set(members.map { expected[$0].hh }), [id])
        }
        XCTAssertEqual(result.householdStart.last, Int32(expected.count))
        XCTAssertEqual(result.birth.array, expected.map { rows[$0.row].birth })
        XCTAssertEqual(result.male.array, expected.map { rows[$0.row].male ? 1 : 0 })
        XCTAssertEqual(result.relation.array, expected.map { rows[$0.row].relation })
        XCTAssertEqual(result.hukou.array, expected.map { rows[$0.row].hukou })
        XCTAssertEqual(result.district.array, expected.map { rows[$0.row].district })
        XCTAssertEqual(result.street.array, expected.map { rows[$0.row].street })
        XCTAssertEqual(result.community.array, expected.map { rows[$0.row].community })
    }

    func testMatchesTheReferenceInAnyNumberOfPieces() {
        for seed in 1...4 as ClosedRange<UInt64> {
            for pieceRows in [1, 3, 17, 1_000_000] { check(seed: seed, pieceRows: pieceRows) }
        }
    }
}
