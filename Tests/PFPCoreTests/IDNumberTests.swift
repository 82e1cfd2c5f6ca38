import XCTest
@testable import PFPCore

final class IDNumberTests: XCTestCase {
    // 11010519491231002X is the standard's own example number.
    func testValidNumberWithCheckX() throws {
        guard case .valid(let id, let up) = IDNumber.parse("11010519491231002X") else {
            return XCTFail("should be valid")
        }
        XCTAssertFalse(up)
        XCTAssertEqual(id.description, "11010519491231002X")
        XCTAssertEqual(id.birthDate?.description, "1949-12-31")
        XCTAssertFalse(id.isMale)  // sequence 002 is even
        XCTAssertEqual(id.masked, "110105********002X")
    }

    /// The check character against the standard's weights written out, for many
    /// numbers: exactly one of the eleven check characters is accepted.
    func testCheckCharacterAgainstTheStandardsWeights() {
        let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        let checks = Array("10X98765432")
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let area = Int.random(in: 100_000...999_999, using: &rng)
            let date = CivilDate(days: Int32.random(in: -20_000...20_000, using: &rng)).components
            let seq = Int.random(in: 0...999, using: &rng)
            let body = String(area) + String(format: "%04d%02d%02d%03d", date.year, date.month, date.day, seq)
            let sum = zip(body, weights).reduce(0) { $0 + Int(String($1.0))! * $1.1 }
            let expected = checks[sum % 11]
            for c in checks {
                XCTAssertEqual(IDNumber.parse(body + String(c)).isValid, c == expected, body + String(c))
            }
        }
    }

    func testLowerCaseXIsAcceptedAndUpperCased() {
        guard case .valid(let id, _) = IDNumber.parse("11010519491231002x") else { return XCTFail("should be valid") }
        XCTAssertEqual(id.description, "11010519491231002X")
    }

    func testWrongCheckCharacterIsInvalid() {
        XCTAssertFalse(IDNumber.parse("110105194912310021").isValid)
        XCTAssertFalse(IDNumber.parse("11010519491231002Y").isValid)
    }

    func testBirthDateMustExist() {
        // Build numbers with a valid check character but an impossible date.
        for body in ["11010519490230001", "11010520230229001", "11010519491300001"] {
            let id = withCheck(body)
            XCTAssertFalse(IDNumber.parse(id).isValid, id)
        }
        XCTAssertTrue(IDNumber.parse(withCheck("11010520240229001")).isValid)
    }

    func testFifteenDigitNumbersAreUpgraded() {
        // 15-digit: 6 area + YYMMDD + 3 sequence; 18-digit inserts 19 and appends the check.
        guard case .valid(let id, let up) = IDNumber.parse("110105491231002") else { return XCTFail("should be valid") }
        XCTAssertTrue(up)
        XCTAssertEqual(id.description, "11010519491231002X")
        XCTAssertFalse(IDNumber.parse("110105490231002").isValid)  // 1949-02-31
        XCTAssertFalse(IDNumber.parse("11010549123100A").isValid)
    }

    func testOtherLengthsAndCharactersAreInvalid() {
        for bad in [
            "", "1101051949123100", "1101051949123100211", "11010519491231002 ", "A1010519491231002X",
            "１１０１０５１９４９１２３１００２X",
        ] {
            XCTAssertFalse(IDNumber.parse(bad).isValid, bad)
        }
    }

    func testKeyOrderIsTextOrder() {
        let texts = [
            "11010519491231002X", withCheck("11010519491231003"), withCheck("31010119800101001"),
            withCheck("11010519491231002").replacingOccurrences(of: "X", with: "X"),
        ]
        let ids = texts.compactMap { t -> IDNumber? in
            if case .valid(let id, _) = IDNumber.parse(t) { return id } else { return nil }
        }
        XCTAssertEqual(ids.sorted().map(\.description), ids.map(\.description).sorted())
    }

    func testMakeProducesValidNumbers() {
        let d = CivilDate.parse("1980-02-29")!
        for seq in 0..<50 {
            let id = IDNumber.make(area: 310101, birth: d, sequence: seq)
            guard case .valid(let back, _) = IDNumber.parse(id.description) else { return XCTFail(id.description) }
            XCTAssertEqual(back, id)
            XCTAssertEqual(back.birthDate, d)
            XCTAssertEqual(back.isMale, seq % 2 == 1)
        }
    }

    func testMaskKeepsSixAndFour() {
        XCTAssertEqual(IDNumber.mask("310101198001010012"), "310101********0012")
        XCTAssertEqual(IDNumber.mask("short"), "*****")
    }

    func withCheck(_ body: String) -> String {
        let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        let s = zip(body.utf8, w).reduce(0) { $0 + Int($1.0 - 48) * $1.1 }
        return body + String(Array("10X98765432")[s % 11])
    }
    /// The word-at-a-time parse against a digit-by-digit reading of the standard,
    /// on numbers with a byte changed to digits' neighbours (/ : 0x3A-0x3F, 0xFA,
    /// 0xFF, X, space, NUL) anywhere, and with every check character.
    func testParseAgreesWithDigitByDigitReading() {
        func reference(_ t: [UInt8]) -> UInt64? {
            var body: UInt64 = 0, sum = 0
            for i in 0..<17 {
                guard t[i] >= 48 && t[i] <= 57 else { return nil }
                body = body * 10 + UInt64(t[i] - 48)
                sum += Int(t[i] - 48) * ((1 << (17 - i)) % 11)
            }
            let check: UInt64
            switch t[17] {
            case 48...57: check = UInt64(t[17] - 48)
            case UInt8(ascii: "X"), UInt8(ascii: "x"): check = 10
            default: return nil
            }
            guard check == [1, 0, 10, 9, 8, 7, 6, 5, 4, 3, 2][sum % 11] else { return nil }
            let ymd = Int(body / 1000 % 100_000_000)
            guard CivilDate(year: ymd / 10000, month: ymd / 100 % 100, day: ymd % 100) != nil else { return nil }
            return body * 11 + check
        }
        var rng = SystemRandomNumberGenerator()
        let odd: [UInt8] = [0x2F, 0x3A, 0x3B, 0x3F, 0xFA, 0xFF, UInt8(ascii: "X"), 0x20, 0x00, 0x40, 0x29]
        var valid = 0
        for n in 0..<200_000 {
            let birth = CivilDate(
                year: Int.random(in: 1900...2026, using: &rng), month: Int.random(in: 1...12, using: &rng),
                day: Int.random(in: 1...28, using: &rng))!
            var t = Array(
                IDNumber.make(
                    area: Int.random(in: 110000...659999, using: &rng), birth: birth,
                    sequence: Int.random(in: 0...999, using: &rng)
                ).description.utf8)
            switch n % 4 {
            case 0: break  // valid as made
            case 1:  // a byte that is no digit, and any check character (one changed digit never passes the check)
                t[Int.random(in: 0..<18, using: &rng)] = odd.randomElement(using: &rng)!
                if Bool.random(using: &rng) { t[17] = Array("0123456789X".utf8).randomElement(using: &rng)! }
            case 2: t[17] = Array("0123456789Xx".utf8).randomElement(using: &rng)!  // any check character
            default: t[Int.random(in: 0..<17, using: &rng)] = UInt8.random(in: 48...57, using: &rng)  // another digit
            }
            let got: UInt64? = t.withUnsafeBytes {
                if case .valid(let id, let up) = IDNumber.parse($0), !up { return id.key } else { return nil }
            }
            XCTAssertEqual(got, reference(t), String(decoding: t, as: UTF8.self))
            if got != nil { valid += 1 }
        }
        XCTAssertGreaterThan(valid, 50_000)
        XCTAssertLessThan(valid, 150_000)
    }
}

extension IDNumber.Parsed {
    var isValid: Bool { if case .valid = self { return true } else { return false } }
}
