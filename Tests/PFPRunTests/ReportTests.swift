import XCTest
import PFPTestSupport
@testable import PFPCore
@testable import PFPRun

/// report.html renders in a real browser (headless Chromium, Debian's chromium
/// package) and shows the numbers of the lists beside it.
final class ReportTests: XCTestCase {
    func chromium() -> String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    func browser(_ path: String, _ args: [String]) throws -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return data
    }

    func testReportRendersAndShowsTheListCounts() throws {
        let work = NSTemporaryDirectory() + "pfp-report-\(UUID().uuidString)"
        defer { try? FileIO.remove(work) }
        var o = RunOptions()
        o.configPath = repoRoot + "/Pipelines/nightly.conf"
        o.outRoot = work + "/published"
        o.dbPath = work + "/pfp.sqlite"
        for date in ["2026-11-23", "2026-11-24"] {
            o.runDate = CivilDate.parse(date)!
            o.inbox = repoRoot + "/SampleData/inbox-\(date)"
            try NightlyRun(options: o, console: Console(level: .quiet)).run()
        }
        let dir = work + "/published/2026-11-24"
        let html = try FileIO.readText(dir + "/report.html")
        XCTAssertFalse(html.contains("<script"), "no scripts")
        XCTAssertFalse(
            html.contains("http://") && !html.contains("http://www.w3.org/2000/svg"), "no external resources")
        guard let chrome = chromium() else { throw XCTSkip("chromium is not installed (apt-get install chromium)") }
        let png = work + "/report.png"
        _ = try browser(chrome, ["--window-size=1200,1600", "--screenshot=" + png, "file://" + dir + "/report.html"])
        let image = try FileIO.readAll(png)
        XCTAssertEqual(Array(image.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "a PNG")
        XCTAssertGreaterThan(image.count, 20_000, "a page with content, not a blank one")
        // The DOM as the browser built it: each list's count equals its file's rows.
        let dom = String(
            decoding: try browser(chrome, ["--dump-dom", "file://" + dir + "/report.html"]), as: UTF8.self)
        for list in ["push", "review", "referral", "watch", "warning"] {
            let rows = try FileIO.readText(dir + "/\(list).csv").split(separator: "\n").count - 1
            XCTAssertTrue(dom.contains("id=\"count-\(list)\">\(grouped(rows))<"), "\(list): \(rows)")
        }
        XCTAssertGreaterThanOrEqual(dom.components(separatedBy: "<svg").count - 1, 5)
    }

    /// A what-if's report and a department's feedback page render too, and show
    /// the figures of the files beside them.
    func testWhatIfAndFeedbackPagesRender() throws {
        let work = try makeWorkDirectory("pfp-pages")
        defer { try? FileIO.remove(work) }
        for date in ["2026-11-23", "2026-11-24"] {
            let r = try runPFP(["run", "--run-date", date, "--out", work + "/pub", "--db", work + "/db.sqlite"])
            XCTAssertEqual(r.status, 0, r.err)
        }
        let w = try runPFP([
            "whatif", "--run-date", "2026-11-24", "--db", work + "/db.sqlite", "--out", work + "/whatif",
            "--reform", repoRoot + "/Pipelines/reforms/dibao_1650.reform",
        ])
        XCTAssertEqual(w.status, 0, w.err)
        let dir = work + "/whatif/dibao_1650"
        // The headline's monthly change is summary.csv's, over every district, monthly policies.
        var change = (0, 0)
        for line in try FileIO.readText(dir + "/summary.csv").split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",").map(String.init)
            guard f[1] == "all", f[2] == "monthly" else { continue }
            change = (change.0 + Int(f[13])!, change.1 + Int(f[14])!)
        }
        let expected = WhatIfReport.range(change.0, change.1)
        for page in [dir + "/report.html", work + "/pub/2026-11-24/feedback/hr.html"] {
            let html = try FileIO.readText(page)
            XCTAssertFalse(html.contains("<script"), page)
        }
        guard let chrome = chromium() else { throw XCTSkip("chromium is not installed (apt-get install chromium)") }
        let dom = String(decoding: try browser(chrome, ["--dump-dom", "file://" + dir + "/report.html"]), as: UTF8.self)
        XCTAssertTrue(dom.contains("id=\"monthly-change\">\(expected)<"), "monthly change \(expected)")
        XCTAssertGreaterThanOrEqual(dom.components(separatedBy: "<svg").count - 1, 3)
        let feedback = String(
            decoding: try browser(chrome, ["--dump-dom", "file://" + work + "/pub/2026-11-24/feedback/hr.html"]),
            as: UTF8.self)
        let rejected = try FileIO.readText(work + "/pub/2026-11-24/feedback/hr.csv").split(separator: "\n").count - 1
        XCTAssertTrue(feedback.contains("id=\"rejected\">\(grouped(rejected))<"), "hr: \(rejected) rejected")
    }
}
