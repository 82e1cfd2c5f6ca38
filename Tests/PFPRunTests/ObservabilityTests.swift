import XCTest
import PFPTestSupport
@testable import PFPCore

/// A tool an operations test drives: found, or the test is skipped; under
/// `make test` (PFP_REQUIRE_TOOLS=1, after `make test-tools` installed them) a
/// missing tool fails the test instead.
func requireTool(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
    if let path = which(name) { return path }
    if ProcessInfo.processInfo.environment["PFP_REQUIRE_TOOLS"] == "1" {
        XCTFail("\(name) is missing: 'make test-tools' installs it", file: file, line: line)
        throw XCTSkip("\(name) missing")
    }
    throw XCTSkip("\(name) is not installed ('make test-tools' installs it)")
}

/// Issue 23, parts 4, 5 and 7: the live progress line on a terminal only, the
/// JSON log, pfp.prom, and the data-quality feedback of the published run.
final class ObservabilityTests: XCTestCase {
    var work = ""

    override func setUpWithError() throws { work = try makeWorkDirectory("pfp-obs") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: work) }

    func runArgs(_ date: String, _ extra: [String] = []) -> [String] {
        ["run", "--run-date", date, "--out", work + "/published", "--db", work + "/pfp.sqlite"] + extra
    }

    // MARK: Progress

    /// In a terminal (tmux), each stage leaves one summary line and the live line is
    /// redrawn in place (its control bytes seen through `script`); in a pipe, none of
    /// it: the stage headers and progress lines, no carriage return, no escape.
    func testProgressLineOnATerminalAndNotInAPipe() throws {
        let tmux = try requireTool("tmux")
        let script = try requireTool("script")
        let quoted = ([pfpBinary] + runArgs("2026-11-23")).map { "'\($0)'" }.joined(separator: " ")
        let session = "pfp-test-\(getpid())"
        let done = work + "/done"
        // The tmux server outlives the command that starts it, and Foundation's Process
        // waits for it too: started with system(3), which waits for the client alone.
        let command = "cd '\(repoRoot)' && SOURCE_DATE_EPOCH=1795000000 \(quoted); echo $? > '\(done)'; sleep 120"
        let started = system(
            "'\(tmux)' new-session -d -s \(session) -x 160 -y 50 \"\(command)\" </dev/null >/dev/null 2>&1")
        XCTAssertEqual(started, 0)
        defer { _ = try? runProgram(tmux, ["kill-session", "-t", session]) }
        let deadline = Date().addingTimeInterval(120)
        while !FileIO.exists(done) && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        XCTAssertEqual(try String(contentsOfFile: done, encoding: .utf8).trimmingCharacters(in: .whitespaces), "0\n")
        let screen = try runProgram(tmux, ["capture-pane", "-p", "-t", session, "-S", "-200"]).out
        let lines = screen.split(separator: "\n").map(String.init)
        for (stage, what) in [
            ("ingest", "12 of 13 feeds used"), ("profile", "household profiles"), ("match", "list entries"),
            ("emit", "published "),
        ] {
            let summary = lines.filter { $0.hasPrefix(stage + " ") }
            XCTAssertEqual(summary.count, 1, "\(stage): \(screen)")
            XCTAssertTrue(
                summary.first.map { $0.range(of: #"^\w+ +\d+\.\d\d s  "#, options: .regularExpression) != nil }
                    ?? false,
                screen)
            XCTAssertTrue(summary.first?.contains(what) ?? false, screen)
        }
        XCTAssertFalse(screen.contains("[ingest]"), "no pipe-style header on a terminal: \(screen)")
        XCTAssertFalse(screen.contains("hr: 1,"), "progress lines only feed the live line: \(screen)")

        // The raw bytes on a pseudo-terminal: the live line drawn and cleared in place.
        let raw = try runProgram(
            script, ["-qfec", quoted.replacingOccurrences(of: "2026-11-23", with: "2026-11-24"), "/dev/null"],
            env: ["TERM": "xterm"])
        XCTAssertEqual(raw.status, 0, raw.err)
        XCTAssertTrue(raw.out.contains("\r\u{1B}[K"), "the live line is redrawn in place")
        XCTAssertTrue(raw.out.contains("ingest   "), raw.out)

        // A pipe: lines only.
        let piped = try runPFP(runArgs("2026-11-24"))
        XCTAssertEqual(piped.status, 0, piped.err)
        XCTAssertFalse(piped.err.contains("\r") || piped.err.contains("\u{1B}"), "no redrawing in a pipe")
        for stage in ["ingest", "profile", "match", "emit"] {
            XCTAssertTrue(piped.err.contains("[\(stage)]\n"), piped.err)
            XCTAssertTrue(piped.err.contains("  \(stage) done in "), piped.err)
        }
        XCTAssertTrue(piped.err.contains("  hr: "), "progress lines are written in a pipe: \(piped.err)")
    }

    // MARK: JSON log

    func jsonLines(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [[String: Any]] {
        var out: [[String: Any]] = []
        for l in text.split(separator: "\n", omittingEmptySubsequences: false) where !l.isEmpty {
            guard let obj = try? JSONSerialization.jsonObject(with: Data(l.utf8)) as? [String: Any] else {
                XCTFail("not a JSON object: a line of \(l.count) characters", file: file, line: line)
                continue
            }
            for key in ["time", "level", "event"] {
                XCTAssertNotNil(obj[key] as? String, "\(key) missing", file: file, line: line)
            }
            out.append(obj)
        }
        return out
    }

    func testJSONLogLinesParseAndTellTheRun() throws {
        let r = try runPFP(runArgs("2026-11-24", ["--log-format", "json"]))
        XCTAssertEqual(r.status, 0, r.err)
        let events = jsonLines(r.err)
        XCTAssertFalse(events.isEmpty)
        let names = events.map { $0["event"] as! String }
        XCTAssertEqual(names.first, "message")
        XCTAssertEqual(names.filter { $0 == "stage_start" }.count, 4)
        let ends = events.filter { $0["event"] as? String == "stage_end" }
        XCTAssertEqual(ends.map { $0["stage"] as? String }, ["ingest", "profile", "match", "emit"])
        for e in ends {
            XCTAssertNotNil(e["wall_s"] as? Double ?? (e["wall_s"] as? Int).map(Double.init), "\(e)")
            XCTAssertNotNil(e["cpu_s"] as? Double ?? (e["cpu_s"] as? Int).map(Double.init), "\(e)")
            XCTAssertNotNil(e["peak_rss_bytes"] as? Int)
        }
        // One feed event per feed of the configuration, with the manifest's figures.
        let manifest =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: work + "/published/2026-11-24/manifest.json")))
            as! [String: Any]
        let inputs = manifest["inputs"] as! [[String: Any]]
        let feeds = events.filter { $0["event"] as? String == "feed" }
        XCTAssertEqual(feeds.map { $0["feed"] as? String }, inputs.map { $0["feed"] as? String })
        for (f, i) in zip(feeds, inputs) {
            for key in ["status", "rows_read", "accepted", "rejected", "conflicts"] {
                XCTAssertEqual("\(f[key] ?? "-")", "\(i[key] ?? "-")", "\(key) of \(f["feed"] ?? "")")
            }
        }
        let end = try XCTUnwrap(events.last)
        XCTAssertEqual(end["event"] as? String, "run_end")
        XCTAssertEqual(end["status"] as? String, "succeeded")
        let lists = try XCTUnwrap(end["lists"] as? [String: Int])
        let counts = manifest["counts"] as! [String: [String: Any]]
        XCTAssertEqual(lists, counts.mapValues { $0["total"] as! Int })
        XCTAssertFalse(r.err.contains("run 2026-11-24 done in"), "the people's summary is not in the JSON log")

        // A refused run: every line still parses, the last says why and what to do.
        let refused = try runPFP(runArgs("2026-11-25", ["--log-format", "json"]))
        XCTAssertEqual(refused.status, 65)
        let last = try XCTUnwrap(jsonLines(refused.err).last)
        XCTAssertEqual(last["event"] as? String, "refused")
        XCTAssertEqual(last["level"] as? String, "error")
        XCTAssertEqual(last["exit_code"] as? Int, 65)
        XCTAssertNotNil(last["reason"] as? String)
        XCTAssertNotNil(last["what_to_do"] as? String)
    }

    // MARK: Metrics

    /// pfp.prom parsed by prometheus_client's parser (a python3 script prints its samples as JSON).
    func parseMetrics(_ path: String) throws -> [(name: String, labels: [String: String], value: Double)] {
        let python = try requireTool("python3")
        let code = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = []
            for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
                assert fam.type == "gauge", fam.name
                for s in fam.samples:
                    out.append([s.name, s.labels, s.value])
            print(json.dumps(out))
            """
        let r = try runProgram(python, ["-c", code, path])
        guard r.status == 0 else {
            if r.err.contains("No module named 'prometheus_client'") { _ = try requireTool("prometheus_client") }
            XCTFail("the parser refused pfp.prom: \(r.err)")
            return []
        }
        let rows = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [[Any]]
        return rows.map { ($0[0] as! String, $0[1] as! [String: String], ($0[2] as! NSNumber).doubleValue) }
    }

    func testMetricsParseAndHoldTheRunsFigures() throws {
        let metrics = work + "/metrics"
        XCTAssertEqual(try runPFP(runArgs("2026-11-23", ["--metrics-dir", metrics, "--quiet"])).status, 0)
        let prom = metrics + "/pfp.prom"
        var st = stat()
        XCTAssertEqual(stat(prom, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o644, "readable by node_exporter's user")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: metrics), ["pfp.prom"], "no temporary left")
        var m = try parseMetrics(prom)
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            m.first { $0.name == name && $0.labels == labels }?.value
        }
        XCTAssertEqual(value("pfp_run_status", ["status": "succeeded"]), 1)
        XCTAssertEqual(value("pfp_run_status", ["status": "refused"]), 0)
        XCTAssertEqual(value("pfp_run_exit_code"), 0)
        for stage in ["ingest", "profile", "match", "emit"] {
            XCTAssertNotNil(value("pfp_stage_duration_seconds", ["stage": stage]), stage)
        }
        let manifest =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: work + "/published/2026-11-23/manifest.json")))
            as! [String: Any]
        let counts = manifest["counts"] as! [String: [String: Any]]
        for (list, c) in counts {
            XCTAssertEqual(value("pfp_list_entries", ["list": list]), Double(c["total"] as! Int), list)
            if let per = c["by_policy"] as? [String: Int] {
                for (policy, n) in per {
                    XCTAssertEqual(value("pfp_policy_entries", ["list": list, "policy": policy]), Double(n))
                }
            }
        }
        for input in manifest["inputs"] as! [[String: Any]] {
            let feed = input["feed"] as! String
            XCTAssertEqual(value("pfp_feed_rows_accepted", ["feed": feed]), Double(input["accepted"] as! Int), feed)
            XCTAssertEqual(value("pfp_feed_conflicts", ["feed": feed]), Double(input["conflicts"] as! Int), feed)
            for (reason, n) in input["rejects_by_reason"] as! [String: Int] {
                XCTAssertEqual(value("pfp_feed_rows_rejected", ["feed": feed, "reason": reason]), Double(n))
            }
        }
        let rejectRows =
            try String(contentsOfFile: work + "/published/2026-11-23/rejects.csv", encoding: .utf8)
            .split(separator: "\n").count - 1
        XCTAssertEqual(m.filter { $0.name == "pfp_feed_rows_rejected" }.reduce(0) { $0 + $1.value }, Double(rejectRows))
        let lastSuccess = try XCTUnwrap(value("pfp_last_success_timestamp_seconds"))
        XCTAssertGreaterThan(lastSuccess, 0)

        // A refused run writes the file too: refused, its exit code, the last success unchanged.
        let refused = try runPFP(runArgs("2026-11-25", ["--metrics-dir", metrics, "--quiet"]))
        XCTAssertEqual(refused.status, 65)
        m = try parseMetrics(prom)
        XCTAssertEqual(value("pfp_run_status", ["status": "refused"]), 1)
        XCTAssertEqual(value("pfp_run_status", ["status": "succeeded"]), 0)
        XCTAssertEqual(value("pfp_run_exit_code"), 65)
        XCTAssertEqual(value("pfp_last_success_timestamp_seconds"), lastSuccess)
        XCTAssertEqual(
            value("pfp_last_success_run_date_timestamp_seconds"), Double(CivilDate.parse("2026-11-23")!.days) * 86_400)
        // ... and pfp status says so.
        let s = try runPFP(["status", "--db", work + "/pfp.sqlite", "--run-date", "2026-11-25"])
        XCTAssertNotEqual(s.status, 0)
        XCTAssertTrue(s.err.contains("refused"), s.err)
    }

    // MARK: Data-quality feedback

    /// Each feed's feedback/<feed>.csv holds exactly its rows of rejects.csv; its page
    /// counts them per reason and lists them line by line; report.html links to every page.
    func testFeedbackFilesAndPagesShowTheRejectsAsRejectsCSVDoes() throws {
        for d in ["2026-11-23", "2026-11-24"] { XCTAssertEqual(try runPFP(runArgs(d, ["--quiet"])).status, 0) }
        let run = work + "/published/2026-11-24"
        let rejects = try String(contentsOfFile: run + "/rejects.csv", encoding: .utf8).split(separator: "\n")
            .dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertGreaterThan(rejects.count, 50)
        let manifest =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: run + "/manifest.json"))) as! [String: Any]
        let outputs = Set((manifest["outputs"] as! [[String: Any]]).map { $0["file"] as! String })
        let report = try String(contentsOfFile: run + "/report.html", encoding: .utf8)
        var feeds = 0
        for input in manifest["inputs"] as! [[String: Any]] {
            let feed = input["feed"] as! String
            feeds += 1
            let mine = rejects.filter { $0[0] == feed }.map { "\($0[1]),\($0[2])" }
            let csv = try String(contentsOfFile: run + "/feedback/\(feed).csv", encoding: .utf8)
            XCTAssertEqual(csv, (["line,reason"] + mine).joined(separator: "\n") + "\n", feed)
            XCTAssertTrue(outputs.contains("feedback/\(feed).csv") && outputs.contains("feedback/\(feed).html"))
            let page = try String(contentsOfFile: run + "/feedback/\(feed).html", encoding: .utf8)
            // Per reason, the page's count is rejects.csv's.
            var expected: [String: Int] = [:]
            for r in rejects where r[0] == feed { expected[r[2], default: 0] += 1 }
            var shown: [String: Int] = [:]
            let cell = try NSRegularExpression(pattern: #"data-reason="([a-z_]+)">([0-9,]+)</td>"#)
            for match in cell.matches(in: page, range: NSRange(page.startIndex..., in: page)) {
                let reason = String(page[Range(match.range(at: 1), in: page)!])
                shown[reason] = Int(page[Range(match.range(at: 2), in: page)!].replacingOccurrences(of: ",", with: ""))
            }
            XCTAssertEqual(shown, expected, feed)
            // Line by line, in rejects.csv's order.
            let rowRE = try NSRegularExpression(pattern: #"<tr><td>([0-9]+)</td><td>([a-z_]+)</td></tr>"#)
            let listed = rowRE.matches(in: page, range: NSRange(page.startIndex..., in: page)).map {
                "\(page[Range($0.range(at: 1), in: page)!]),\(page[Range($0.range(at: 2), in: page)!])"
            }
            XCTAssertEqual(listed, mine, feed)
            XCTAssertTrue(page.contains("Trends over the last 2 runs"), feed)
            XCTAssertTrue(report.contains("href=\"feedback/\(feed).html\""), feed)
            XCTAssertFalse(page.contains("<script"))
        }
        XCTAssertEqual(feeds, 13)
        var st = stat()
        XCTAssertEqual(stat(run + "/feedback/hr.csv", &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
    }
}
