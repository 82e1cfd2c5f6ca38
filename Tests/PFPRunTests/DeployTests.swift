import XCTest
import PFPTestSupport
@testable import PFPCore

/// Issue 23's acceptance on a machine: the systemd units installed as
/// docs/OPERATIONS.md says (into a scratch root: verified, not started), the job
/// they start run on a UTC clock at 01:30 Shanghai time, and a catch-up after
/// three missed nights.
final class DeployTests: XCTestCase {
    var work = ""

    override func setUpWithError() throws { work = try makeWorkDirectory("pfp-deploy") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: work) }

    func events(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").map {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) ?? ["unparsed": String($0)]
        }
    }

    func testTheInstalledUnitsVerifyAndTheirJobRunsForShanghaisDate() throws {
        _ = try requireTool("systemd-analyze")
        let faketime = try requireTool("faketime")
        let root = work + "/root"
        let v = try runProgram(repoRoot + "/deploy/systemd/verify.sh", ["--binary", pfpBinary, "--root", root])
        XCTAssertEqual(v.status, 0, v.out + v.err)
        XCTAssertTrue(v.out.contains("verified: pfp-nightly.service"), v.out)
        let units = root + "/etc/systemd/system"
        let service = try String(contentsOfFile: units + "/pfp-nightly.service", encoding: .utf8)
        for setting in [
            "Type=oneshot", "UMask=0077", "NoNewPrivileges=true", "ProtectSystem=strict", "PrivateTmp=true",
            "ReadWritePaths=/var/lib/pfp /var/lib/prometheus/node-exporter", "OnFailure=pfp-alert@%n.service",
        ] {
            XCTAssertTrue(service.contains("\n" + setting + "\n"), setting)
        }
        let timer = try String(contentsOfFile: units + "/pfp-nightly.timer", encoding: .utf8)
        XCTAssertTrue(timer.contains("\nOnCalendar=*-*-* 02:00:00 Asia/Shanghai\n"))
        XCTAssertTrue(timer.contains("\nPersistent=true\n"))
        // The check is not a formality: a unit with a broken setting or a missing binary fails it.
        try timer.replacingOccurrences(of: "Asia/Shanghai", with: "Asia/Shanghia")
            .write(toFile: units + "/broken.timer", atomically: true, encoding: .utf8)
        try service.replacingOccurrences(of: "/usr/local/bin/pfp run", with: "/usr/local/bin/pfp-gone run")
            .write(toFile: units + "/broken.service", atomically: true, encoding: .utf8)
        for broken in ["broken.timer", "broken.service"] {
            let b = try runProgram(
                "/usr/bin/env", ["systemd-analyze", "verify", "--root=" + root, units + "/" + broken])
            XCTAssertNotEqual(b.status, 0, broken + ": " + b.err)
        }

        // The job as the unit starts it (its ExecStart, with the scratch root before
        // every absolute path), on a UTC clock at 01:30 on 2026-11-24 in Shanghai.
        let execStart = try XCTUnwrap(
            service.split(separator: "\n").first { $0.hasPrefix("ExecStart=") }?.dropFirst("ExecStart=".count))
        let words = execStart.split(separator: " ").map { $0.hasPrefix("/") ? root + $0 : String($0) }
        let conf = root + "/opt/pfp/Pipelines/nightly.conf"
        let installed = try String(contentsOfFile: conf, encoding: .utf8)
        XCTAssertTrue(
            installed.contains("\ninbox = /var/lib/pfp/inbox/{date}\n"), "install.sh points the data at /var/lib/pfp")
        try installed.replacingOccurrences(of: " = /var/lib/", with: " = \(root)/var/lib/")
            .write(toFile: conf, atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(
            atPath: repoRoot + "/SampleData/inbox-2026-11-24", toPath: root + "/var/lib/pfp/inbox/2026-11-24")
        let r = try runProgram(faketime, ["2026-11-23 17:30:00"] + words, env: ["TZ": "UTC"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(FileIO.exists(root + "/var/lib/pfp/published/2026-11-24/_SUCCESS"), "the Shanghai date")
        XCTAssertFalse(FileIO.exists(root + "/var/lib/pfp/published/2026-11-23"), "not the server's date")
        XCTAssertTrue(FileIO.exists(root + "/var/lib/prometheus/node-exporter/pfp.prom"))
        let log = events(r.err)
        XCTAssertFalse(log.contains { $0["unparsed"] != nil }, "every line of the unit's log is JSON")
        XCTAssertEqual(log.last?["event"] as? String, "run_end")
        XCTAssertEqual(log.last?["run_date"] as? String, "2026-11-24")
    }

    /// Three nights missed (the inboxes arrived, the job did not run): one catch-up
    /// publishes them in date order, each compared with the date before it.
    func testCatchUpAfterThreeMissedNights() throws {
        let faketime = try requireTool("faketime")
        let inboxes = work + "/inboxes"
        let g = try runPFP([
            "sample", "--households", "150", "--seed", "11", "--run-date", "2026-11-23", "--days", "4",
            "--out", inboxes, "--quiet",
        ])
        XCTAssertEqual(g.status, 0, g.err)
        let confName = "Pipelines/.catch-up-test-\(getpid()).conf"
        let conf = try String(contentsOfFile: repoRoot + "/Pipelines/nightly.conf", encoding: .utf8)
            .replacingOccurrences(of: "inbox = SampleData/inbox-{date}", with: "inbox = \(inboxes)/inbox-{date}")
            .replacingOccurrences(of: "out = out/published", with: "out = \(work)/published")
            .replacingOccurrences(of: "db = out/pfp.sqlite", with: "db = \(work)/pfp.sqlite")
            .replacingOccurrences(of: "metrics_dir = out/metrics", with: "metrics_dir = \(work)/metrics")
        XCTAssertTrue(conf.contains(inboxes) && conf.contains(work + "/metrics"))
        try conf.write(toFile: repoRoot + "/" + confName, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: repoRoot + "/" + confName) }

        let first = try runPFP(["run", "--config", confName, "--run-date", "2026-11-23", "--quiet"])
        XCTAssertEqual(first.status, 0, first.err)
        // 01:30 on 2026-11-26 in Shanghai; the server's clock is UTC, still on the 25th.
        let c = try runProgram(
            faketime,
            ["2026-11-25 17:30:00", pfpBinary, "run", "--catch-up", "--config", confName, "--log-format", "json"],
            env: ["TZ": "UTC"])
        XCTAssertEqual(c.status, 0, c.err)
        let log = events(c.err)
        XCTAssertFalse(log.contains { $0["unparsed"] != nil })
        let starts = log.filter { $0["event"] as? String == "run_start" }.compactMap { $0["run_date"] as? String }
        XCTAssertEqual(starts, ["2026-11-24", "2026-11-25", "2026-11-26"])
        let previous = log.compactMap { e -> String? in
            guard e["event"] as? String == "progress", let m = e["message"] as? String, m.hasPrefix("previous run: ")
            else { return nil }
            return String(m.dropFirst("previous run: ".count))
        }
        XCTAssertEqual(previous, ["2026-11-23", "2026-11-24", "2026-11-25"], "warnings against each previous date")
        for d in ["2026-11-24", "2026-11-25", "2026-11-26"] {
            XCTAssertTrue(FileIO.exists("\(work)/published/\(d)/_SUCCESS"), d)
            XCTAssertTrue(FileIO.exists("\(work)/published/\(d)/warning.csv"), d)
        }
        // The published order is the date order: each run's report names the one before it.
        let report = try String(contentsOfFile: work + "/published/2026-11-26/report.html", encoding: .utf8)
        XCTAssertTrue(report.contains("previous run (2026-11-25)"), "report of the 26th compares with the 25th")
        let s = try runProgram(
            faketime, ["2026-11-25 17:30:00", pfpBinary, "status", "--config", confName], env: ["TZ": "UTC"])
        XCTAssertEqual(s.status, 0, s.out + s.err)
        XCTAssertTrue(s.out.contains("ok: the run of 2026-11-26 succeeded"), s.out)
    }
}
