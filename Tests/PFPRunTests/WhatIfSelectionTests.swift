import XCTest
import PFPTestSupport
@testable import PFPCore

/// `pfp whatif` decides again only the households a reform of numbers can reach
/// (ReformImpact); every folder it writes must be byte for byte the folder it
/// writes when it decides every household again (`--every-household`). Tried on
/// a generated two-night city with outreach events, for reforms that reach the
/// lists through each way a number can: a comparison of household values, of a
/// person's values, inside an aggregate, against the previous run, an amount
/// only (a parameter, a band table), a cooling-off of the outreach rules.
final class WhatIfSelectionTests: XCTestCase {
    nonisolated(unsafe) static var work = ""

    override class func setUp() {
        super.setUp()
        do {
            work = try makeWorkDirectory("pfp-whatif-selection")
            let g = try runPFP([
                "sample", "--households", "3000", "--seed", "11", "--run-date", "2026-11-23", "--days", "2",
                "--out", work, "--quiet",
            ])
            precondition(g.status == 0, g.err)
            for d in ["2026-11-23", "2026-11-24"] {
                let r = try runPFP([
                    "run", "--run-date", d, "--inbox", work + "/inbox-\(d)", "--out", work + "/pub", "--db",
                    work + "/db.sqlite", "--quiet",
                ])
                precondition(r.status == 0, r.err)
            }
        } catch {
            preconditionFailure("\(error)")
        }
    }
    override class func tearDown() { try? FileManager.default.removeItem(atPath: work) }

    var work: String { WhatIfSelectionTests.work }

    func whatif(_ args: [String], out: String) throws -> (status: Int32, out: String, err: String) {
        try runPFP(
            ["whatif", "--run-date", "2026-11-24", "--db", work + "/db.sqlite", "--out", work + "/" + out, "--verbose"]
                + args)
    }

    /// Every file of every folder under `a`, compared with the same file under `b`.
    func assertSameFolders(_ a: String, _ b: String, _ what: String) throws {
        let fm = FileManager.default
        let folders = try fm.contentsOfDirectory(atPath: a).sorted()
        XCTAssertEqual(folders, try fm.contentsOfDirectory(atPath: b).sorted(), what)
        for f in folders {
            let files = try fm.contentsOfDirectory(atPath: a + "/" + f).sorted()
            XCTAssertEqual(files, try fm.contentsOfDirectory(atPath: b + "/" + f).sorted(), "\(what) \(f)")
            for x in files {
                // Compared whole; a difference names the file (not its bytes).
                let same = try FileIO.readAll(a + "/\(f)/\(x)") == FileIO.readAll(b + "/\(f)/\(x)")
                XCTAssertTrue(same, "\(what): \(f)/\(x) differs")
            }
        }
    }

    static let reforms: [(name: String, lines: [String])] = [
        ("dibao_up", ["dibao.standard from 2026-01-01 = 1650", "watch.income_multiplier from 2026-01-01 = 1.6"]),
        ("dibao_down", ["dibao.standard from 2026-11-01 = 1400", "low_income.multiplier from 2026-11-01 = 2.2"]),
        ("warning_drop", ["warning.income_drop from 2026-01-01 = 0.1"]),
        (
            "cooling",
            ["outreach.cooling_declined from 2026-01-01 = 20", "outreach.cooling_unreachable from 2026-01-01 = 400"]
        ),
        (
            "medical_share",
            ["referral.medical_share from 2026-01-01 = 0.05", "referral.income_multiplier from 2026-01-01 = 1.4"]
        ),
        (
            "amounts",
            [
                "tekun.multiplier from 2026-01-01 = 1.5", "medical_assistance.ratio from 2026-01-01 = 1",
                "disability_living.amount_dibao from 2026-01-01 = 500",
                "child_difficulty.amount from 2026-01-01 = 2000",
            ]
        ),
        (
            "bands",
            [
                "elderly_allowance.bands from 2026-06-01 = 65: 100, 70: 150, 80: 200, 90: 350, 100: 600",
                "elderly_care_subsidy.amount_by_level from 2026-01-01 = 2: 100, 4: 500, 6: 900",
            ]
        ),
        (
            "assets_area",
            [
                "dibao.asset_limit_pc from 2026-01-01 = 10000", "low_income.asset_limit_pc from 2026-01-01 = 200000",
                "housing_assistance.area_limit_pc from 2026-01-01 = 25",
            ]
        ),
        ("superseded", ["dibao.standard from 2025-01-01 = 2000"]),
    ]

    func testEachReformOfNumbersGivesTheFilesOfDecidingEveryHousehold() throws {
        var paths: [String] = []
        for r in WhatIfSelectionTests.reforms {
            let path = work + "/\(r.name).reform"
            try ("reform \(r.name)\n" + r.lines.map { "  " + $0 + "\n" }.joined())
                .write(toFile: path, atomically: true, encoding: .utf8)
            paths.append(path)
        }
        let reforms = paths.flatMap { ["--reform", $0] }
        let some = try whatif(reforms, out: "some")
        XCTAssertEqual(some.status, 0, some.err)
        let every = try whatif(reforms + ["--every-household"], out: "every")
        XCTAssertEqual(every.status, 0, every.err)
        XCTAssertFalse(every.err.contains("households decided again"), "every household decided again")
        XCTAssertTrue(some.err.contains("households decided again"), some.err)
        try assertSameFolders(work + "/some", work + "/every", "selected against every household")
        // They change something, and the superseded entry nothing.
        for r in WhatIfSelectionTests.reforms where r.name != "superseded" {
            let changes = try String(contentsOfFile: work + "/some/\(r.name)/changes.csv", encoding: .utf8)
            XCTAssertGreaterThan(changes.split(separator: "\n").count, 1, "\(r.name) changes entries")
        }
        XCTAssertTrue(some.out.contains("superseded: 0 added, 0 removed, 0 changed"), some.out)
    }

    /// A reform with rule files (a new allowance, a policy replaced) is not a change
    /// of numbers: every household is decided again, with or without the flag.
    func testAReformWithRuleFilesDecidesEveryHousehold() throws {
        try FileManager.default.createDirectory(atPath: work + "/extra", withIntermediateDirectories: true)
        try heatingAllowanceRules.write(toFile: work + "/extra/heating.rules", atomically: true, encoding: .utf8)
        let path = work + "/heating.reform"
        try "reform heating\n  rules extra\n  heating.amount from 2026-10-01 = 250\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let some = try whatif(["--reform", path], out: "rules-some")
        XCTAssertEqual(some.status, 0, some.err)
        XCTAssertFalse(some.err.contains("households decided again"), "a reform of rules decides every household")
        let every = try whatif(["--reform", path, "--every-household"], out: "rules-every")
        XCTAssertEqual(every.status, 0, every.err)
        try assertSameFolders(work + "/rules-some", work + "/rules-every", "rules")
        let push = try String(contentsOfFile: work + "/rules-some/heating/push.csv", encoding: .utf8)
        XCTAssertTrue(push.contains(",heating,"), "the new allowance is pushed")
        XCTAssertTrue(push.contains(",heating,confirmed,250,"), "at the reform's amount")
        // Beside two reforms of numbers (whose lists copy the published rows; this
        // one's, decided under other rules, are all formatted), the same files as
        // deciding every household (no rows copied).
        var mixed = ["--reform", path]
        for (name, value) in [("up", "1650"), ("down", "1500")] {
            let p = work + "/\(name).reform"
            try "reform \(name)\n  dibao.standard from 2026-11-24 = \(value)\n".write(
                toFile: p, atomically: true, encoding: .utf8)
            mixed += ["--reform", p]
        }
        let m = try whatif(mixed, out: "rules-mixed")
        XCTAssertEqual(m.status, 0, m.err)
        XCTAssertTrue(m.err.contains("rows formatted"), m.err)
        let e = try whatif(mixed + ["--every-household"], out: "rules-mixed-every")
        XCTAssertEqual(e.status, 0, e.err)
        try assertSameFolders(work + "/rules-mixed", work + "/rules-mixed-every", "rules beside numbers")
    }

    /// A sweep's values after the first are made from the value before (only the
    /// households whose frontier moved between the two decided again): the same
    /// files as deciding every household for every value.
    func testASweepGivesTheFilesOfDecidingEveryHousehold() throws {
        let sweep = ["--sweep", "dibao.standard=1500..1700:100"]
        let some = try whatif(sweep, out: "sweep-some")
        XCTAssertEqual(some.status, 0, some.err)
        XCTAssertEqual(
            some.err.components(separatedBy: "(from the value before)").count - 1, 2,
            "the second and third values start from the one before")
        XCTAssertEqual(try whatif(sweep + ["--every-household"], out: "sweep-every").status, 0)
        try assertSameFolders(work + "/sweep-some", work + "/sweep-every", "sweep")
    }
}
