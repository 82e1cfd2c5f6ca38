import XCTest
import PFPCore
@testable import PFPSample

final class OutreachSampleTests: XCTestCase {
    let days = [
        "unreachable": 90, "declined": 180, "data_error": 30, "applied": 60, "granted": 90, "denied": 365,
        "do_not_contact": 730,
    ]

    func entries(_ n: Int) -> [OutreachSample.Entry] {
        var out: [OutreachSample.Entry] = []
        for i in 0..<n {
            let household = "H" + String(1_000_000_000 + i / 2)
            let person = i % 3 == 0 ? "" : "11010519491231002X"
            let policy = i % 3 == 0 ? "dibao" : "elderly_allowance"
            out.append(OutreachSample.Entry(household: household, person: person, policy: policy))
        }
        return out
    }

    func testEveryOutcomeBoundaryAndRejectReasonAppearsDeterministically() {
        let date = CivilDate.parse("2026-11-24")!
        let sample = OutreachSample(entries: entries(2000), coolingDays: days, seed: 7)
        let rows = sample.rows(runDate: date)
        XCTAssertEqual(rows, OutreachSample(entries: entries(2000), coolingDays: days, seed: 7).rows(runDate: date))
        XCTAssertNotEqual(rows, OutreachSample(entries: entries(2000), coolingDays: days, seed: 8).rows(runDate: date))
        XCTAssertEqual(rows[0], "household_id,person_id,policy,outcome,channel,event_date,note")
        let events = rows.dropFirst().dropLast(8).map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        // About one event per two entries.
        XCTAssertGreaterThan(events.count, 800)
        XCTAssertLessThan(events.count, 1400)
        for o in OutreachSample.outcomes { XCTAssertTrue(events.contains { $0[3] == o }, o) }
        // Every cooling-off boundary: events exactly c - 1, c and c + 1 days before the run date.
        for (o, c) in days where o != "do_not_contact" {
            for d in [c - 1, c, c + 1] {
                let day = date.adding(days: -d).description
                XCTAssertTrue(events.contains { $0[3] == o && $0[5] == day }, "\(o) \(d) days before")
            }
        }
        XCTAssertTrue(events.contains { $0[3] == "do_not_contact" && $0[2].isEmpty }, "household-wide rows")
        XCTAssertTrue(
            events.allSatisfy { CivilDate.parse(String($0[5]))! < date }, "nothing after the delivery's as_of")
        XCTAssertEqual(rows.suffix(8).count, 8, "one dirty row of each reject reason")
    }
}
