import XCTest
@testable import PFPCore

final class CivilDateTests: XCTestCase {
    func testParsesRealDatesOnly() {
        XCTAssertEqual(CivilDate.parse("2026-11-24")?.description, "2026-11-24")
        XCTAssertEqual(CivilDate.parse("2024-02-29")?.description, "2024-02-29")
        XCTAssertNil(CivilDate.parse("2023-02-29"))
        XCTAssertNil(CivilDate.parse("2023-02-30"))
        XCTAssertNil(CivilDate.parse("1900-02-29"))  // not a leap year
        XCTAssertNotNil(CivilDate.parse("2000-02-29"))  // a leap year
        XCTAssertNil(CivilDate.parse("2026-13-01"))
        XCTAssertNil(CivilDate.parse("2026-00-10"))
        XCTAssertNil(CivilDate.parse("2026-1-01"))
        XCTAssertNil(CivilDate.parse("2026/11/24"))
        XCTAssertNil(CivilDate.parse("20261124"))
        XCTAssertNil(CivilDate.parse(" 2026-11-24"))
    }

    /// The cache of parsed dates gives what parsing gives, field after field:
    /// repeated dates, many dates sharing slots, invalid ones, NUL bytes, other lengths.
    func testParseCacheGivesWhatParseGives() {
        var rng = SystemRandomNumberGenerator()
        var fields: [[UInt8]] = [
            Array(repeating: 0, count: 10), Array("2026-02-30".utf8), Array("2026-11-23".utf8),
            Array("2026-11-2".utf8), Array("2026-11-230".utf8), Array("2026/11/23".utf8), [],
        ]
        for _ in 0..<20_000 {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0:  // a few dates, repeated
                fields.append(Array(CivilDate(days: 20_400 + Int32.random(in: 0..<60, using: &rng)).description.utf8))
            case 1:  // many dates
                fields.append(
                    Array(CivilDate(days: Int32.random(in: -700_000...2_900_000, using: &rng)).description.utf8))
            case 2:  // a real date with one byte changed
                var f = Array(CivilDate(days: 20_400 + Int32.random(in: 0..<60, using: &rng)).description.utf8)
                f[Int.random(in: 0..<10, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                fields.append(f)
            default:  // digits anywhere, months and days out of range included
                fields.append((0..<10).map { i in i == 4 || i == 7 ? 45 : UInt8.random(in: 48...57, using: &rng) })
            }
        }
        var cache = CivilDate.ParseCache()
        var hits = 0
        for f in fields + fields.shuffled(using: &rng) {
            f.withUnsafeBytes { b in
                let want = CivilDate.parse(b)
                XCTAssertEqual(cache.parse(b), want, String(decoding: f, as: UTF8.self))
                if want != nil { hits += 1 }
            }
        }
        XCTAssertGreaterThan(hits, 20_000)
    }

    func testDayArithmeticRoundTrips() {
        XCTAssertEqual(CivilDate(year: 1970, month: 1, day: 1)!.days, 0)
        var d = CivilDate(year: 1899, month: 12, day: 25)!
        for _ in 0..<100_000 {
            let c = d.components
            XCTAssertEqual(CivilDate(year: c.year, month: c.month, day: c.day), d)
            d = d.adding(days: 1)
        }
    }

    func testAgeIsWholeYears() {
        let birth = CivilDate.parse("1966-11-24")!
        XCTAssertEqual(birth.age(on: CivilDate.parse("2026-11-23")!), 59)
        XCTAssertEqual(birth.age(on: CivilDate.parse("2026-11-24")!), 60)
    }

    func testLeapDayBirthdayTurnsOlderOnFirstOfMarchInCommonYears() {
        let birth = CivilDate.parse("2008-02-29")!
        XCTAssertEqual(birth.age(on: CivilDate.parse("2026-02-28")!), 17)
        XCTAssertEqual(birth.age(on: CivilDate.parse("2026-03-01")!), 18)
        XCTAssertEqual(birth.age(on: CivilDate.parse("2028-02-28")!), 19)
        XCTAssertEqual(birth.age(on: CivilDate.parse("2028-02-29")!), 20)
    }
}

final class MoneyTests: XCTestCase {
    func testAcceptsDigitsWithUpToTwoDecimals() {
        XCTAssertEqual(Money.parseFen("0"), .value(0))
        XCTAssertEqual(Money.parseFen("1590"), .value(159_000))
        XCTAssertEqual(Money.parseFen("1590.5"), .value(159_050))
        XCTAssertEqual(Money.parseFen("1590.05"), .value(159_005))
        XCTAssertEqual(Money.parseFen("007.10"), .value(710))
    }

    func testRejectsOtherShapes() {
        for bad in ["", "+5", "1e3", "1,000.00", ".5", "5.", "12.345", " 5", "5 ", "abc", "1.2.3", "-", "--5", "5-"] {
            XCTAssertEqual(Money.parseFen(bad), .malformed, bad)
        }
    }

    func testNegativeAndHugeAreOutOfRange() {
        XCTAssertEqual(Money.parseFen("-5.00"), .outOfRange)
        XCTAssertEqual(Money.parseFen("-0"), .outOfRange)
        XCTAssertEqual(Money.parseFen("99999999999999999999999"), .outOfRange)
        XCTAssertEqual(Money.parseFen("92233720368547758.07"), .value(Int64.max))
        XCTAssertEqual(Money.parseFen("92233720368547758.08"), .outOfRange)
    }

    func testFormat() {
        XCTAssertEqual(Money.format(fen: 159_005), "1590.05")
        XCTAssertEqual(Money.format(fen: 7), "0.07")
    }
}

final class DecimalTextTests: XCTestCase {
    /// The bytes are String(n)'s, for the extremes and for numbers of every length.
    func testDigitsAreTheNumbersText() {
        var numbers: [Int64] = [0, 1, -1, 9, 10, -10, 99, 100, Int64.max, Int64.min, Int64.max - 1, Int64.min + 1]
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<20_000 {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            numbers.append(Int64(bitPattern: x) >> Int64(x % 63))
        }
        let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: DecimalText.maxBytes)
        defer { buf.deallocate() }
        for n in numbers {
            let k = DecimalText.write(n, to: buf)
            XCTAssertEqual(String(decoding: UnsafeBufferPointer(start: buf, count: k), as: UTF8.self), String(n))
        }
    }
}
