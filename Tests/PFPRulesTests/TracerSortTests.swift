import XCTest
@testable import PFPRules

final class TracerSortTests: XCTestCase {
    /// The values read, sorted by their names' ranks then person, as the standard
    /// library's sort orders them: small traces (insertion sort) and large ones.
    func testValuesReadSortByRankThenPerson() {
        // Definitions 0..<6 and two previous(...)s (-1, -2), ranked apart from their indexes.
        let valueRank: [Int32] = [5, 0, 3, 7, 1, 6]
        let rememberedRank: [Int32] = [2, 4]
        func rank(_ v: Int32) -> Int32 { v >= 0 ? valueRank[Int(v)] : rememberedRank[Int(-1 - v)] }
        var generator = SystemRandomNumberGenerator()
        for count in [0, 1, 2, 3, 7, 31, 32, 33, 90] {
            for _ in 0..<20 {
                let t = Tracer()
                var reads: [(Int32, UInt64)] = []
                for _ in 0..<count {
                    let v = Int32.random(in: -2...5, using: &generator)
                    let person = UInt64.random(in: 0...4, using: &generator)
                    if reads.contains(where: { $0 == (v, person) }) { continue }  // a value is read once per person
                    reads.append((v, person))
                    t.readValue(v, person: person, value: .num(Q(Int128(v) * 100 + Int128(person))))
                }
                t.sortValuesRead(valueRank: valueRank, rememberedRank: rememberedRank)
                let expected = reads.sorted { rank($0.0) != rank($1.0) ? rank($0.0) < rank($1.0) : $0.1 < $1.1 }
                XCTAssertEqual(t.valuesRead.map(\.value), expected.map(\.0), "\(count) reads")
                XCTAssertEqual(t.valuesRead.map(\.person), expected.map(\.1), "\(count) reads")
                // Each read keeps its own result.
                for r in t.valuesRead {
                    XCTAssertEqual(r.result, .num(Q(Int128(r.value) * 100 + Int128(r.person))))
                }
            }
        }
    }
}
