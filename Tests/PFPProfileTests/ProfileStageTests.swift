import XCTest
import PFPTestSupport
@testable import PFPCore
import PFPSchema
@testable import PFPIngest
@testable import PFPRules
@testable import PFPProfile

/// The profile stage computes every value for every household: the same for any
/// thread count, stored and loaded back unchanged, and right against an
/// independent reading of the inputs (age in whole years from the ID's birth date).
final class ProfileStageTests: XCTestCase {
    var dir = ""
    override func setUp() {
        dir = NSTemporaryDirectory() + "pfp-profile-\(UUID().uuidString)"
        try? FileIO.makeDirectory(dir)
    }
    override func tearDown() {
        try? FileIO.remove(dir)
        Parallel.threads = ProcessInfo.processInfo.activeProcessorCount
    }

    func sampleDay() throws -> (IngestResult, RuleSet) {
        let config = try PipelineConfig(path: repoRoot + "/Pipelines/nightly.conf")
        let (tags, policies) = try config.loadCatalogue()
        let date = CivilDate.parse("2026-11-23")!
        let outcome = try IngestStage(config: config, catalogue: tags, console: Console(level: .quiet))
            .run(inbox: repoRoot + "/SampleData/inbox-2026-11-23", runDate: date, allowMissing: [])
        let rules = try RuleSet.load(
            directory: config.resolve(config.rulesPath), catalogue: tags, policyCatalogue: policies, runDate: date)
        return (outcome.result, rules)
    }

    /// Every value of every entity, as text.
    func dump(_ p: HouseholdProfiles, _ data: IngestResult) -> [String] {
        p.valueIDs.indices.flatMap { i in
            (0..<(p.levels[i] == .household ? data.householdCount : data.personCount)).map { e in
                "\(p.valueIDs[i])[\(e)]=\(String(describing: p.value(i, entity: e)))"
            }
        }
    }

    func testValuesAreTheSameForAnyThreadCountAndAfterAStoreAndALoad() throws {
        let (data, rules) = try sampleDay()
        Parallel.threads = 1
        let one = try ProfileStage().run(data: data, rules: rules, console: Console(level: .quiet))
        Parallel.threads = 2
        let two = try ProfileStage().run(data: data, rules: rules, console: Console(level: .quiet))
        let expected = dump(one, data)
        XCTAssertGreaterThan(expected.count, 1_000)
        XCTAssertEqual(dump(two, data), expected)
        let store = try StageStore(db: try Database(path: dir + "/p.sqlite"))
        try two.save(to: store)
        XCTAssertEqual(dump(try HouseholdProfiles.load(from: store, runDate: data.runDate), data), expected)
    }

    func testAgeIsWholeYearsFromTheBirthDateOnTheRunDate() throws {
        let (data, rules) = try sampleDay()
        let p = try ProfileStage().run(data: data, rules: rules, console: Console(level: .quiet))
        let age = try XCTUnwrap(p.valueIDs.firstIndex(of: "age"))
        let run = data.runDate.components
        var checked = 0
        for person in 0..<data.personCount where data.member[person] != 0 {
            let born = CivilDate(days: data.birth[person]).components
            let years = run.year - born.year - ((run.month, run.day) < (born.month, born.day) ? 1 : 0)
            XCTAssertEqual(p.value(age, entity: person), .num(Q(Int128(years))), "person \(person)")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 500)
    }
}
