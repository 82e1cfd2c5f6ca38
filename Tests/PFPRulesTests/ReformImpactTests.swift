import XCTest
import PFPTestSupport
@testable import PFPCore
import PFPSchema
@testable import PFPRules

/// What `ReformImpact` makes of two rule sets: the frontier where a changed
/// number becomes a truth value, the amounts that read one, the values that
/// may differ (never read from the base run's profiles), and when it declines.
final class ReformImpactTests: XCTestCase {
    var work = ""
    override func setUpWithError() throws { work = try makeWorkDirectory("pfp-impact") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: work) }

    func rules(_ text: String?) throws -> RuleSet {
        try reformedRules(on: CivilDate.parse("2026-11-24")!, reform: text, work: work)
    }

    func values(_ rs: RuleSet, _ set: Set<Int>) -> Set<String> { Set(set.map { rs.values[$0].id }) }
    func policies(_ rs: RuleSet, _ list: [Int]) -> Set<String> { Set(list.map { rs.policies[$0].id }) }

    func testTheDibaoStandardReachesItsComparisonsAndAmounts() throws {
        let base = try rules(nil)
        let reform = try rules("reform r\n  dibao.standard from 2026-01-01 = 1650\n")
        let impact = try XCTUnwrap(ReformImpact(base: base, reform: reform))
        XCTAssertEqual(impact.changedParameters, ["dibao.standard"])
        XCTAssertEqual(values(base, impact.changedValues), ["dibao_line", "low_line"])
        XCTAssertEqual(policies(base, impact.amountPolicies), ["dibao", "expenditure_poverty", "tekun"])
        // pc_income against dibao_line (dibao, low_income, expenditure_poverty), low_line
        // (low_income, housing, referral, watch), and a member's income (tekun).
        XCTAssertEqual(impact.personFrontier.count, 1, "tekun's income < dibao_line, for each member")
        XCTAssertGreaterThanOrEqual(impact.householdFrontier.count, 6)
        XCTAssertFalse(impact.readsPrevious)
        XCTAssertFalse(impact.outreachChanged)
        XCTAssertTrue(impact.closed, "stored values against numbers: worked out without loading a household")
    }

    func testABandTableReachesAnAmountOnlyAndTheWarningDropReadsThePreviousRun() throws {
        let base = try rules(nil)
        let bands = try XCTUnwrap(
            ReformImpact(
                base: base,
                reform: try rules("reform r\n  elderly_allowance.bands from 2026-06-01 = 65: 100, 70: 150\n")))
        XCTAssertEqual(bands.frontierCount, 0)
        XCTAssertEqual(policies(base, bands.amountPolicies), ["elderly_allowance"])
        XCTAssertTrue(bands.changedValues.isEmpty)
        let drop = try XCTUnwrap(
            ReformImpact(base: base, reform: try rules("reform r\n  warning.income_drop from 2026-01-01 = 0.1\n")))
        XCTAssertTrue(drop.readsPrevious)
        XCTAssertFalse(drop.closed, "the previous run is not a stored value of the night")
        XCTAssertEqual(drop.householdFrontier.count, 1)
        XCTAssertTrue(drop.amountPolicies.isEmpty)
        let share = try XCTUnwrap(
            ReformImpact(base: base, reform: try rules("reform r\n  referral.medical_share from 2026-01-01 = 0.1\n")))
        XCTAssertFalse(share.closed, "its comparison sums over the members: the household is loaded")
        let limits = try XCTUnwrap(
            ReformImpact(
                base: base,
                reform: try rules(
                    "reform r\n  dibao.asset_limit_pc from 2026-01-01 = 1\n"
                        + "  housing_assistance.area_limit_pc from 2026-01-01 = 30\n")))
        XCTAssertTrue(limits.closed)
        XCTAssertEqual(limits.householdFrontier.count, 2)
        let cooling = try XCTUnwrap(
            ReformImpact(base: base, reform: try rules("reform r\n  outreach.cooling_declined from 2026-01-01 = 20\n")))
        XCTAssertTrue(cooling.outreachChanged)
        XCTAssertEqual(cooling.frontierCount, 0)
        let same = try XCTUnwrap(
            ReformImpact(base: base, reform: try rules("reform r\n  dibao.standard from 2025-07-01 = 1590\n")))
        XCTAssertEqual(same.frontierCount, 0)
        XCTAssertTrue(same.amountPolicies.isEmpty && same.changedParameters.isEmpty)
    }

    /// A value that is a truth made from a changed number (not a number itself) may
    /// differ too: it is computed under the reform, never read from the base's profile.
    func testATruthValueOverAChangedNumberIsComputedAgain() throws {
        try FileManager.default.createDirectory(atPath: work + "/extra", withIntermediateDirectories: true)
        try """
        household value poor "低于低保标准" = pc_income < dibao_line
        household value poor_too "同上" = poor and n >= 1

        policy heating "冬季取暖补贴" household
          criterion poor: poor_too
          amount 100
        """.write(toFile: work + "/extra/poor.rules", atomically: true, encoding: .utf8)
        let base = try rules("reform a\n  rules extra\n")
        let reform = try rules("reform b\n  rules extra\n  dibao.standard from 2026-01-01 = 1650\n")
        let impact = try XCTUnwrap(ReformImpact(base: base, reform: reform))
        XCTAssertEqual(values(base, impact.changedValues), ["dibao_line", "low_line", "poor", "poor_too"])
        XCTAssertFalse(policies(base, impact.amountPolicies).contains("heating"), "its amount reads no changed number")
    }

    func testRulesThatAreNotTheSameWithOtherNumbersAreDeclined() throws {
        try FileManager.default.createDirectory(atPath: work + "/extra", withIntermediateDirectories: true)
        try """
        policy education_assistance "教育救助" person
          criterion enrolled: education.stage != "none"
        """.write(toFile: work + "/extra/edu.rules", atomically: true, encoding: .utf8)
        XCTAssertNil(ReformImpact(base: try rules(nil), reform: try rules("reform r\n  rules extra\n")))
    }

    /// Every stored value one number (fen): what a closed frontier reads of a household.
    final class Stored: StoredValues {
        var fen: Int64 = 0
        func householdValue(_ v: Int, _ h: Int) -> Val? { .num(Q.fen(fen)) }
        func personValue(_ v: Int, _ p: Int32) -> Val? { .num(Q.fen(fen / 2)) }
    }

    /// A comparison's side that reads no changed number is kept from the base's
    /// results, not made again for the reform: whether a household differs is the
    /// same as evaluating every frontier node whole under both rule sets.
    func testAClosedFrontierKeepsTheSideThatCannotChange() throws {
        let base = try rules(nil)
        let impact = try XCTUnwrap(
            ReformImpact(
                base: base,
                reform: try rules(
                    "reform r\n  dibao.standard from 2026-01-01 = 1650\n")))
        let one = Households(
            personID: [310_101_199_001_011_234], birth: [7000], male: [1], relation: [0], hukou: [0], living: [1],
            household: [0], householdIDs: ["H1"], householdStart: [0, 1], tags: [], tagUnavailable: [])
        let stored = Stored()
        let frontier = ClosedFrontier(impact, stored: stored, households: one)
        XCTAssertTrue(frontier.keptHousehold.contains(1), "pc_income (stored) kept against dibao_line (worked out)")
        XCTAssertEqual(frontier.keptPerson, [1], "a member's income kept against dibao_line")
        let reads = StoredReads(values: base.values.count)
        var kept: [Val] = [], differing = 0
        for yuan in stride(from: 0, through: 4000, by: 5) {
            stored.fen = Int64(yuan) * 100
            XCTAssertTrue(frontier.baseResults(household: 0, reads: reads, into: &kept))
            let whole = (impact.householdFrontier.map { ($0, Int32(-1)) } + impact.personFrontier.map { ($0, 0) })
                .contains { n, p in frontier.eval(n, false, 0, p, reads) != frontier.eval(n, true, 0, p, reads) }
            XCTAssertEqual(frontier.differs(household: 0, base: kept, reads: reads), whole, "\(yuan) yuan")
            if whole { differing += 1 }
        }
        XCTAssertGreaterThan(differing, 0, "some incomes lie between the two standards' lines")
        XCTAssertLessThan(differing, 801, "and some do not")
        // A sweep's values keep the same sides: they read the first one's base results.
        let other = ClosedFrontier(
            try XCTUnwrap(
                ReformImpact(
                    base: base,
                    reform: try rules(
                        "reform s\n  dibao.standard from 2026-01-01 = 1700\n"))), stored: stored, households: one)
        XCTAssertTrue(frontier.sharesResults(with: other))
    }

    /// The numbers a closed frontier compares with (the dibao line, the low-income
    /// line as a multiple of it) are worked out once under each side's numbers;
    /// nothing that reads a household is.
    func testAClosedFrontierWorksOutItsNumbersOnceForEachSide() throws {
        let base = try rules(nil)
        let impact = try XCTUnwrap(
            ReformImpact(base: base, reform: try rules("reform r\n  dibao.standard from 2026-01-01 = 1650\n")))
        let one = Households(
            personID: [310_101_199_001_011_234], birth: [7000], male: [1], relation: [0], hukou: [0], living: [1],
            household: [0], householdIDs: ["H1"], householdStart: [0, 1], tags: [], tagUnavailable: [])
        let frontier = ClosedFrontier(impact, stored: Stored(), households: one)
        func node(_ value: String) throws -> Int32 {
            base.program.valueNode[try XCTUnwrap(base.values.firstIndex { $0.id == value })]
        }
        let standard = try XCTUnwrap(base.parameters["dibao.standard"]?.value)
        let multiplier = try XCTUnwrap(base.parameters["low_income.multiplier"]?.value)
        XCTAssertNotEqual(standard, Q(1650))
        XCTAssertEqual(frontier.folded(try node("dibao_line"), reformSide: false), .num(standard))
        XCTAssertEqual(frontier.folded(try node("dibao_line"), reformSide: true), .num(Q(1650)))
        XCTAssertEqual(frontier.folded(try node("low_line"), reformSide: false), .num(multiplier * standard))
        XCTAssertEqual(frontier.folded(try node("low_line"), reformSide: true), .num(multiplier * Q(1650)))
        // The comparisons read pc_income or a member's income: worked out per household.
        for n in impact.householdFrontier + impact.personFrontier {
            XCTAssertNil(frontier.folded(n, reformSide: false))
            XCTAssertNil(frontier.folded(n, reformSide: true))
        }
        XCTAssertNil(frontier.folded(try node("pc_income"), reformSide: true), "a stored value")
    }
}
