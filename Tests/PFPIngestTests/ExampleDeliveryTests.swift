import XCTest
import PFPTestSupport
@testable import PFPCore
@testable import PFPIngest
@testable import PFPSample

final class ExampleDeliveryTests: XCTestCase {
    /// The two deliveries of another producer (shared/examples) are read with every
    /// row accounted for, and with the reject reasons an independent reading of
    /// feeds.md and outreach.md give (124 and 168 rows, 45 of them the second day's
    /// outreach feed; checked row by row when this test was written).
    func testOtherProducersDeliveriesAreRead() throws {
        let config = try pipelineConfig()
        let (cat, policies) = try config.loadCatalogue()
        for (day, expectedRejects) in [("2026-11-23", 124), ("2026-11-24", 168)] {
            let inbox = repoRoot + "/../shared/examples/inbox-\(day)"
            guard FileIO.isDirectory(inbox) else { throw XCTSkip("shared/examples is not beside the checkout") }
            let o = try IngestStage(config: config, catalogue: cat, policies: policies, console: Console(level: .quiet))
                .run(inbox: inbox, runDate: CivilDate.parse(day)!, allowMissing: [])
            XCTAssertEqual(o.rejects.count, expectedRejects, day)
            for r in o.reports {
                // The first day has no outreach feed (optional): no events.
                if r.feed == "outreach" && day == "2026-11-23" { XCTAssertEqual(r.status, .missing); continue }
                XCTAssertEqual(r.status, .ok, r.feed)
                XCTAssertEqual(r.accepted + r.rejected, r.rowsRead, r.feed)
            }
            XCTAssertEqual(o.reports.first { $0.feed == "population" }?.rejectCounts[.duplicateID], 4)
            XCTAssertGreaterThan(o.result.livingHouseholdCount, 290)
        }
    }
}
