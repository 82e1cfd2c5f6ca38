import XCTest
import PFPTestSupport
@testable import PFPCore
@testable import PFPIngest

final class EncodingVariantTests: XCTestCase {
    let a = idWithCheck("31010119800101001")
    let b = idWithCheck("31010119820202002")

    func build(_ configure: (InboxBuilder) -> Void) throws -> IngestOutcome {
        let box = InboxBuilder()
        box.person("H1", a)
        box.files["population"]!.rows.append(
            "H1,\(b),\"王, \"\"小明\"\"\nJr\",F,1982-02-02,spouse,local,310101,310101001,310101001001")
        box.tag("hr", a, "income.wage", "1590.5")
        box.tag("hr", b, "employment.status", "unemployed")
        box.raw("hr", "\(b),income.wage,\"0\",2026-11-20")
        box.tag("hr", a, "income.wage", "bad")
        configure(box)
        return try box.ingest()
    }

    func summary(_ o: IngestOutcome) -> String {
        "\(o.result.personID) \(o.result.householdIDs) \(o.result.tags.map(\.value)) \(o.rejectTriples)"
    }

    func testEveryEncodingAndLineEndGivesTheSameResult() throws {
        let plain = try build { _ in }
        XCTAssertEqual(plain.result.personCount, 2)
        XCTAssertEqual(plain.rejectTriples, ["hr:5:bad_value"])
        let variants: [(String, (InboxBuilder) -> Void)] = [
            ("bom", { $0.bom = ["population", "hr"] }),
            ("crlf", { $0.crlf = ["population", "hr"] }),
            (
                "bom+crlf",
                {
                    $0.bom = ["population", "hr"]; $0.crlf = ["population", "hr"]
                }
            ),
            ("gb18030", { $0.encoding = ["population": .gb18030, "hr": .gb18030] }),
            (
                "gb18030+crlf",
                {
                    $0.encoding = ["population": .gb18030, "hr": .gb18030]; $0.crlf = ["population"]
                }
            ),
        ]
        for (name, v) in variants {
            XCTAssertEqual(summary(try build(v)), summary(plain), name)
        }
    }

    func testColumnOrderIsFreeAndExtraColumnsAreIgnored() throws {
        let box = InboxBuilder()
        box.files["population"] = (
            "note,community,street,district,hukou,relation,birth_date,sex,name,id_number,household_id",
            ["\"x, y\",310101001001,310101001,310101,local,head,1980-01-01,M,N,\(a),H1"]
        )
        box.files["hr"] = ("value,source,id_number,as_of,tag", ["12,dept,\(a),2026-11-20,income.wage"])
        let o = try box.ingest()
        XCTAssertEqual(o.rejects.count, 0)
        XCTAssertEqual(o.value("income.wage", of: a)?.value, 1200)
    }
}

final class ResolutionTests: XCTestCase {
    let a = idWithCheck("31010119800101001")

    func testLatestAsOfWins() throws {
        let box = InboxBuilder()
        box.person("H1", a)
        box.tag("hr", a, "income.wage", "900", asOf: "2026-11-01")
        box.tag("hr", a, "income.wage", "1200", asOf: "2026-11-15")
        box.tag("hr", a, "income.wage", "700", asOf: "2026-10-01")
        let o = try box.ingest()
        let v = try XCTUnwrap(o.value("income.wage", of: a))
        XCTAssertEqual(v.value, 120_000)
        XCTAssertFalse(v.conflict)
        XCTAssertEqual(v.asOf, "2026-11-15")
    }

    func testSameDateDisagreementIsAConflict() throws {
        let box = InboxBuilder()
        box.person("H1", a)
        box.tag("verification", a, "assets.financial", "100", asOf: "2026-11-15")
        box.tag("verification", a, "assets.financial", "200", asOf: "2026-11-15")
        box.tag("verification", a, "assets.financial", "999", asOf: "2026-11-01")
        let o = try box.ingest()
        XCTAssertEqual(o.value("assets.financial", of: a)?.conflict, true)
        XCTAssertEqual(o.conflicts["verification/assets.financial"], 1)
        XCTAssertEqual(o.reports.first { $0.feed == "verification" }?.conflicts, 1)
    }

    func testValuesAreComparedAfterParsing() throws {
        let box = InboxBuilder()
        box.person("H1", a)
        box.tag("civil", a, "civil.lives_alone", "1", asOf: "2026-11-15")
        box.tag("civil", a, "civil.lives_alone", "true", asOf: "2026-11-15")
        box.tag("hr", a, "income.wage", "100", asOf: "2026-11-15")
        box.tag("hr", a, "income.wage", "100.00", asOf: "2026-11-15")
        let o = try box.ingest()
        XCTAssertEqual(o.value("civil.lives_alone", of: a)?.conflict, false)
        XCTAssertEqual(o.value("civil.lives_alone", of: a)?.value, 1)
        XCTAssertEqual(o.value("income.wage", of: a)?.conflict, false)
        XCTAssertTrue(o.conflicts.isEmpty)
    }

    func testAConflictOnAnOlderDateDoesNotMatter() throws {
        let box = InboxBuilder()
        box.person("H1", a)
        box.tag("hr", a, "income.wage", "1", asOf: "2026-11-01")
        box.tag("hr", a, "income.wage", "2", asOf: "2026-11-01")
        box.tag("hr", a, "income.wage", "3", asOf: "2026-11-02")
        let o = try box.ingest()
        XCTAssertEqual(o.value("income.wage", of: a)?.conflict, false)
        XCTAssertEqual(o.value("income.wage", of: a)?.value, 300)
    }

    func testDeceasedMembersLeaveTheirHousehold() throws {
        let box = InboxBuilder()
        let b = idWithCheck("31010119820202002"), c = idWithCheck("31010119300303003"),
            d = idWithCheck("31010119300404004")
        box.person("H1", a)
        box.person("H1", b, relation: "spouse")
        box.person("H2", c)
        box.person("H3", d)
        box.tag("civil", a, "civil.deceased_on", "2026-11-24", asOf: "2026-11-23")  // on the run date: gone
        box.tag("civil", b, "civil.deceased_on", "2026-11-25", asOf: "2026-11-23")  // after it: still a member
        box.tag("civil", c, "civil.deceased_on", "2026-10-01", asOf: "2026-11-01")  // conflicting dates: still a member
        box.tag("civil", c, "civil.deceased_on", "2026-10-02", asOf: "2026-11-01")
        box.tag("civil", d, "civil.deceased_on", "2020-01-01", asOf: "2020-01-05")  // the only member: household gone
        let o = try box.ingest(runDate: "2026-11-24")
        func member(_ id: String) -> UInt8 {
            guard case .valid(let p, _) = IDNumber.parse(id) else { return 9 }
            return o.result.member[o.result.personID.firstIndex(of: p.key)!]
        }
        XCTAssertEqual(member(a), 0)
        XCTAssertEqual(member(b), 1)
        XCTAssertEqual(member(c), 1)
        XCTAssertEqual(member(d), 0)
        XCTAssertEqual(o.result.householdCount, 3)
        XCTAssertEqual(o.result.livingHouseholdCount, 2)
    }

    func testHouseholdsAreInByteOrderAndPeopleByID() throws {
        let box = InboxBuilder()
        let ids = ["31010119900101005", "31010119800101003", "31010119700101001"].map(idWithCheck)
        box.person("h-2", ids[0])
        box.person("H10", ids[1])
        box.person("H10", ids[2], relation: "spouse")
        box.person("H2", ids[0].replacingOccurrences(of: "1990", with: "1991").dropLast() + "")
        let o = try box.ingest()
        XCTAssertEqual(o.result.householdIDs, ["H10", "h-2"])
        XCTAssertEqual(o.result.householdStart, [0, 2, 3])
        XCTAssertLessThan(o.result.personID[0], o.result.personID[1])
    }
}

final class FeedProblemTests: XCTestCase {
    let a = idWithCheck("31010119800101001")

    func refusal(_ box: InboxBuilder, runDate: String = "2026-11-24", allow: Set<String> = []) -> String {
        do {
            _ = try box.ingest(runDate: runDate, allowMissing: allow)
            return "accepted"
        } catch let e as PipelineError {
            XCTAssertEqual(e.exitCode, .badInput)
            return e.description
        } catch {
            return "other: \(error)"
        }
    }

    func testMissingRequiredFeedStopsTheRunUnlessAllowed() throws {
        let box = InboxBuilder()
        box.person("H1", a)
        box.omit = ["tax"]
        XCTAssertTrue(refusal(box).contains("feed tax: missing"))
        let o = try box.ingest(allowMissing: ["tax"])
        let tax = o.reports.first { $0.feed == "tax" }!
        XCTAssertEqual(tax.status, .allowedMissing)
        let config = try pipelineConfig()
        let (cat, _) = try config.loadCatalogue()
        XCTAssertEqual(o.result.tagUnavailable[cat.index(of: "income.other")!], 1)
        XCTAssertEqual(o.result.tagUnavailable[cat.index(of: "income.wage")!], 0)
    }

    func testMissingOptionalFeedIsAbsentForEveryone() throws {
        let box = InboxBuilder()
        box.person("H1", a)
        box.omit = ["utilities"]
        let o = try box.ingest()
        XCTAssertEqual(o.reports.first { $0.feed == "utilities" }?.status, .missing)
        XCTAssertTrue(o.result.tagUnavailable.allSatisfy { $0 == 0 })
    }

    func testStaleness() throws {
        let box = InboxBuilder()
        box.person("H1", a)
        box.manifestAsOf["hr"] = "2026-11-17"  // exactly 7 days before: not stale
        XCTAssertEqual(refusal(box), "accepted")
        box.manifestAsOf["hr"] = "2026-11-16"  // 8 days: stale
        XCTAssertTrue(refusal(box).contains("feed hr: stale"))
        box.manifestAsOf["hr"] = nil
        box.manifestAsOf["community"] = "2026-11-01"  // stale optional feed: ignored as if missing
        let o = try box.ingest()
        XCTAssertEqual(o.reports.first { $0.feed == "community" }?.status, .stale)
    }

    func testBrokenDeliveries() throws {
        let box = InboxBuilder()
        box.person("H1", a)
        box.manifestRows["population"] = 2
        XCTAssertTrue(refusal(box).contains("holds 1 records, the manifest says 2"))
        box.manifestRows["population"] = nil
        box.manifestSHA["medical"] = String(repeating: "0", count: 64)
        let shaText = refusal(box)
        XCTAssertTrue(shaText.contains("feed medical, medical.csv: broken delivery: the file's sha256"), shaText)
        box.manifestSHA["medical"] = nil
        box.files["health"] = ("id_number,tag,value", [])
        XCTAssertTrue(refusal(box).contains("lacks column(s) as_of"))
        box.files["health"] = ("id_number,tag,value,as_of,tag", [])
        XCTAssertTrue(refusal(box).contains("names column 'tag' twice"))
        box.files["health"] = ("id_number,tag,value,as_of", [])
        // A GB18030 file declared as UTF-8.
        box.files["population"]!.rows.append(
            "H1,\(idWithCheck("31010119820202002")),王小明,F,1982-02-02,spouse,local,310101,310101001,310101001001")
        box.encoding["population"] = .gb18030
        try box.write()
        let m = box.dir + "/population.csv.manifest.json"
        let text = try FileIO.readText(m).replacingOccurrences(of: "gb18030", with: "utf-8")
        try FileIO.write(m, Array(text.utf8))
        let config = try pipelineConfig()
        let (cat, _) = try config.loadCatalogue()
        XCTAssertThrowsError(
            try IngestStage(config: config, catalogue: cat, console: Console(level: .quiet))
                .run(inbox: box.dir, runDate: CivilDate.parse("2026-11-24")!, allowMissing: [])
        ) { e in
            XCTAssertTrue("\(e)".contains("not valid utf-8"), "\(e)")
        }
    }

    func testTwoFilesOfOneFeedIsBroken() throws {
        let box = InboxBuilder()
        box.person("H1", a)
        try box.write()
        try FileIO.write(box.dir + "/hr-copy.csv", try FileIO.readAll(box.dir + "/hr.csv"))
        let m = try FileIO.readAll(box.dir + "/hr.csv.manifest.json")
        try FileIO.write(box.dir + "/hr-copy.csv.manifest.json", m)
        let config = try pipelineConfig()
        let (cat, _) = try config.loadCatalogue()
        XCTAssertThrowsError(
            try IngestStage(config: config, catalogue: cat, console: Console(level: .quiet))
                .run(inbox: box.dir, runDate: CivilDate.parse("2026-11-24")!, allowMissing: [])
        ) { e in
            XCTAssertTrue("\(e)".contains("two files of this feed"), "\(e)")
        }
    }

    func testEveryProblemIsReportedAtOnce() throws {
        let box = InboxBuilder()
        box.person("H1", a)
        box.omit = ["tax", "medical"]
        let text = refusal(box)
        XCTAssertTrue(text.contains("feed tax") && text.contains("feed medical"), text)
    }

    func testPopulationCannotBeAllowedMissing() {
        let box = InboxBuilder()
        XCTAssertThrowsError(try box.ingest(allowMissing: ["population"])) { e in
            XCTAssertEqual((e as? PipelineError)?.exitCode, .usage)
        }
    }
}
