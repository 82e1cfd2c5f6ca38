import XCTest
import PFPTestSupport
@testable import PFPCore
import PFPSchema
@testable import PFPRules

/// Reform files (issue 21): their syntax, how their entries merge into the
/// parameters, and every load error with its file:line:column.
final class ReformTests: XCTestCase {
    var work = ""
    override func setUpWithError() throws { work = try makeWorkDirectory("pfp-reform") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: work) }

    func reform(_ text: String, name: String = "r.reform") throws -> Reform {
        let path = work + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try Reform.load(path: path)
    }

    func rules(_ reform: Reform?, on date: String = "2026-11-24") throws -> RuleSet {
        let (tags, policies) = try loadCatalogues()
        return try RuleSet.load(
            directory: repoRoot + "/Pipelines/rules", catalogue: tags, policyCatalogue: policies,
            runDate: CivilDate.parse(date)!, reform: reform)
    }

    /// The error a reform gives when loaded and merged: its location and message.
    func failure(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> PipelineError? {
        do {
            _ = try rules(try reform(text))
            XCTFail("no error", file: file, line: line)
            return nil
        } catch let e as PipelineError {
            XCTAssertEqual(e.exitCode, .badInput, file: file, line: line)
            return e
        } catch {
            XCTFail("\(error)", file: file, line: line)
            return nil
        }
    }

    func testTheShippedReformsLoad() throws {
        for name in ["dibao_1650", "elderly_bands_2027"] {
            let r = try Reform.load(path: repoRoot + "/Pipelines/reforms/\(name).reform")
            XCTAssertFalse(r.entries.isEmpty)
            XCTAssertNotEqual(try rules(r).digest, try rules(nil).digest, "a reform changes the digest")
        }
    }

    func testAnEntryOfANewDateIsAddedAndTheLatestOnOrBeforeTheRunDateHolds() throws {
        let base = try rules(nil)
        XCTAssertEqual(base.parameters["dibao.standard"]?.value, Q(1590))
        let r = try reform(
            """
            # a comment
            reform dibao_1650 "低保标准提高到1650元"
              dibao.standard from 2026-01-01 = 1650   # in force on the run date
              dibao.standard from 2026-12-01 = 1700   # not yet
              watch.income_multiplier from 2026-01-01 = 1.6
            """)
        XCTAssertEqual(r.name, "dibao_1650")
        XCTAssertEqual(r.label, "低保标准提高到1650元")
        let merged = try rules(r)
        XCTAssertEqual(merged.parameters["dibao.standard"]?.value, Q(1650))
        XCTAssertEqual(merged.parameters["dibao.standard"]?.from, CivilDate.parse("2026-01-01"))
        XCTAssertEqual(merged.parameters["watch.income_multiplier"]?.value, Q(16, 10))
        XCTAssertEqual(try rules(r, on: "2026-12-01").parameters["dibao.standard"]?.value, Q(1700))
        // Before the reform's dates the file's entries still hold.
        XCTAssertEqual(try rules(r, on: "2025-12-31").parameters["dibao.standard"]?.value, Q(1590))
    }

    func testAnEntryOfAnExistingDateReplacesIt() throws {
        let r = try reform("reform same_date\n  dibao.standard from 2025-07-01 = 1600\n")
        XCTAssertEqual(try rules(r).parameters["dibao.standard"]?.value, Q(1600))
        XCTAssertEqual(try rules(r, on: "2025-07-01").parameters["dibao.standard"]?.value, Q(1600))
        XCTAssertEqual(try rules(r, on: "2025-06-30").parameters["dibao.standard"]?.value, Q(1550))
        // An entry before the last one is put in date order, not at the end.
        let early = try reform("reform early\n  dibao.standard from 2025-01-01 = 1570\n", name: "e.reform")
        XCTAssertEqual(try rules(early, on: "2025-03-01").parameters["dibao.standard"]?.value, Q(1570))
        XCTAssertEqual(try rules(early).parameters["dibao.standard"]?.value, Q(1590))
    }

    func testATablesBandsAreMergedWhole() throws {
        let r = try reform(
            "reform bands\n  elderly_allowance.bands from 2026-06-01 = 65: 100, 70: 150, 80: 200, 90: 350, 100: 600\n")
        let bands = try XCTUnwrap(try rules(r).parameters["elderly_allowance.bands"]?.bands)
        XCTAssertEqual(bands.map(\.key), [Q(65), Q(70), Q(80), Q(90), Q(100)])
        XCTAssertEqual(bands.map(\.value), [Q(100), Q(150), Q(200), Q(350), Q(600)])
        XCTAssertEqual(try rules(r, on: "2026-05-31").parameters["elderly_allowance.bands"]?.bands.first?.value, Q(75))
    }

    func testAReformsRuleFilesReplaceAndAddStatements() throws {
        try FileManager.default.createDirectory(atPath: work + "/extra", withIntermediateDirectories: true)
        try heatingAllowanceRules.write(toFile: work + "/extra/heating.rules", atomically: true, encoding: .utf8)
        let r = try reform("reform heating \"取暖补贴\"\n  rules extra\n  heating.amount from 2026-10-01 = 250\n")
        XCTAssertEqual(r.rulesDirectory, work + "/extra")
        let merged = try rules(r)
        let heating = try XCTUnwrap(merged.policy("heating"), "a new policy is added")
        XCTAssertNil(heating.receivingTag, "nobody receives a policy that does not exist yet")
        XCTAssertEqual(merged.parameters["heating.amount"]?.value, Q(250), "its parameter takes the reform's entry")
        XCTAssertEqual(
            merged.policy("education_assistance")?.criterionCodes, ["enrolled"], "a policy of the same id is replaced")
        XCTAssertEqual(try rules(nil).policy("education_assistance")?.criterionCodes, ["enrolled", "assisted"])
    }

    /// `amount once`: medical assistance is paid once; the other amounts per month.
    func testAmountOnceMarksTheOneOffPolicies() throws {
        let rs = try rules(nil)
        XCTAssertEqual(rs.policies.filter(\.oneOff).map(\.id), ["medical_assistance"])
        XCTAssertTrue(rs.policy("dibao")?.hasAmount ?? false)
    }

    // MARK: Load errors

    func testAnUnknownParameterNamesTheNearestOne() throws {
        let e = try XCTUnwrap(failure("reform r\n  dibao.standrad from 2026-01-01 = 1650\n"))
        XCTAssertEqual(e.location, work + "/r.reform:2:3")
        XCTAssertTrue(
            e.message.contains("no parameter dibao.standrad") && e.message.contains("dibao.standard"), e.message)
    }

    func testAValueOfTheWrongShapeOrType() throws {
        var e = try XCTUnwrap(failure("reform r\n  elderly_allowance.bands from 2026-06-01 = 100\n"))
        XCTAssertTrue(e.message.contains("is a table"), e.message)
        e = try XCTUnwrap(failure("reform r\n  dibao.standard from 2026-06-01 = 65: 100\n"))
        XCTAssertTrue(e.message.contains("one value"), e.message)
        e = try XCTUnwrap(failure("reform r\n  dibao.standard from 2026-06-01 = high\n"))
        XCTAssertEqual(e.location, work + "/r.reform:2:36")
        e = try XCTUnwrap(failure("reform r\n  dibao.standard from 2026-06-01 = \"1650\"\n"))
        XCTAssertEqual(e.location, work + "/r.reform:2:36")
    }

    func testATableWhoseKeysDoNotIncrease() throws {
        let e = try XCTUnwrap(failure("reform r\n  elderly_allowance.bands from 2026-06-01 = 65: 100, 60: 150\n"))
        XCTAssertTrue(e.message.contains("band keys must increase"), e.message)
        XCTAssertTrue(e.location?.hasPrefix(work + "/r.reform:2:") ?? false, e.location ?? "")
    }

    func testADateThatDoesNotExist() throws {
        let e = try XCTUnwrap(failure("reform r\n  dibao.standard from 2026-02-30 = 1650\n"))
        XCTAssertTrue(e.location?.hasPrefix(work + "/r.reform:2:") ?? false, e.location ?? "")
        XCTAssertTrue(e.message.contains("2026-02-30"), e.message)
    }

    func testARuleFileWithAnError() throws {
        try FileManager.default.createDirectory(atPath: work + "/bad", withIntermediateDirectories: true)
        try "policy heating \"x\" household\n  criterion a: has(dibao) and\n"
            .write(toFile: work + "/bad/heating.rules", atomically: true, encoding: .utf8)
        let e = try XCTUnwrap(failure("reform r\n  rules bad\n"))
        XCTAssertTrue(e.location?.hasPrefix(work + "/bad/heating.rules:2:") ?? false, e.location ?? "")
    }

    func testTheFileItself() throws {
        var e = try XCTUnwrap(failure("dibao.standard from 2026-01-01 = 1650\n"))
        XCTAssertEqual(e.location, work + "/r.reform:1:1")
        e = try XCTUnwrap(failure("reform r\nreform s\n"))
        XCTAssertTrue(e.message.contains("one reform per file"), e.message)
        e = try XCTUnwrap(failure("reform r\n  rules a\n  rules b\n"))
        XCTAssertTrue(e.message.contains("one 'rules' line"), e.message)
        e = try XCTUnwrap(failure(""))
        XCTAssertTrue(e.message.contains("empty"), e.message)
        XCTAssertThrowsError(try Reform.load(path: work + "/missing.reform"))
    }
}
