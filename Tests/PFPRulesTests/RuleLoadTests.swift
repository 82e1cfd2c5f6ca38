import XCTest
import PFPTestSupport
@testable import PFPCore
import PFPSchema
@testable import PFPIngest
@testable import PFPRules

func loadCatalogues() throws -> (TagCatalogue, PolicyCatalogue) {
    let config = try PipelineConfig(path: repoRoot + "/Pipelines/nightly.conf")
    return try config.loadCatalogue()
}

/// The reference rules on `date` with a reform's text merged in (written to a
/// file of its own under `work`), or alone without one.
func reformedRules(on date: CivilDate, reform text: String?, work: String) throws -> RuleSet {
    let (tags, policies) = try loadCatalogues()
    var reform: Reform?
    if let text {
        let path = work + "/r\(abs(text.hashValue)).reform"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        reform = try Reform.load(path: path)
    }
    return try RuleSet.load(
        directory: repoRoot + "/Pipelines/rules", catalogue: tags, policyCatalogue: policies, runDate: date,
        reform: reform)
}

func loadRules(
    _ date: String = "2026-11-24", directory: String = repoRoot + "/Pipelines/rules", unavailable: Set<String> = []
) throws -> RuleSet {
    let (tags, policies) = try loadCatalogues()
    return try RuleSet.load(
        directory: directory, catalogue: tags, policyCatalogue: policies, runDate: CivilDate.parse(date)!,
        unavailableFeeds: unavailable)
}

final class RuleLoadTests: XCTestCase {
    func testReferenceRulesLoad() throws {
        let rs = try loadRules()
        XCTAssertEqual(rs.policies.count, 13)
        XCTAssertEqual(rs.lists.map(\.id), ["push", "suppressed", "review", "referral", "watch", "warning"])
        XCTAssertEqual(rs.lists[1].heldFrom, 0, "suppressed holds push's entries back")
        XCTAssertNil(rs.outreach.problem)
        XCTAssertEqual(rs.parameters["dibao.standard"]?.value, Q(1590))
        XCTAssertEqual(rs.parameters["dibao.standard"]?.from?.description, "2025-07-01")
        XCTAssertTrue(rs.skippedPolicies.isEmpty)
        XCTAssertEqual(rs.digest.count, 64)
    }
}
