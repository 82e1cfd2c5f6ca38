import XCTest
import PFPTestSupport
@testable import PFPCore
@testable import PFPIngest

/// Every reject reason of feeds.md, on the row where the contract says, with the
/// first reason that applies.
final class RejectReasonTests: XCTestCase {
    let a = idWithCheck("31010119800101001")  // male, 1980-01-01
    let b = idWithCheck("31010119820202002")  // female
    let c = idWithCheck("31010120100303003")
    let stranger = idWithCheck("31010119700707007")

    func testPopulationRejectReasons() throws {
        let box = InboxBuilder()
        box.person("H1", a)  // line 2 ok
        box.raw("population", "H1,\(b),Name,F,1982-02-02,spouse,local,310101,310101001")  // 3 malformed (9 fields)
        box.person("H1", b, sex: "", relation: "spouse")  // 4 missing_field
        box.person(
            "H1", String(b.dropLast()) + (b.hasSuffix("1") ? "2" : "1"), sex: "F", birth: "1982-02-02",
            relation: "spouse")  // 5 bad_id
        box.person("H2", c)  // 6 duplicate_id
        box.person("H3", c, relation: "child")  // 7 duplicate_id
        box.person("H4", idWithCheck("31010119900101011"), birth: "1990-02-30")  // 8 bad_date (column)
        box.person("H4", idWithCheck("31010120261124013"))  // 9 bad_date (born after as_of)
        box.person("H5", idWithCheck("31010119900101021"), relation: "cousin")  // 10 unknown_enum
        box.person("H5", idWithCheck("31010119900101031"), sex: "X")  // 11 unknown_enum
        box.person("H5", idWithCheck("31010119900101041"), hukou: "foreign")  // 12 unknown_enum
        box.person("H6", idWithCheck("31010119900101051"), street: "310104001")  // 13 bad_code (prefix)
        box.person("H6", idWithCheck("31010119900101061"), district: "31010")  // 14 bad_code (length)
        box.person("H6", idWithCheck("31010119900101071"), community: "310101001A01")  // 15 bad_code (digits)
        box.person("H#7", idWithCheck("31010119900101081"))  // 16 bad_household_id
        box.person(String(repeating: "H", count: 33), idWithCheck("31010119900101091"))  // 17 bad_household_id
        box.person("H8", idWithCheck("31010119900101101"), sex: "F", birth: "1990-01-02")  // 18 accepted with warnings
        let o = try box.ingest()
        XCTAssertEqual(
            o.rejectTriples.filter { $0.hasPrefix("population") },
            [
                "population:3:malformed_row", "population:4:missing_field", "population:5:bad_id",
                "population:6:duplicate_id", "population:7:duplicate_id", "population:8:bad_date",
                "population:9:bad_date",
                "population:10:unknown_enum", "population:11:unknown_enum", "population:12:unknown_enum",
                "population:13:bad_code", "population:14:bad_code", "population:15:bad_code",
                "population:16:bad_household_id", "population:17:bad_household_id",
            ])
        let pop = o.reports.first { $0.feed == "population" }!
        XCTAssertEqual(pop.rowsRead, 17)
        XCTAssertEqual(pop.accepted + pop.rejected, pop.rowsRead)
        XCTAssertEqual(pop.warnings["sex_differs_from_id"], 1)
        XCTAssertEqual(pop.warnings["birth_date_differs_from_id"], 1)
        // Sex and birth date come from the ID number.
        let p = o.result.personID.firstIndex(
            of: {
                if case .valid(let i, _) = IDNumber.parse(idWithCheck("31010119900101101")) { return i.key }; return 0
            }())!
        XCTAssertEqual(o.result.male[p], 1)
        XCTAssertEqual(CivilDate(days: o.result.birth[p]).description, "1990-01-01")
    }

    func testDuplicateCountsRecordsWithOtherFaults() throws {
        // A record with a valid ID but an empty field still makes the other one a duplicate.
        let box = InboxBuilder()
        box.person("H1", a)
        box.person("H2", a, sex: "")
        let o = try box.ingest()
        XCTAssertEqual(o.rejectTriples, ["population:2:duplicate_id", "population:3:missing_field"])
        XCTAssertEqual(o.result.personCount, 0)
    }

    func testTagRejectReasons() throws {
        let box = InboxBuilder()
        box.person("H1", a)
        box.tag("hr", a, "income.wage", "100")  // 2 ok
        box.raw("hr", "\(a),income.wage,100")  // 3 malformed_row
        box.raw("hr", "\(a),income.wage,\"1\"00,2026-11-20")  // 4 malformed_row (text after quote)
        box.tag("hr", a, "income.wage", "")  // 5 missing_field
        box.tag("hr", String(a.dropLast()) + "Y", "income.wage", "1")  // 6 bad_id
        box.tag("hr", stranger, "income.wage", "1")  // 7 unknown_person
        box.tag("hr", a, "income.wage", "1", asOf: "2026-02-30")  // 8 bad_date
        box.tag("hr", a, "income.wage", "1", asOf: "2026-11-24")  // 9 future_as_of
        box.tag("hr", a, "income.bonus", "1")  // 10 unknown_tag
        box.tag("hr", a, "civil.lives_alone", "true")  // 11 foreign_tag
        box.tag("hr", a, "income.wage", "1,000.00".quotedCSV)  // 12 bad_value
        box.tag("hr", a, "income.wage", "12.345")  // 13 bad_value
        box.tag("hr", a, "employment.status", "Employed")  // 14 bad_value (enum)
        box.tag("hr", a, "income.wage", "-5.00")  // 15 out_of_range
        box.tag("hr", stranger, "no.such", "x", asOf: "bad")  // 16 unknown_person (first that applies)
        box.tag("hr", a, "no.such", "x", asOf: "2026-12-01")  // 17 future_as_of before unknown_tag
        box.tag("disability", a, "disability.grade", "5")  // 2 out_of_range
        box.tag("disability", a, "disability.grade", "+1")  // 3 bad_value
        box.tag("civil", a, "civil.lives_alone", "yes")  // 2 bad_value
        box.tag("civil", a, "receiving.nonexistent_policy", "true")  // 3 unknown_tag
        box.tag("civil", a, "civil.deceased_on", "2026-02-29")  // 4 bad_value (date)
        box.tag("utilities", a, "utility.arrears_months", "121")  // 2 out_of_range
        box.tag("verification", a, "assets.vehicles", "99999999999999999999")  // 2 out_of_range (too large)
        let o = try box.ingest()
        XCTAssertEqual(
            o.rejectTriples,
            [
                "hr:3:malformed_row", "hr:4:malformed_row", "hr:5:missing_field", "hr:6:bad_id", "hr:7:unknown_person",
                "hr:8:bad_date", "hr:9:future_as_of", "hr:10:unknown_tag", "hr:11:foreign_tag", "hr:12:bad_value",
                "hr:13:bad_value", "hr:14:bad_value", "hr:15:out_of_range", "hr:16:unknown_person",
                "hr:17:future_as_of",
                "disability:2:out_of_range", "disability:3:bad_value",
                "civil:2:bad_value", "civil:3:unknown_tag", "civil:4:bad_value",
                "verification:2:out_of_range", "utilities:2:out_of_range",
            ].sorted { feedOrder($0) < feedOrder($1) })
        for r in o.reports { XCTAssertEqual(r.accepted + r.rejected, r.rowsRead, r.feed) }
        XCTAssertEqual(o.value("income.wage", of: a)?.value, 10_000)
    }

    func testTagsOfRejectedPopulationRowsAreUnknownPerson() throws {
        let box = InboxBuilder()
        box.person("H1", a)
        box.person("H2", a)
        box.tag("hr", a, "income.wage", "1")
        let o = try box.ingest()
        XCTAssertEqual(
            o.rejectTriples, ["hr:2:unknown_person", "population:2:duplicate_id", "population:3:duplicate_id"])
    }

    func testFifteenDigitAndLowerCaseIDsMatchTheirPerson() throws {
        let box = InboxBuilder()
        let eighteen = idWithCheck("31010119491231002")
        box.person("H1", "310101491231002")  // 15 digits in the population feed
        box.tag("hr", eighteen, "income.wage", "10")  // 18 digits in a tag feed
        let x = "11010519491231002X"
        box.person("H2", x.lowercased())
        box.tag("hr", "110105491231002", "income.pension", "20")
        let o = try box.ingest()
        XCTAssertEqual(o.rejects.count, 0, o.rejectTriples.joined(separator: " "))
        XCTAssertEqual(o.value("income.wage", of: eighteen)?.value, 1000)
        XCTAssertEqual(o.value("income.pension", of: x)?.value, 2000)
        XCTAssertEqual(o.reports.first { $0.feed == "population" }?.warnings["id_upgraded_15_to_18"], 1)
    }

    /// rejects.csv order: feed name in byte order, then line.
    func feedOrder(_ triple: String) -> (String, Int) {
        let parts = triple.split(separator: ":")
        return (String(parts[0]), Int(parts[1])!)
    }
}

extension String {
    var quotedCSV: String { "\"" + replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
}
