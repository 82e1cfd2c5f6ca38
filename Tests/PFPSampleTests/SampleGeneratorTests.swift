import XCTest
import PFPTestSupport
@testable import PFPCore
@testable import PFPIngest
import PFPSchema
@testable import PFPSample

final class SampleGeneratorTests: XCTestCase {
    func generate(_ n: Int, seed: UInt64, days: Int = 1) throws -> String {
        let dir = NSTemporaryDirectory() + "pfp-sample-\(UUID().uuidString)"
        let knobs = try SampleKnobs(path: repoRoot + "/Pipelines/sample.conf")
        try SampleGenerator(
            settings: .init(
                households: n, seed: seed, firstRunDate: CivilDate.parse("2026-11-23")!, days: days, outDirectory: dir),
            knobs: knobs
        ).generate(console: Console(level: .quiet))
        return dir
    }

    func digests(_ inbox: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: inbox).sorted().map {
            try SHA256Digest.hex(ofFile: inbox + "/" + $0)
        }
    }

    func testSameSeedSameBytesWhateverTheThreads() throws {
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        Parallel.threads = 1
        let one = try generate(3000, seed: 5)
        Parallel.threads = 2
        let two = try generate(3000, seed: 5)
        let other = try generate(3000, seed: 6)
        defer { for d in [one, two, other] { try? FileIO.remove(d) } }
        XCTAssertEqual(try digests(one + "/inbox-2026-11-23"), try digests(two + "/inbox-2026-11-23"))
        XCTAssertNotEqual(try digests(one + "/inbox-2026-11-23"), try digests(other + "/inbox-2026-11-23"))
    }

    func testEveryRejectReasonAndDirtyFeatureAppears() throws {
        let dir = try generate(2000, seed: 11, days: 2)
        defer { try? FileIO.remove(dir) }
        let config = try PipelineConfig(path: repoRoot + "/Pipelines/nightly.conf")
        let (cat, _) = try config.loadCatalogue()
        var previousPeople: Set<UInt64> = []
        for day in ["2026-11-23", "2026-11-24"] {
            let o = try IngestStage(config: config, catalogue: cat, console: Console(level: .quiet))
                .run(inbox: dir + "/inbox-\(day)", runDate: CivilDate.parse(day)!, allowMissing: [])
            let seen = Set(o.rejects.map(\.reject.reason))
            XCTAssertEqual(seen, Set(RejectReason.allCases), "missing: \(Set(RejectReason.allCases).subtracting(seen))")
            for r in o.reports { XCTAssertEqual(r.accepted + r.rejected, r.rowsRead, r.feed) }
            XCTAssertFalse(o.conflicts.isEmpty)
            let pop = o.reports.first { $0.feed == "population" }!
            XCTAssertNotNil(pop.warnings["id_upgraded_15_to_18"])
            XCTAssertNotNil(pop.warnings["sex_differs_from_id"])
            XCTAssertGreaterThan(o.result.member.filter { $0 == 0 }.count, 0, "deceased members")
            // households with no head and with two heads
            var noHead = 0, twoHeads = 0
            for h in 0..<o.result.householdCount {
                let heads = (Int(o.result.householdStart[h])..<Int(o.result.householdStart[h + 1])).filter {
                    o.result.relation[$0] == Relation.head.rawValue
                }.count
                if heads == 0 { noHead += 1 }
                if heads >= 2 { twoHeads += 1 }
            }
            XCTAssertGreaterThan(noHead, 0)
            XCTAssertGreaterThan(twoHeads, 0)
            if !previousPeople.isEmpty {
                XCTAssertEqual(Set(o.result.personID), previousPeople, "same people on both days")
            }
            previousPeople = Set(o.result.personID)
        }
        // The files carry GB18030, a BOM and CRLF line ends.
        let pop = try FileIO.readAll(dir + "/inbox-2026-11-23/population.csv")
        XCTAssertNotNil(pop.withUnsafeBytes { TextDecoding.firstInvalidUTF8($0) }, "GB18030 names are not valid UTF-8")
        XCTAssertTrue(pop.contains(13))
        let hr = try FileIO.readAll(dir + "/inbox-2026-11-23/hr.csv")
        XCTAssertEqual(Array(hr.prefix(3)), [0xEF, 0xBB, 0xBF])
    }

    func testNextDayChangesSomethingButNotEverything() throws {
        let dir = try generate(2000, seed: 3, days: 2)
        defer { try? FileIO.remove(dir) }
        let d1 = try FileIO.readAll(dir + "/inbox-2026-11-23/hr.csv"),
            d2 = try FileIO.readAll(dir + "/inbox-2026-11-24/hr.csv")
        XCTAssertNotEqual(d1, d2)
        let l1 = Set(String(decoding: d1, as: UTF8.self).split(separator: "\n")),
            l2 = Set(String(decoding: d2, as: UTF8.self).split(separator: "\n"))
        XCTAssertGreaterThan(l1.intersection(l2).count, l1.count * 9 / 10)
    }
}
