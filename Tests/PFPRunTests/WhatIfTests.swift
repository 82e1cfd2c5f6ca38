import XCTest
import PFPTestSupport
@testable import PFPCore

/// `pfp whatif` (issue 21) on the sample's two nights: its lists against the
/// published run's, read back from the files as a downstream job would.
final class WhatIfTests: XCTestCase {
    var work = ""
    override func setUpWithError() throws {
        work = try makeWorkDirectory("pfp-whatif")
        for d in ["2026-11-23", "2026-11-24"] {
            let r = try runPFP(["run", "--run-date", d, "--out", work + "/pub", "--db", work + "/db.sqlite", "--quiet"])
            XCTAssertEqual(r.status, 0, r.err)
        }
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: work) }

    func whatif(_ reforms: [String], extra: [String] = []) throws -> (status: Int32, out: String, err: String) {
        try runPFP(
            ["whatif", "--run-date", "2026-11-24", "--db", work + "/db.sqlite", "--out", work + "/whatif"]
                + reforms.flatMap { ["--reform", $0] } + extra)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = work + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let lists = ["push", "suppressed", "review", "referral", "watch", "warning"]

    /// A list file's rows by key (the key columns joined), with the rest of the row.
    func rows(_ path: String, keys: Int) throws -> [String: [String]] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst()
        var out: [String: [String]] = [:]
        for l in lines {
            let f = l.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            out[f[0..<keys].joined(separator: ",")] = f
        }
        return out
    }

    func testAReformThatChangesNothingGivesNoChangesAndTheSameLists() throws {
        let same = try write("same.reform", "reform same\n  dibao.standard from 2025-07-01 = 1590\n")
        let r = try whatif([same])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("same: 0 added, 0 removed, 0 changed"), r.out)
        for l in WhatIfTests.lists {
            XCTAssertEqual(
                try FileIO.readAll(work + "/whatif/same/\(l).csv"),
                try FileIO.readAll(work + "/pub/2026-11-24/\(l).csv"),
                l)
        }
        let changes = try String(contentsOfFile: work + "/whatif/same/changes.csv", encoding: .utf8)
        XCTAssertEqual(changes.split(separator: "\n").count, 1, "the header only")
        XCTAssertTrue(FileIO.exists(work + "/whatif/same/_SUCCESS"))
        // Every household decided again, in the what-if's one pass: the same lists as
        // the nightly run's two passes made.
        let every = try whatif([same], extra: ["--every-household"])
        XCTAssertEqual(every.status, 0, every.err)
        XCTAssertTrue(every.out.contains("same: 0 added, 0 removed, 0 changed"), every.out)
        for l in WhatIfTests.lists {
            let same =
                try FileIO.readAll(work + "/whatif/same/\(l).csv") == FileIO.readAll(work + "/pub/2026-11-24/\(l).csv")
            XCTAssertTrue(same, "\(l), every household decided")
        }
    }

    /// changes.csv holds exactly the entries that differ between the published lists
    /// and the reform's (computed here from the two sets of files), and summary.csv's
    /// totals are the push lists' counts and sums.
    func testChangesAreExactlyTheDifferencesOfTheLists() throws {
        let published = work + "/pub/2026-11-24"
        let before = try publishedFiles(published).map { ($0, try SHA256Digest.hex(ofFile: published + "/" + $0)) }
        let runsBefore = try runPFP(["runs", "--db", work + "/db.sqlite"]).out
        let r = try whatif([repoRoot + "/Pipelines/reforms/dibao_1650.reform"])
        XCTAssertEqual(r.status, 0, r.err)
        let dir = work + "/whatif/dibao_1650"
        var expected: Set<String> = []
        for l in WhatIfTests.lists {
            let perPolicy = ["push", "suppressed", "review"].contains(l)
            let keys = perPolicy ? 3 : 1
            let a = try rows(published + "/\(l).csv", keys: keys), b = try rows(dir + "/\(l).csv", keys: keys)
            let key = { (k: String) in perPolicy ? k : k + ",," }
            for k in Set(a.keys).subtracting(b.keys) { expected.insert("\(l),\(key(k)),removed") }
            for k in Set(b.keys).subtracting(a.keys) { expected.insert("\(l),\(key(k)),added") }
            for k in Set(a.keys).intersection(b.keys) where a[k] != b[k] { expected.insert("\(l),\(key(k)),changed") }
        }
        let changes = try String(contentsOfFile: dir + "/changes.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(
            String(changes[0]),
            "list,household_id,person_id,policy,change,certainty_before,certainty_after,amount_before,amount_after,"
                + "codes_before,codes_after,district,street,community")
        let found = changes.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false)[0..<5] }
            .map { $0.joined(separator: ",") }
        XCTAssertEqual(Set(found), expected)
        XCTAssertEqual(found.count, expected.count, "one row per entry")
        XCTAssertEqual(found, found.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }, "sorted by list, then keys")
        XCTAssertGreaterThan(expected.count, 5, "the reform changes something on the sample")

        // summary.csv's per-policy totals are the push lists' counts and sums.
        func push(_ path: String) throws -> [[String]] { Array(try rows(path + "/push.csv", keys: 3).values) }
        let summary = try String(contentsOfFile: dir + "/summary.csv", encoding: .utf8).split(separator: "\n")
            .dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        for (side, path) in [(0, published), (1, dir)] {
            let entries = try push(path)
            for policy in Set(entries.map { $0[2] }) {
                let mine = entries.filter { $0[2] == policy }
                let confirmed = mine.filter { $0[3] == "confirmed" }
                let row = try XCTUnwrap(summary.first { $0[0] == policy && $0[1] == "all" }, policy)
                XCTAssertEqual(Int(row[3 + 2 * side]), confirmed.count, "\(policy) confirmed, side \(side)")
                XCTAssertEqual(Int(row[4 + 2 * side]), mine.count - confirmed.count, "\(policy) to verify")
                XCTAssertEqual(
                    Int(row[9 + 2 * side]), confirmed.reduce(0) { $0 + (Int($1[4]) ?? 0) },
                    "\(policy) cost, side \(side)")
                XCTAssertEqual(
                    Int(row[10 + 2 * side]), mine.reduce(0) { $0 + (Int($1[4]) ?? 0) }, "\(policy) upper, side \(side)")
            }
        }
        // The published run and the registry are untouched.
        XCTAssertEqual(
            try publishedFiles(published).map { ($0, try SHA256Digest.hex(ofFile: published + "/" + $0)) }.map {
                "\($0)"
            },
            before.map { "\($0)" })
        XCTAssertEqual(try runPFP(["runs", "--db", work + "/db.sqlite"]).out, runsBefore)
        let manifest = try XCTUnwrap(JSON.parseObject(try FileIO.readAll(dir + "/manifest.json")))
        XCTAssertEqual((manifest["reform"] as? [String: Any])?["name"] as? String, "dibao_1650")
        XCTAssertNotNil(manifest["base_rule_digest"] as? String)
    }

    /// changes.jsonl: one line per row of changes.csv, in its order, each saying what
    /// flipped or which values moved, and the parameters that made them.
    func testEveryChangeIsExplained() throws {
        XCTAssertEqual(try whatif([repoRoot + "/Pipelines/reforms/dibao_1650.reform"]).status, 0)
        let dir = work + "/whatif/dibao_1650"
        let csv = try String(contentsOfFile: dir + "/changes.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        let lines = try String(contentsOfFile: dir + "/changes.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, csv.count)
        // Rows of several lists, explained household by household: the lines still
        // come list by list (the lists after the first went through part files, none left).
        XCTAssertGreaterThan(Set(csv.map { $0.split(separator: ",")[0] }).count, 2)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }, [])
        for (row, line) in zip(csv, lines) {
            let f = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let o = try XCTUnwrap(JSON.parseObject(Array(line.utf8)))
            XCTAssertEqual(o["list"] as? String, f[0])
            XCTAssertEqual(o["household_id"] as? String, f[1])
            XCTAssertEqual(o["person_id"] as? String ?? "", f[2])
            XCTAssertEqual(o["policy"] as? String ?? "", f[3])
            XCTAssertEqual(o["change"] as? String, f[4])
            let flipped = o["flipped"] as? [Any] ?? [], values = o["values"] as? [Any] ?? []
            XCTAssertFalse(flipped.isEmpty && values.isEmpty, "\(line)")
            let parameters = (o["parameters"] as? [[Any]] ?? []).compactMap { $0.first as? String }
            XCTAssertFalse(
                Set(parameters).isDisjoint(with: ["dibao.standard", "watch.income_multiplier"]), "\(line)")
        }
        try checkDecisionsAgreeWithTheRows(dir)
        let report = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        XCTAssertTrue(report.contains("Headline") && report.contains("Monthly cost change"))
        XCTAssertFalse(report.contains("<script"))
    }

    /// Each explanation of a row that shows certainties (the push and suppressed
    /// lists'): the decisions made again on each side give the certainty and amount
    /// the row shows on that side (a decision mixed up with another entry's would not).
    func checkDecisionsAgreeWithTheRows(_ dir: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let csv = try FileIO.readText(dir + "/changes.csv").split(separator: "\n").dropFirst()
        let lines = try FileIO.readText(dir + "/changes.jsonl").split(separator: "\n")
        var checked = 0
        for (row, text) in zip(csv, lines) {
            let f = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let o = try XCTUnwrap(JSON.parseObject(Array(text.utf8)))
            for (side, certainty, amount) in [("before", f[5], f[7]), ("after", f[6], f[8])] where !certainty.isEmpty {
                let d = o[side] as? [String: Any]
                XCTAssertEqual(d?["certainty"] as? String, certainty, "\(side): \(text)", file: file, line: line)
                XCTAssertEqual((d?["amount"] as? Int).map { "\($0)" } ?? "", amount, "\(side)", file: file, line: line)
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 0, file: file, line: line)
    }

    /// A sweep: one folder per value and a summary over all; at the value in force
    /// on the run date nothing changes.
    func testASweepWritesAFolderPerValueAndASummary() throws {
        let r = try whatif([], extra: ["--sweep", "watch.income_multiplier=1.4..1.7:0.1"])
        XCTAssertEqual(r.status, 0, r.err)
        for v in ["1.4", "1.5", "1.6", "1.7"] {
            XCTAssertTrue(FileIO.exists(work + "/whatif/watch.income_multiplier@\(v)/_SUCCESS"), v)
        }
        let atCurrent = try String(
            contentsOfFile: work + "/whatif/watch.income_multiplier@1.5/changes.csv", encoding: .utf8)
        XCTAssertEqual(atCurrent.split(separator: "\n").count, 1, "1.5 is the value in force: no change")
        let sweep = work + "/whatif/sweep-watch.income_multiplier"
        XCTAssertTrue(FileIO.exists(sweep + "/_SUCCESS"))
        let rows = try String(contentsOfFile: sweep + "/sweep.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        XCTAssertEqual(Set(rows.map { $0.split(separator: ",")[0] }), ["1.4", "1.5", "1.6", "1.7"])
        let bad = try whatif([], extra: ["--sweep", "elderly_allowance.bands=1..2:1"])
        XCTAssertEqual(bad.status, 65, "a table cannot be swept")
        XCTAssertTrue(bad.err.contains("is a table"), bad.err)
        XCTAssertEqual(try whatif([], extra: ["--sweep", "watch.income_multiplier=1.4..1.7"]).status, 64)
    }

    /// A sweep's values are explained together (one pass over the households) and
    /// their lists copy the published rows of the entries that stay: each value's
    /// files are those of the same reform run alone.
    func testASweepsValueGivesTheFilesOfTheSameReformRunAlone() throws {
        let r = try whatif([], extra: ["--sweep", "dibao.standard=1590..1690:50"])
        XCTAssertEqual(r.status, 0, r.err)
        let alone = try write("alone.reform", "reform alone\n  dibao.standard from 2026-11-24 = 1690\n")
        let a = try runPFP([
            "whatif", "--run-date", "2026-11-24", "--db", work + "/db.sqlite", "--out", work + "/alone",
            "--reform", alone,
        ])
        XCTAssertEqual(a.status, 0, a.err)
        let swept = work + "/whatif/dibao.standard@1690", one = work + "/alone/alone"
        let files = WhatIfTests.lists.map { $0 + ".csv" } + ["changes.csv", "changes.jsonl", "summary.csv"]
        for f in files {
            XCTAssertEqual(try FileIO.readText(swept + "/" + f), try FileIO.readText(one + "/" + f), f)
        }
        for v in ["1640", "1690"] { try checkDecisionsAgreeWithTheRows(work + "/whatif/dibao.standard@" + v) }
        // Rows of several lists changed, and most of the push list's rows did not.
        let changes = try FileIO.readText(one + "/changes.csv").split(separator: "\n").dropFirst()
        XCTAssertGreaterThan(Set(changes.map { $0.split(separator: ",")[0] }).count, 1)
        let push = try FileIO.readText(one + "/push.csv").split(separator: "\n").count
        XCTAssertGreaterThan(push, 2 * changes.filter { $0.hasPrefix("push,") }.count)
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: work + "/whatif").filter { $0.hasPrefix(".") }, [])
    }

    func testBadRequestsWriteNothing() throws {
        let a = try write("a.reform", "reform twice\n  dibao.standard from 2026-01-01 = 1650\n")
        let b = try write("b.reform", "reform twice\n  dibao.standard from 2026-01-01 = 1700\n")
        var r = try whatif([a, b])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.err.contains("two reforms are named twice"), r.err)
        let typo = try write("c.reform", "reform typo\n  watch.income_multipler from 2026-01-01 = 1.6\n")
        r = try whatif([typo])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.err.contains("c.reform:2:3") && r.err.contains("did you mean watch.income_multiplier?"), r.err)
        r = try runPFP([
            "whatif", "--run-date", "2026-11-25", "--db", work + "/db.sqlite", "--out", work + "/whatif", "--reform", a,
        ])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.err.contains("no successful run of 2026-11-25"), r.err)
        XCTAssertFalse(FileIO.exists(work + "/whatif/twice") || FileIO.exists(work + "/whatif/typo"))
    }

    func testABaseRunWhoseRulesChangedSinceIsRefusedWithHowToRerun() throws {
        // A copy of the pipeline whose rules differ from those of the stored run.
        let copy = work + "/copy"
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: repoRoot + "/Pipelines", toPath: copy + "/Pipelines")
        let params = copy + "/Pipelines/rules/parameters.rules"
        try (try String(contentsOfFile: params, encoding: .utf8) + "\n# edited after the run\n")
            .write(toFile: params, atomically: true, encoding: .utf8)
        let a = try write("a.reform", "reform a\n  dibao.standard from 2026-01-01 = 1650\n")
        let r = try runPFP([
            "whatif", "--run-date", "2026-11-24", "--db", work + "/db.sqlite", "--out", work + "/whatif", "--reform", a,
            "--config", copy + "/Pipelines/nightly.conf",
        ])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.err.contains("the rule files changed since the run of 2026-11-24"), r.err)
        XCTAssertTrue(r.err.contains("pfp run --from profile --run-date 2026-11-24"), r.err)
    }
}
