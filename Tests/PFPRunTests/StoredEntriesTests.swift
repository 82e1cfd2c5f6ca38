import XCTest
import PFPTestSupport
import PFPSchema
@testable import PFPCore
@testable import PFPRules
@testable import PFPMatch

/// The published entries `pfp whatif` reads back from a stored match result: from
/// the entries' stored numbers, and from the text columns alone as results stored
/// before the numbers were kept; both the same, each household checked by its id.
final class StoredEntriesTests: XCTestCase {
    var work = ""
    override func setUpWithError() throws { work = try makeWorkDirectory("pfp-stored-entries") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: work) }

    /// The pipeline's rules on the night the entries are stored for.
    func pipelineRules() throws -> RuleSet {
        let (tags, policies) = try PipelineConfig(path: repoRoot + "/Pipelines/nightly.conf").loadCatalogue()
        return try RuleSet.load(
            directory: repoRoot + "/Pipelines/rules", catalogue: tags, policyCatalogue: policies,
            runDate: CivilDate.parse("2026-11-24")!)
    }

    func result(_ rules: RuleSet) -> MatchResult {
        let push = Int32(rules.lists.firstIndex { $0.id == "push" }!)
        let watch = Int32(rules.lists.firstIndex { $0.id == "watch" }!)
        let dibao = Int32(rules.policies.firstIndex { $0.id == "dibao" }!)
        let tekun = Int32(rules.policies.firstIndex { $0.id == "tekun" }!)
        func entry(
            _ list: Int32, _ h: Int32, _ policy: Int32, _ person: UInt64, _ certainty: Certainty,
            _ amount: Int64, codes: (Int32, Int32)
        ) -> PublishedEntry {
            PublishedEntry(
                list: list, household: h, policy: policy, certainty: certainty, status: .new, personKey: person,
                amountValue: amount, codeStart: codes.0, codeCount: codes.1, district: 310_101 + h, street: 7,
                community: 9)
        }
        let person = IDNumber(stored: "110000195711021472")!.key
        let entries = [
            entry(push, 0, dibao, 0, .confirmed, 120, codes: (0, 0)),
            entry(push, 2, tekun, person, .toVerify, Int64.min, codes: (0, 2)),
            entry(watch, 1, -1, 0, .none, Int64.min, codes: (2, 1)),
            entry(watch, 2, -1, 0, .none, Int64.min, codes: (3, 1)),
        ]
        return MatchResult(
            entries: entries, listIDs: rules.lists.map(\.id), householdIDs: ["H01", "H02", "H03"],
            policyIDs: rules.policies.map(\.id),
            codes: ["assets.financial@110000195711021472", "income", "income_margin", "elderly_alone"],
            state: RunState(runDate: CivilDate.parse("2026-11-24")!), households: 3, people: 5)
    }

    /// An entry holds what the initializer gave it, field by field, in 64 bytes (a
    /// run and a what-if hold millions: the fields are stored widest first).
    func testAnEntryKeepsEveryFieldInSixtyFourBytes() {
        let e = PublishedEntry(
            list: 3, household: 41, policy: -1, certainty: .toVerify, status: .repeat, personKey: 1_234_567,
            amountValue: -5, codeStart: 17, codeCount: 2, district: 310_105, street: 310_105_014,
            community: 310_105_014_026, outcome: 2, outcomeDate: 20_000, until: 20_090)
        XCTAssertEqual(MemoryLayout<PublishedEntry>.stride, 64)
        XCTAssertEqual([e.list, e.household, e.policy, e.codeStart, e.codeCount], [3, 41, -1, 17, 2])
        XCTAssertEqual([e.district, e.street, e.outcomeDate, e.until], [310_105, 310_105_014, 20_000, 20_090])
        XCTAssertEqual([e.personKey], [1_234_567])
        XCTAssertEqual([e.amountValue, e.community], [-5, 310_105_014_026])
        XCTAssertEqual(e.certainty, .toVerify)
        XCTAssertEqual(e.status, .repeat)
        XCTAssertEqual(e.outcome, 2)
        let plain = PublishedEntry(
            list: 0, household: 0, policy: 0, certainty: .confirmed, status: .new, personKey: 0, amountValue: 0,
            codeStart: 0, codeCount: 0, district: 0, street: 0, community: 0)
        XCTAssertEqual(plain.outcome, PublishedEntry.noOutcome)
        XCTAssertEqual([plain.outcomeDate, plain.until], [0, 0])
    }

    /// A household's entries found in a slice of entries in household order (a
    /// list's; a slice not starting at 0), for a household there, one absent, and
    /// past the last.
    func testAHouseholdsEntriesAreFoundInASliceOfAList() {
        let all = [9, 1, 1, 3, 3, 3, 7].map {
            PublishedEntry(
                list: 0, household: Int32($0), policy: -1, certainty: .confirmed, status: .new, personKey: 0,
                amountValue: 0, codeStart: 0, codeCount: 0, district: 0, street: 0, community: 0)
        }
        let list = all[1...]
        XCTAssertEqual(list.indexes(ofHousehold: 1), 1..<3)
        XCTAssertEqual(list.indexes(ofHousehold: 3), 3..<6)
        XCTAssertEqual(list.indexes(ofHousehold: 7), 6..<7)
        XCTAssertEqual(list.indexes(ofHousehold: 2), 3..<3)
        XCTAssertEqual(list.indexes(ofHousehold: Int32.max), 7..<7)
        XCTAssertEqual(list.firstIndex(ofHouseholdFrom: 0), 1)
        XCTAssertEqual(list.firstIndex(ofHouseholdFrom: 4), 6)
    }

    /// Where each list's entries end in entries in list order (a slice not
    /// starting at 0), for a list there, one without entries, and the last.
    func testAListsEndIsFoundByHalving() {
        let all = [5, 0, 0, 2, 2, 2, 4].map {
            PublishedEntry(
                list: Int32($0), household: 0, policy: -1, certainty: .confirmed, status: .new, personKey: 0,
                amountValue: 0, codeStart: 0, codeCount: 0, district: 0, street: 0, community: 0)
        }
        let entries = all[1...]
        XCTAssertEqual(entries.firstIndex(ofListAfter: 0), 3)
        XCTAssertEqual(entries.firstIndex(ofListAfter: 1), 3, "no entries of list 1")
        XCTAssertEqual(entries.firstIndex(ofListAfter: 2), 6)
        XCTAssertEqual(entries.firstIndex(ofListAfter: 4), 7)
        XCTAssertEqual(entries.firstIndex(ofListAfter: -1), 1)
        XCTAssertEqual(entries[3...].firstIndex(ofListAfter: 3), 6)
    }

    /// A what-if's result keeps the published codes as they are and its own after
    /// them: an entry's codes come from either array, by where they start.
    func testCodesPastTheArrayAreReadFromTheCodesAfterIt() throws {
        let rules = try pipelineRules()
        var m = result(rules)
        m.codesAfter = ["pc_assets", "vehicles", "income"]
        func entry(_ start: Int32, _ count: Int32) -> PublishedEntry {
            PublishedEntry(
                list: 0, household: 0, policy: 0, certainty: .toVerify, status: .new, personKey: 0, amountValue: 1,
                codeStart: start, codeCount: count, district: 1, street: 2, community: 3)
        }
        XCTAssertEqual(Array(m.codes(entry(1, 2))), ["income", "income_margin"])
        XCTAssertEqual(Array(m.codes(entry(4, 2))), ["pc_assets", "vehicles"])
        XCTAssertEqual(Array(m.codes(entry(6, 1))), ["income"])
        XCTAssertEqual(Array(m.codes(entry(4, 0))), [])
        // Stored as any other result: the codes column joins them the same way.
        let store = try StageStore(db: try Database(path: work + "/pfp.sqlite"))
        m.entries = [entry(1, 2), entry(5, 2)]
        try store.save(runDate: CivilDate.parse("2026-11-24")!, stage: MatchResult.stage, blobs: m.blobs())
        let r = try XCTUnwrap(store.load(runDate: CivilDate.parse("2026-11-24")!, stage: MatchResult.stage))
        XCTAssertEqual(try r.strings("codes"), ["income;income_margin", "vehicles;income"])
    }

    func testTheEntriesComeBackTheSameFromTheirNumbersAndFromTheirText() throws {
        let rules = try pipelineRules()
        let m = result(rules)
        let date = CivilDate.parse("2026-11-24")!, older = CivilDate.parse("2026-11-23")!
        let store = try StageStore(db: try Database(path: work + "/pfp.sqlite"))
        let blobs = m.blobs()
        try store.save(runDate: date, stage: MatchResult.stage, blobs: blobs)
        let numbers: Set<String> = [
            "entry.household", "entry.person", "entry.list", "entry.policy", "entry.certainty", "entry.status",
            "entry.list_ids", "entry.policy_ids",
        ]
        try store.save(runDate: older, stage: MatchResult.stage, blobs: blobs.without(numbers))
        XCTAssertTrue(try XCTUnwrap(store.load(runDate: date, stage: MatchResult.stage)).has("entry.household"))
        XCTAssertFalse(try XCTUnwrap(store.load(runDate: older, stage: MatchResult.stage)).has("entry.household"))
        let ids: [String] = m.householdIDs
        // The numbers read in one piece and in pieces of one and two entries (each
        // piece finding its first household id and codes by counting separators).
        for (d, piece) in [(date, 32_768), (date, 1), (date, 2), (older, 32_768), (older, 1)] {
            let back: MatchResult = try MatchResult.loadEntries(
                from: store, runDate: d, rules: rules, householdIDs: ids, pieceEntries: piece)
            XCTAssertEqual(back.entries.count, m.entries.count, "\(d)")
            for (x, y) in zip(back.entries, m.entries) {
                XCTAssertEqual(x.list, y.list, "\(d)")
                XCTAssertEqual(x.household, y.household, "\(d)")
                XCTAssertEqual(x.policy, y.policy, "\(d)")
                XCTAssertEqual(x.district, y.district, "\(d)")
                XCTAssertEqual(x.personKey, y.personKey)
                XCTAssertEqual(x.certainty, y.certainty)
                XCTAssertEqual(x.status, y.status)
                XCTAssertEqual(x.amountValue, y.amountValue)
                XCTAssertEqual(Array(back.codes(x)), Array(m.codes(y)), "\(d)")
            }
        }
        // A household number that names another household than its id is refused.
        XCTAssertThrowsError(
            try MatchResult.loadEntries(from: store, runDate: date, rules: rules, householdIDs: ["H01", "H09", "H03"]))
    }
}
