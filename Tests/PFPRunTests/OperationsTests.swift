import XCTest
import PFPTestSupport
@testable import PFPCore

/// Issue 23's first parts: the run date in the bureau's zone, `pfp status`, `pfp run --catch-up`.
final class OperationsTests: XCTestCase {
    var work = ""

    override func setUpWithError() throws { work = try makeWorkDirectory("pfp-ops") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: work) }

    func testTodayIsTheBureausDateWhateverTheServersZone() throws {
        // 01:30 in Shanghai on 2026-11-24 is 17:30 UTC the day before.
        let instant = ISO8601DateFormatter().date(from: "2026-11-23T17:30:00Z")!
        let shanghai = try XCTUnwrap(TimeZone(identifier: "Asia/Shanghai"))
        XCTAssertEqual(CivilDate.today(in: shanghai, at: instant).description, "2026-11-24")
        XCTAssertEqual(CivilDate.today(in: TimeZone(identifier: "UTC")!, at: instant).description, "2026-11-23")
        // A process in another zone still takes Shanghai's date (nightly.conf: timezone = Asia/Shanghai).
        let expected = CivilDate.today(in: shanghai).description
        for zone in ["America/New_York", "Pacific/Kiritimati", "UTC"] {
            let r = try runPFP(["check-rules"], env: ["TZ": zone])
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertTrue(r.out.hasPrefix("rules for \(expected):"), "\(zone): \(r.out)")
        }
    }

    func testAnUnknownTimeZoneIsRefusedWithWhatToWrite() throws {
        let conf = try String(contentsOfFile: repoRoot + "/Pipelines/nightly.conf", encoding: .utf8)
            .replacingOccurrences(of: "timezone = Asia/Shanghai", with: "timezone = Asia/Shanghia")
        try conf.write(toFile: repoRoot + "/Pipelines/.ops-test-\(getpid()).conf", atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: repoRoot + "/Pipelines/.ops-test-\(getpid()).conf") }
        let r = try runPFP(["check-rules", "--config", "Pipelines/.ops-test-\(getpid()).conf"])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.err.contains("Asia/Shanghia") && r.err.contains("IANA"), r.err)
    }

    func run(_ extra: [String]) throws -> (status: Int32, out: String, err: String) {
        try runPFP(["run", "--out", work + "/published", "--db", work + "/pfp.sqlite", "--quiet"] + extra)
    }

    func testStatusAndCatchUp() throws {
        XCTAssertEqual(try run(["--run-date", "2026-11-23"]).status, 0)
        var s = try runPFP(["status", "--db", work + "/pfp.sqlite", "--run-date", "2026-11-23"])
        XCTAssertEqual(s.status, 0, s.err)
        XCTAssertTrue(s.out.contains("ok: the run of 2026-11-23 succeeded"), s.out)
        s = try runPFP(["status", "--db", work + "/pfp.sqlite", "--run-date", "2026-11-24"])
        XCTAssertEqual(s.status, 1)
        XCTAssertTrue(s.err.contains("no run of 2026-11-24 recorded; the last run date before it is 2026-11-23"), s.err)
        // Catch-up: every date after the last success whose inbox is there (SampleData has 2026-11-24), in order.
        XCTAssertEqual(try run(["--catch-up", "--run-date", "2026-11-24"]).status, 64, "ambiguous: refused")
        let c = try run(["--catch-up"])
        XCTAssertEqual(c.status, 0, c.err)
        XCTAssertTrue(FileIO.exists(work + "/published/2026-11-24/_SUCCESS"))
        s = try runPFP(["status", "--db", work + "/pfp.sqlite", "--run-date", "2026-11-24"])
        XCTAssertEqual(s.status, 0, s.err)
        // Nothing left: a second catch-up runs nothing and succeeds.
        let again = try runPFP(["run", "--catch-up", "--out", work + "/published", "--db", work + "/pfp.sqlite"])
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertTrue((again.out + again.err).contains("nothing to catch up"), again.out + again.err)
    }
}
