import XCTest
@testable import PFPRun

final class WhatIfUnionTests: XCTestCase {
    /// The households a chained sweep value keeps: two increasing lists merged into
    /// one increasing list, each index once (what sorting their concatenation gave).
    func testUnionOfIncreasingHouseholdLists() {
        XCTAssertEqual(WhatIfSelect.union([], []), [])
        XCTAssertEqual(WhatIfSelect.union([1, 5, 9], []), [1, 5, 9])
        XCTAssertEqual(WhatIfSelect.union([], [0, 2]), [0, 2])
        XCTAssertEqual(WhatIfSelect.union([1, 4, 7], [0, 2, 8, 9]), [0, 1, 2, 4, 7, 8, 9])
        XCTAssertEqual(WhatIfSelect.union([1, 3, 5], [3, 5, 6]), [1, 3, 5, 6])
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let a = Set((0..<40).map { _ in Int32.random(in: 0..<200, using: &generator) }).sorted()
            let b = Set((0..<40).map { _ in Int32.random(in: 0..<200, using: &generator) }).sorted()
            XCTAssertEqual(WhatIfSelect.union(a, b), Set(a + b).sorted())
        }
    }
}
