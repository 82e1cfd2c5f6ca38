import XCTest
import PFPCore
import PFPFormats
@testable import PFPRules
@testable import PFPMatch

/// Numbers in explanations are written straight into bytes; they must read
/// exactly as `Q.description` (the text `pfp explain` and the rule tests use).
final class ExplanationTextTests: XCTestCase {
    func testDecimalNumbersReadAsTheirDescription() {
        var checked = 0
        for d: Int128 in [1, 2, 3, 4, 5, 7, 10, 20, 25, 50, 100, 200, 1000] {
            for n: Int128 in Array(-2_050...2_050) + [
                123_456_789_012, -987_654_321_099, Int128(Int64.max), Int128(Int64.min) + 1,
            ] {
                let q = Q(n, d)
                let w = ByteWriter()
                if w.decimal(q) {
                    XCTAssertEqual(String(decoding: w.out, as: UTF8.self), "\"\(q.description)\"", "\(n)/\(d)")
                    checked += 1
                } else {
                    // Only numbers whose reduced denominator is not 1 and divides 100 are written this way.
                    let r = q.reduced()
                    XCTAssertTrue(
                        r.d == 1 || 100 % r.d != 0 || Int64(exactly: r.n * (100 / r.d)) == nil, "\(n)/\(d) refused")
                    XCTAssertEqual(w.count, 0)
                }
            }
        }
        XCTAssertGreaterThan(checked, 30_000)
    }
}
