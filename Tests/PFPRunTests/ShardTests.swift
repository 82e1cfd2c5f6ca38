import XCTest
import PFPTestSupport
@testable import PFPCore

/// pfp shard → pfp run per shard → pfp merge gives what one machine publishes
/// (issue 22): every list, explain.jsonl, rejects.csv, the report and the feedback
/// pages byte for byte, the manifest equal but for its times and its `shards`.
final class ShardTests: XCTestCase {
    var work = ""
    let days = ["2026-11-23", "2026-11-24"]

    override func setUpWithError() throws {
        guard FileIO.exists(pfpBinary) else { throw XCTSkip("build the pfp product first") }
        work = try makeWorkDirectory("pfp-shards")
    }

    override func tearDownWithError() throws { try? FileIO.remove(work) }

    func pfp(
        _ args: [String], env: [String: String] = [:], _ file: StaticString = #filePath, line: UInt = #line
    )
        throws -> (status: Int32, out: String, err: String)
    {
        try runPFP(args, env: env)
    }

    func ok(_ args: [String], _ file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try runPFP(args)
        XCTAssertEqual(r.status, 0, "pfp \(args.joined(separator: " ")): \(r.err)", file: file, line: line)
    }

    /// The whole delivery run on one machine: `<dir>/single/<date>/`.
    func single(_ inboxes: [String], _ dir: String, _ extra: [String] = []) throws {
        for (d, inbox) in zip(days, inboxes) {
            try ok(
                [
                    "run", "--run-date", d, "--inbox", inbox, "--out", dir + "/single", "--db", dir + "/single.sqlite",
                    "--quiet",
                ] + extra)
        }
    }

    /// Cut, run per shard (each with its own database and root), merge: `<dir>/merged/<date>/`.
    func sharded(_ inboxes: [String], _ dir: String, shards n: Int, _ extra: [String] = []) throws {
        for (d, inbox) in zip(days, inboxes) {
            try ok(
                ["shard", "--run-date", d, "--inbox", inbox, "--shards", "\(n)", "--out", "\(dir)/cut-\(d)", "--quiet"]
                    + extra)
            for k in 0..<n {
                try ok(
                    [
                        "run", "--run-date", d, "--inbox", "\(dir)/cut-\(d)/\(k)", "--db", "\(dir)/shard\(k).sqlite",
                        "--out", "\(dir)/shard\(k)", "--quiet",
                    ] + extra)
            }
            try ok(
                ["merge", "--run-date", d, "--out", "\(dir)/merged", "--quiet"]
                    + (0..<n).map { "\(dir)/shard\($0)/\(d)" })
        }
    }

    func assertSame(_ a: String, _ b: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws
    {
        let fa = try publishedFiles(a), fb = try publishedFiles(b)
        XCTAssertEqual(fa, fb, "\(what): the published files", file: file, line: line)
        for f in fa where f != "manifest.json" {
            XCTAssertEqual(
                try FileIO.readAll(a + "/" + f), try FileIO.readAll(b + "/" + f), "\(what): \(f)", file: file,
                line: line)
        }
        var ma = try XCTUnwrap(JSON.parseObject(try FileIO.readAll(a + "/manifest.json")))
        var mb = try XCTUnwrap(JSON.parseObject(try FileIO.readAll(b + "/manifest.json")))
        XCTAssertNotNil(mb["shards"], "\(what): the merged manifest names its shards", file: file, line: line)
        for k in ["started_at", "ended_at", "shards"] {
            ma[k] = nil
            mb[k] = nil
        }
        XCTAssertEqual(
            NSDictionary(dictionary: ma), NSDictionary(dictionary: mb), "\(what): manifest", file: file, line: line)
    }

    func check(_ inboxes: [String], shards: [Int], _ name: String, _ extra: [String] = []) throws {
        let dir = work + "/" + name
        try single(inboxes, dir, extra)
        for n in shards {
            let sd = "\(dir)/n\(n)"
            try sharded(inboxes, sd, shards: n, extra)
            for d in days { try assertSame(dir + "/single/" + d, sd + "/merged/" + d, "\(name), \(n) shards, \(d)") }
        }
    }

    func testSampleDeliveryInOneThreeAndSevenShards() throws {
        try check(days.map { repoRoot + "/SampleData/inbox-\($0)" }, shards: [1, 3, 7], "sample")
    }

    func testAnotherProducersDeliveries() throws {
        let inboxes = days.map { repoRoot + "/../shared/examples/inbox-\($0)" }
        guard FileIO.isDirectory(inboxes[0]) else { throw XCTSkip("shared/examples is not beside the checkout") }
        try check(inboxes, shards: [3], "examples")
    }

    func testAGeneratedCityOfTwoThousandHouseholds() throws {
        try ok([
            "sample", "--households", "2000", "--seed", "22", "--run-date", days[0], "--days", "2", "--out",
            work + "/gen", "--quiet",
        ])
        try check(days.map { work + "/gen/inbox-\($0)" }, shards: [7], "generated")
    }

    /// A required feed allowed missing (its policies skipped) and a stale optional
    /// feed (ignored): the merged manifest says so as the single run's does.
    func testAFeedAllowedMissingAndAStaleOneAsInASingleRun() throws {
        var inboxes: [String] = []
        for d in days {
            let inbox = work + "/in-" + d
            try FileManager.default.copyItem(atPath: repoRoot + "/SampleData/inbox-\(d)", toPath: inbox)
            try FileManager.default.removeItem(atPath: inbox + "/education.csv")
            try FileManager.default.removeItem(atPath: inbox + "/education.csv.manifest.json")
            let m = inbox + "/utilities.csv.manifest.json"
            let text = try String(contentsOfFile: m, encoding: .utf8)
            let stale = text.replacingOccurrences(
                of: #""as_of": *"[0-9-]+""#, with: #""as_of": "2026-10-01""#, options: .regularExpression)
            XCTAssertNotEqual(stale, text)
            try stale.write(toFile: m, atomically: true, encoding: .utf8)
            inboxes.append(inbox)
        }
        try check(inboxes, shards: [3], "allowed", ["--allow-missing", "education"])
        let m = try XCTUnwrap(
            JSON.parseObject(try FileIO.readAll(work + "/allowed/n3/merged/\(days[1])/manifest.json")))
        let inputs = try XCTUnwrap(m["inputs"] as? [[String: Any]])
        XCTAssertEqual(inputs.first { $0["feed"] as? String == "education" }?["status"] as? String, "allowed_missing")
        XCTAssertEqual(inputs.first { $0["feed"] as? String == "utilities" }?["status"] as? String, "stale")
        // A shard run with other --allow-missing than the cut's: refused.
        let r = try pfp([
            "run", "--run-date", days[0], "--inbox", work + "/allowed/n3/cut-\(days[0])/0", "--db", work + "/x.sqlite",
            "--out", work + "/x", "--quiet",
        ])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.err.contains("--allow-missing"), r.err)
    }

    /// The shards of a household id are CRC-32 (zlib's) mod N: one household's rows all in one shard.
    func testEveryHouseholdIsInTheShardItsCRCNames() throws {
        let cut = work + "/cut"
        try ok([
            "shard", "--run-date", days[0], "--inbox", repoRoot + "/SampleData/inbox-2026-11-23", "--shards", "5",
            "--out", cut, "--quiet",
        ])
        XCTAssertTrue(FileIO.exists(cut + "/_SUCCESS"))
        var seen = 0
        for k in 0..<5 {
            // Bytes, not text: the file may be GB18030 with CRLF line ends.
            let lines = try FileIO.readAll("\(cut)/\(k)/population.csv").split(separator: UInt8(ascii: "\n"))
            func fields(_ l: ArraySlice<UInt8>) -> [String] {
                l.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false).map {
                    String(decoding: $0.filter { $0 != UInt8(ascii: "\r") }, as: UTF8.self)
                }
            }
            let header = fields(lines[0])
            let col = try XCTUnwrap(header.firstIndex(of: "household_id"))
            for l in lines.dropFirst() {
                let f = fields(l)
                guard f.count == header.count else { continue }  // a quoted line break
                let id = f[col]
                XCTAssertEqual(Int(CRC32.of(id) % 5), k, "household in shard \(k)")
                seen += 1
            }
            // Each shard's feeds pass their own manifests: a shard is an ordinary delivery.
            let m = try XCTUnwrap(JSON.parseObject(try FileIO.readAll("\(cut)/\(k)/population.csv.manifest.json")))
            XCTAssertEqual(m["sha256"] as? String, try SHA256Digest.hex(ofFile: "\(cut)/\(k)/population.csv"))
        }
        XCTAssertGreaterThan(seen, 500)
    }

    func testADatabaseKeepsItsShardAndTheMergeChecksTheCut() throws {
        let d = days[0], inbox = repoRoot + "/SampleData/inbox-\(d)"
        try ok(["shard", "--run-date", d, "--inbox", inbox, "--shards", "3", "--out", work + "/c3", "--quiet"])
        try ok(["shard", "--run-date", d, "--inbox", inbox, "--shards", "2", "--out", work + "/c2", "--quiet"])
        for k in 0..<3 {
            try ok([
                "run", "--run-date", d, "--inbox", "\(work)/c3/\(k)", "--db", "\(work)/s\(k).sqlite", "--out",
                "\(work)/o\(k)", "--quiet",
            ])
        }
        // Another shard count on the same database: refused, saying what to do.
        var r = try pfp([
            "run", "--run-date", d, "--inbox", "\(work)/c2/0", "--db", "\(work)/s0.sqlite", "--out", "\(work)/x",
            "--quiet",
        ])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.err.contains("shard 0 of 3") && r.err.contains("shard 0 of 2") && r.err.contains("--db"), r.err)
        // The whole delivery on a shard's database: refused.
        r = try pfp([
            "run", "--run-date", d, "--inbox", inbox, "--db", "\(work)/s1.sqlite", "--out", "\(work)/x", "--quiet",
        ])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.err.contains("not a shard's delivery"), r.err)
        // Another run date than the cut's: refused.
        r = try pfp([
            "run", "--run-date", days[1], "--inbox", "\(work)/c3/2", "--db", "\(work)/fresh.sqlite", "--out",
            "\(work)/x", "--quiet",
        ])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.err.contains("was cut for \(d)"), r.err)
        // The merge: a shard missing, a shard twice, a shard of another cut.
        r = try pfp(["merge", "--run-date", d, "--out", work + "/m", "\(work)/o0/\(d)", "\(work)/o1/\(d)"])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.err.contains("missing 2"), r.err)
        r = try pfp([
            "merge", "--run-date", d, "--out", work + "/m", "\(work)/o0/\(d)", "\(work)/o1/\(d)", "\(work)/o1/\(d)",
        ])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.err.contains("given twice 1"), r.err)
        try ok([
            "run", "--run-date", d, "--inbox", "\(work)/c2/1", "--db", "\(work)/t1.sqlite", "--out", "\(work)/p1",
            "--quiet",
        ])
        r = try pfp([
            "merge", "--run-date", d, "--out", work + "/m", "\(work)/o0/\(d)", "\(work)/p1/\(d)", "\(work)/o2/\(d)",
        ])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.err.contains("not of the same cut"), r.err)
        // A shard's file changed after publication: the merge finds it.
        let push = "\(work)/o2/\(d)/push.csv"
        try FileIO.write(push, try FileIO.readAll(push) + Array("x\n".utf8))
        r = try pfp([
            "merge", "--run-date", d, "--out", work + "/m", "\(work)/o0/\(d)", "\(work)/o1/\(d)", "\(work)/o2/\(d)",
        ])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.err.contains("differs from its manifest"), r.err)
        XCTAssertFalse(FileIO.exists(work + "/m/\(d)"), "nothing published")
    }

    /// Killed at any point, the cut and the merge publish nothing; run again, they complete.
    func testKilledShardOrMergePublishesNothingAndTheRerunCompletes() throws {
        let d = days[0], inbox = repoRoot + "/SampleData/inbox-\(d)"
        let ref = work + "/ref"
        try sharded([inbox], ref, shards: 2)
        for point in FaultPoint.shard {
            let cut = "\(work)/cut-\(point)"
            let r = try pfp(
                ["shard", "--run-date", d, "--inbox", inbox, "--shards", "2", "--out", cut, "--quiet"],
                env: ["PFP_ABORT_AT": point])
            XCTAssertEqual(r.status, -SIGKILL, point)
            XCTAssertFalse(FileIO.exists(cut), "\(point): a killed cut leaves nothing under its name")
            try ok(["shard", "--run-date", d, "--inbox", inbox, "--shards", "2", "--out", cut, "--quiet"])
            for k in 0..<2 {
                XCTAssertEqual(try publishedFiles("\(cut)/\(k)"), try publishedFiles("\(ref)/cut-\(d)/\(k)"), point)
            }
        }
        let runs = (0..<2).map { "\(ref)/shard\($0)/\(d)" }
        for point in FaultPoint.merge {
            let out = "\(work)/merge-\(point)"
            let r = try pfp(["merge", "--run-date", d, "--out", out, "--quiet"] + runs, env: ["PFP_ABORT_AT": point])
            XCTAssertEqual(r.status, -SIGKILL, point)
            if point != "merge.published" {
                XCTAssertFalse(FileIO.exists("\(out)/\(d)"), "\(point): nothing published")
            }
            try ok(["merge", "--run-date", d, "--out", out, "--quiet"] + runs)
            try assertSame("\(ref)/merged/\(d)", "\(out)/\(d)", "rerun after \(point)")
        }
    }
}
