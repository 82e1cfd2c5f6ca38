import XCTest
@testable import PFPCore
@testable import PFPRules
@testable import PFPMatch

/// The state a run keeps for the next one: remembered households in their byte
/// form, looked up by household id after a save and a load.
final class RunStateTests: XCTestCase {
    var work = ""
    override func setUp() {
        work = NSTemporaryDirectory() + "pfp-state-\(UUID().uuidString)"
        try? FileIO.makeDirectory(work)
    }
    override func tearDown() { try? FileIO.remove(work) }

    func testRememberedHouseholdsAndPushKeysComeBackAfterASaveAndALoad() throws {
        let date = CivilDate.parse("2026-11-23")!
        let a = PreviousHousehold(
            values: [0: .num(Q(1717, 2)), 2: .bool(true)],
            members: [110000199707280162: [1: .num(Q(1590))], 110000199804220196: [1: .unknownNoFacts]])
        let b = PreviousHousehold(values: [0: .none, 1: .date(20_000), 2: .word(3)], members: [:])
        var bytes: [UInt8] = []
        RunState.encode(id: "H0000000001", a, into: &bytes)
        RunState.encode(id: "H0000000002", b, into: &bytes)
        var state = RunState(runDate: date)
        state.setRemembered([bytes], count: 2)
        state.pushKeys = ["push,H0000000001,,dibao", "push,H0000000001,110000199707280162,elderly_allowance"]
        let store = try StageStore(db: try Database(path: work + "/pfp.sqlite"))
        try state.save(to: store)

        let loaded = try XCTUnwrap(try RunState.load(from: store, runDate: date))
        XCTAssertEqual(loaded.rememberedCount, 2)
        let la = try XCTUnwrap(loaded.remembered("H0000000001"))
        XCTAssertEqual(la.values, a.values)
        XCTAssertEqual(la.members, a.members)
        let lb = try XCTUnwrap(loaded.remembered("H0000000002"))
        XCTAssertEqual(lb.values, b.values)
        XCTAssertTrue(lb.members.isEmpty)
        XCTAssertNil(loaded.remembered("H0000000003"))
        XCTAssertEqual(loaded.pushKeys, state.pushKeys)
        XCTAssertTrue(loaded.pushKeyLookup.contains("push,H0000000001,,dibao"))
        XCTAssertFalse(loaded.pushKeyLookup.contains("push,H0000000002,,dibao"))
        // Without a stored state for the date: nil, not an empty state.
        XCTAssertNil(try RunState.load(from: store, runDate: CivilDate.parse("2026-11-24")!))
    }

    func testAStoredIDNumberComesBackAsTheSameKey() {
        for text in ["110000199707280162", "11010519491231002X"] {
            guard case .valid(let id, _) = IDNumber.parse(text) else { return XCTFail(text) }
            XCTAssertEqual(IDNumber(stored: id.description)?.key, id.key, text)
        }
        XCTAssertNil(IDNumber(stored: "11000019970728016"))
        XCTAssertNil(IDNumber(stored: "1100001997072801a2"))
    }
}
