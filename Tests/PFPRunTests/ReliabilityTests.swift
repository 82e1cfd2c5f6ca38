import XCTest
import PFPTestSupport
@testable import PFPCore
@testable import PFPIngest
@testable import PFPRun

/// The promises of the README's "Reliability and privacy" section, each checked
/// by running the built pfp as the scheduler would.
final class ReliabilityTests: XCTestCase {
    var work = ""

    override func setUpWithError() throws {
        guard FileIO.exists(pfpBinary) else { throw XCTSkip("build the pfp product first") }
        work = NSTemporaryDirectory() + "pfp-rel-\(UUID().uuidString)"
        try FileIO.makeDirectory(work)
    }
    override func tearDown() { try? FileIO.remove(work) }

    /// Runs pfp after `prefix` (a umask, a file-size limit) in /bin/sh.
    func sh(_ prefix: String, _ args: [String]) throws -> (code: Int32, out: String, err: String) {
        let r = try runPFP(args, shell: prefix.isEmpty ? "true;" : prefix)
        return (r.status, r.out, r.err)
    }

    func runArgs(_ date: String, inbox: String? = nil, out: String? = nil) -> [String] {
        [
            "run", "--run-date", date, "--inbox", inbox ?? repoRoot + "/SampleData/inbox-\(date)",
            "--out", (out ?? work) + "/published", "--db", work + "/pfp.sqlite",
        ]
    }

    func copyInbox(_ date: String) throws -> String {
        let dst = work + "/inbox-\(date)"
        try FileManager.default.copyItem(atPath: repoRoot + "/SampleData/inbox-\(date)", toPath: dst)
        return dst
    }

    /// Rewrites a feed with its first `keep` records and a truthful manifest.
    func truncate(_ inbox: String, feed: String, keepShare: Double) throws {
        let path = inbox + "/\(feed).csv"
        let lines = try FileIO.readText(path).split(separator: "\n", omittingEmptySubsequences: false)
        let keep = Int(Double(lines.count - 2) * keepShare)
        let text = lines.prefix(1 + keep).joined(separator: "\n") + "\n"
        try FileIO.write(path, Array(text.utf8))
        let m = path + ".manifest.json"
        var obj = try XCTUnwrap(JSON.parseObject(try FileIO.readAll(m)))
        obj["rows"] = keep
        obj["sha256"] = SHA256Digest.hex(of: Array(text.utf8))
        try FileIO.write(m, Array(try JSONSerialization.data(withJSONObject: obj)))
    }

    func testADeliveryMuchSmallerThanTheLastIsStoppedUnlessAllowed() throws {
        XCTAssertEqual(try sh("", runArgs("2026-11-23")).code, 0)
        let inbox = try copyInbox("2026-11-24")
        try truncate(inbox, feed: "hr", keepShare: 0.7)
        let refused = try sh("", runArgs("2026-11-24", inbox: inbox))
        XCTAssertEqual(refused.code, 65)
        XCTAssertTrue(refused.err.contains("feed hr: suspicious delivery"), refused.err)
        XCTAssertTrue(refused.err.contains("--allow-drift hr"), refused.err)
        XCTAssertEqual(try sh("", runArgs("2026-11-24", inbox: inbox) + ["--allow-drift", "hr"]).code, 0)
        // Under 20 % fewer rows is normal churn.
        let inbox2 = work + "/inbox2"
        try FileManager.default.copyItem(atPath: repoRoot + "/SampleData/inbox-2026-11-24", toPath: inbox2)
        try truncate(inbox2, feed: "hr", keepShare: 0.85)
        XCTAssertEqual(try sh("", runArgs("2026-11-24", inbox: inbox2)).code, 0)
    }

    func testASecondRunOnTheSameDatabaseRefusesAndNamesTheFirst() throws {
        let lock = try RunLock.acquire(dbPath: work + "/pfp.sqlite", outRoot: work + "/published")
        let r = try sh("", runArgs("2026-11-23"))
        XCTAssertEqual(r.code, 75)
        XCTAssertTrue(r.err.contains("another pfp run holds the lock") && r.err.contains("pid \(getpid())"), r.err)
        lock.release()
        XCTAssertEqual(try sh("", runArgs("2026-11-23")).code, 0)
        // Another database, the same output root: refused as well.
        let rootLock = try RunLock.acquire(dbPath: work + "/other.sqlite", outRoot: work + "/published")
        let r2 = try sh("", runArgs("2026-11-24"))
        XCTAssertEqual(r2.code, 75)
        XCTAssertTrue(r2.err.contains("lock on this database") || r2.err.contains("lock on this output root"), r2.err)
        rootLock.release()
    }

    func testAFullDiskFailsClearlyAndPublishesNothing() throws {
        XCTAssertEqual(try sh("", runArgs("2026-11-23")).code, 0)
        let before = try FileManager.default.contentsOfDirectory(atPath: work + "/published").filter {
            !$0.hasPrefix(".")
        }.sorted()
        let day1 = try SHA256Digest.hex(ofFile: work + "/published/2026-11-23/push.csv")
        // 'ulimit -f' makes writes beyond 100 KiB fail, as a full disk does.
        let r = try sh("ulimit -f 200;", runArgs("2026-11-24"))
        XCTAssertEqual(r.code, 1, r.err)
        XCTAssertTrue(r.err.contains("cannot write") || r.err.contains("disk I/O error"), r.err)
        XCTAssertTrue(r.err.contains("what to do"), r.err)
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: work + "/published").filter { !$0.hasPrefix(".") }
                .sorted(), before)
        XCTAssertEqual(try SHA256Digest.hex(ofFile: work + "/published/2026-11-23/push.csv"), day1)
        XCTAssertEqual(try sh("", runArgs("2026-11-24")).code, 0, "the next run succeeds")
    }

    func testAnOutputRootThatCannotBeWrittenFailsClearly() throws {
        // /proc refuses new directories even to root.
        let r = try sh(
            "",
            [
                "run", "--run-date", "2026-11-23", "--inbox", repoRoot + "/SampleData/inbox-2026-11-23",
                "--out", "/proc/pfp-test/published", "--db", work + "/pfp.sqlite",
            ])
        XCTAssertEqual(r.code, 1, r.err)
        XCTAssertTrue(r.err.contains("/proc/pfp-test") && r.err.contains("cannot create"), r.err)
        XCTAssertTrue(r.err.contains("what to do"), r.err)
    }

    func testNoNameOrFullIDReachesLogsOrNonPersonalFilesAndEverythingIsOwnerOnly() throws {
        var logs = ""
        for date in ["2026-11-23", "2026-11-24"] {
            let r = try sh("umask 000;", runArgs(date) + ["--verbose"])
            XCTAssertEqual(r.code, 0, r.err)
            logs += r.out + r.err
        }
        logs += try sh("", ["runs", "--db", work + "/pfp.sqlite"]).out
        logs += try sh(
            "", ["explain", "--run-date", "2026-11-24", "--household", "H0000000004", "--db", work + "/pfp.sqlite"]
        ).out
        // Every name and ID of the input.
        var names: Set<String> = [], ids: Set<String> = []
        for date in ["2026-11-23", "2026-11-24"] {
            let conv = Process()
            conv.executableURL = URL(fileURLWithPath: "/usr/bin/iconv")
            conv.arguments = ["-f", "GB18030", "-t", "UTF-8", repoRoot + "/SampleData/inbox-\(date)/population.csv"]
            let pipe = Pipe()
            conv.standardOutput = pipe
            try conv.run()
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            conv.waitUntilExit()
            let scanner = Array(text.utf8)
            _ = scanner
            for line in text.split(separator: "\n") {
                for field in line.split(separator: ",") {
                    let f = field.trimmingCharacters(in: CharacterSet(charactersIn: "\"\r"))
                    if f.count >= 15, f.allSatisfy({ $0.isNumber || $0 == "X" || $0 == "x" }) {
                        ids.insert(f.uppercased())
                    }
                    if f.unicodeScalars.contains(where: { $0.value > 0x2E80 }) && f.count >= 2 { names.insert(f) }
                }
            }
        }
        XCTAssertGreaterThan(names.count, 100)
        XCTAssertGreaterThan(ids.count, 500)
        let nonPersonal = ["rejects.csv", "report.html", "manifest.json"]
        for date in ["2026-11-23", "2026-11-24"] {
            let dir = work + "/published/\(date)"
            for f in try publishedFiles(dir) {
                let text = try FileIO.readText(dir + "/" + f)
                for n in names { XCTAssertFalse(text.contains(n), "a name in \(f)") }
                if nonPersonal.contains(f) || f.hasPrefix("feedback/") {
                    for i in ids { XCTAssertFalse(text.contains(i), "an ID in \(f)") }
                }
                var st = stat()
                stat(dir + "/" + f, &st)
                XCTAssertEqual(st.st_mode & 0o777, 0o600, "\(f) is owner-only")
            }
        }
        for n in names { XCTAssertFalse(logs.contains(n), "a name in the console output") }
        for i in ids { XCTAssertFalse(logs.contains(i), "an ID in the console output") }
        for f in ["pfp.sqlite", "pfp.sqlite.lock"] {
            var st = stat()
            stat(work + "/" + f, &st)
            XCTAssertEqual(st.st_mode & 0o777, 0o600, f)
        }
        for f in try FileManager.default.contentsOfDirectory(atPath: work + "/pfp.sqlite.stages") {
            var st = stat()
            stat(work + "/pfp.sqlite.stages/" + f, &st)
            XCTAssertEqual(st.st_mode & 0o777, 0o600, f)
        }
    }

    /// A policy that does not hold has no amount to show (it was printed as a
    /// negative number of yuan), in the text and in the JSON.
    func testExplainShowsNoAmountWhereThePolicyDoesNotHold() throws {
        XCTAssertEqual(try sh("", runArgs("2026-11-23")).code, 0)
        var notEligible = 0, amounts = 0
        for h in (0..<40).map({ String(format: "H%010d", $0) }) {
            let args = ["explain", "--run-date", "2026-11-23", "--household", h, "--db", work + "/pfp.sqlite"]
            let text = try sh("", args)
            guard text.code == 0 else { continue }
            for line in text.out.split(separator: "\n") where line.contains(": not_eligible") {
                notEligible += 1
                XCTAssertFalse(line.contains("amount"), String(line))
            }
            amounts += text.out.split(separator: "\n").filter { $0.contains(", amount ") }.count
            for line in try sh("", args + ["--json"]).out.split(separator: "\n") {
                let obj = try XCTUnwrap(JSON.parseObject(Array(line.utf8)))
                guard let d = obj["decision"] as? [String: Any], d["certainty"] as? String == "not_eligible" else {
                    continue
                }
                XCTAssertTrue(d["amount"] is NSNull, String(line.prefix(200)))
            }
        }
        XCTAssertGreaterThan(notEligible, 50)
        XCTAssertGreaterThan(amounts, 5, "amounts are still shown where a policy holds")
    }

    func testPurgeDeletesOldRunsAndKeepsTheRest() throws {
        XCTAssertEqual(try sh("", runArgs("2026-11-23")).code, 0)
        XCTAssertEqual(try sh("", runArgs("2026-11-24")).code, 0)
        let r = try sh(
            "", ["purge", "--before", "2026-11-24", "--out", work + "/published", "--db", work + "/pfp.sqlite"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: work + "/published").filter { !$0.hasPrefix(".") },
            ["2026-11-24"])
        XCTAssertFalse(
            try FileManager.default.contentsOfDirectory(atPath: work + "/pfp.sqlite.stages").contains {
                $0.hasPrefix("2026-11-23")
            })
        let runs = try sh("", ["runs", "--db", work + "/pfp.sqlite"]).out
        XCTAssertFalse(runs.contains("2026-11-23"))
        XCTAssertTrue(runs.contains("2026-11-24  succeeded"))
    }
}
