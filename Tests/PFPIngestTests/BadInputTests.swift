import XCTest
import PFPTestSupport
@testable import PFPCore
@testable import PFPIngest
@testable import PFPRules

/// Malformed deliveries (Tests/Corpus): each gives a clear refusal or the
/// contract's reject reasons, never a crash, a hang or unbounded memory.
final class BadInputTests: XCTestCase {
    let a = idWithCheck("31010119800101001")
    var corpus: String { repoRoot + "/Tests/Corpus" }

    /// A sound delivery with `file` as the feed `feed` (population: one person a).
    func ingest(
        _ feed: String, bytes: [UInt8], encoding: FeedEncoding = .utf8, lieRows: Int? = nil, lieSHA: Bool = false
    ) throws -> Result<IngestOutcome, PipelineError> {
        let box = InboxBuilder()
        box.person("H1", a)
        try box.write()
        let path = box.dir + "/\(feed).csv"
        try FileIO.write(path, bytes)
        let rows = bytes.withUnsafeBytes {
            CSVLayout.scan(UnsafeRawBufferPointer(rebasing: $0[TextDecoding.bomLength($0)...])).records
        }
        let m = JSON.object([
            ("feed", .string(feed)), ("department", .string("test")), ("as_of", .string("2026-11-23")),
            ("rows", .int(lieRows ?? rows)),
            ("sha256", .string(lieSHA ? String(repeating: "a", count: 64) : SHA256Digest.hex(of: bytes))),
            ("encoding", .string(encoding.rawValue)),
        ])
        try FileIO.write(path + ".manifest.json", Array(m.serialized().utf8))
        let config = try pipelineConfig()
        let (cat, _) = try config.loadCatalogue()
        do {
            return .success(
                try IngestStage(config: config, catalogue: cat, console: Console(level: .quiet))
                    .run(inbox: box.dir, runDate: CivilDate.parse("2026-11-24")!, allowMissing: []))
        } catch let e as PipelineError { return .failure(e) }
    }

    func corpusFile(_ name: String) throws -> [UInt8] { try FileIO.readAll(corpus + "/" + name) }

    func refusal(
        _ r: Result<IngestOutcome, PipelineError>, _ contains: String, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        guard case .failure(let e) = r else { return XCTFail("expected a refusal", file: file, line: line) }
        XCTAssertEqual(e.exitCode, .badInput, file: file, line: line)
        XCTAssertTrue(e.description.contains(contains), e.description, file: file, line: line)
        XCTAssertTrue(e.description.contains("what to do"), file: file, line: line)
    }

    func rejects(_ r: Result<IngestOutcome, PipelineError>) -> [String] {
        guard case .success(let o) = r else { XCTFail("expected the delivery to be read: \(r)"); return [] }
        for rep in o.reports { XCTAssertEqual(rep.accepted + rep.rejected, rep.rowsRead, rep.feed) }
        return o.rejectTriples
    }

    func testCorpus() throws {
        XCTAssertEqual(rejects(try ingest("hr", bytes: corpusFile("truncated.csv"))), ["hr:3:malformed_row"])
        refusal(try ingest("hr", bytes: corpusFile("binary_garbage.csv")), "not valid utf-8")
        XCTAssertEqual(rejects(try ingest("hr", bytes: corpusFile("unclosed_quote.csv"))), ["hr:2:malformed_row"])
        refusal(try ingest("hr", bytes: corpusFile("empty.csv")), "lacks column(s)")
        XCTAssertEqual(rejects(try ingest("hr", bytes: corpusFile("header_only.csv"))), [])
        refusal(try ingest("hr", bytes: corpusFile("duplicate_columns.csv")), "names column 'value' twice")
        refusal(try ingest("hr", bytes: corpusFile("missing_column.csv")), "lacks column(s) as_of")
        XCTAssertEqual(
            rejects(try ingest("hr", bytes: corpusFile("huge_numbers.csv"))),
            ["hr:2:out_of_range", "hr:3:foreign_tag", "hr:4:out_of_range"])
        XCTAssertEqual(
            rejects(try ingest("verification", bytes: corpusFile("huge_numbers.csv").replacingHR())),
            ["verification:2:out_of_range", "verification:3:out_of_range", "verification:4:out_of_range"])
        XCTAssertEqual(
            rejects(try ingest("hr", bytes: corpusFile("impossible_dates.csv"))),
            ["hr:2:bad_date", "hr:3:foreign_tag", "hr:4:bad_date"])
        XCTAssertEqual(
            rejects(try ingest("hr", bytes: corpusFile("wrong_check_characters.csv"))), ["hr:2:bad_id", "hr:3:bad_id"])
        refusal(try ingest("population", bytes: corpusFile("gb18030_declared_utf8.csv")), "not valid utf-8")
        // The same bytes declared as what they are: read, the name never looked at.
        XCTAssertEqual(
            rejects(try ingest("population", bytes: corpusFile("gb18030_declared_utf8.csv"), encoding: .gb18030)), [])
    }

    /// A population in GB18030 with names in Chinese (two- and four-byte
    /// characters, one quoted around a comma, one in an extra column): read as
    /// its bytes, the same people and rejects as the same text in UTF-8; with a
    /// header that is not ASCII it is converted first, and the same again. A byte
    /// sequence GB18030 does not have is refused at its line either way.
    func testPopulationInGB18030ReadAsItsBytes() throws {
        let b = idWithCheck("31010119820202002"), c = idWithCheck("31010119900303003"),
            d = idWithCheck("31010120000404004")
        let rows = [
            "H1,\(a),王小明,M,1980-01-01,head,local,310101,310101001,310101001001,备注",
            "H1,\(b),\"李, 𠀀\",F,1982-02-02,spouse,local,310101,310101001,310101001001,",
            "H2,\(c),张三,X,1990-03-03,head,local,310101,310101001,310101001001,x",  // unknown_enum
            "H3,\(d),赵,M,2000-04-04,头,local,310101,310101001,310101001001,",  // unknown_enum
            "H4,31010119800101009,钱,M,1980-01-01,head,local,310101,310101001,310101001001,",  // bad_id
            "H5,\(idWithCheck("31010119700505005")),,M,1970-05-05,head,nonlocal,310101,310101001,310101001001,",
        ]
        func text(_ header: String) -> String { ([header] + rows).joined(separator: "\n") + "\n" }
        let ascii = "household_id,id_number,name,sex,birth_date,relation,hukou,district,street,community,note"
        let box = InboxBuilder()
        func outcome(_ r: Result<IngestOutcome, PipelineError>) -> String {
            guard case .success(let o) = r else { XCTFail("expected the delivery to be read: \(r)"); return "" }
            return "\(o.result.personID) \(o.result.householdIDs) \(o.rejectTriples)"
        }
        let plain = outcome(try ingest("population", bytes: Array(text(ascii).utf8)))
        XCTAssertTrue(
            plain.contains("population:4:unknown_enum") && plain.contains("population:5:unknown_enum")
                && plain.contains("population:6:bad_id"), plain)
        let gb = try box.gb18030(text(ascii))
        XCTAssertFalse(gb.withUnsafeBytes { TextDecoding.isASCII($0) })
        XCTAssertEqual(outcome(try ingest("population", bytes: gb, encoding: .gb18030)), plain, "read as its bytes")
        let chineseHeader = try box.gb18030(text(ascii.replacingOccurrences(of: "note", with: "备注")))
        XCTAssertEqual(
            outcome(try ingest("population", bytes: chineseHeader, encoding: .gb18030)), plain, "converted first")
        for bytes in [gb, chineseHeader] {
            var broken = bytes
            let line3 = broken.indices.filter { broken[$0] == 10 }[2] + 1  // the start of the third row (line 4)
            broken.insert(contentsOf: [0x81, 0x20], at: line3 + 4)
            refusal(
                try ingest("population", bytes: broken, encoding: .gb18030), "the bytes at line 4 are not valid gb18030"
            )
        }
    }

    func testManifestsThatLie() throws {
        let good = Array("id_number,tag,value,as_of\n\(a),income.wage,1,2026-11-20\n".utf8)
        refusal(try ingest("hr", bytes: good, lieRows: 2), "holds 1 records, the manifest says 2")
        refusal(try ingest("hr", bytes: good, lieRows: 0), "holds 1 records, the manifest says 0")
        refusal(try ingest("hr", bytes: good, lieSHA: true), "sha256")
    }

    func testAHundredMegabyteLineIsOneRowAndMemoryStaysBounded() throws {
        var bytes = Array("id_number,tag,value,as_of\n\(a),income.wage,".utf8)
        bytes.append(contentsOf: [UInt8](repeating: UInt8(ascii: "7"), count: 100 << 20))
        bytes.append(contentsOf: Array(",2026-11-20\n\(a),income.pension,5,2026-11-20\n".utf8))
        let before = FileIO.peakRSS()
        let t0 = FileIO.now()
        XCTAssertEqual(rejects(try ingest("hr", bytes: bytes)), ["hr:2:out_of_range"])
        XCTAssertLessThan(FileIO.now() - t0, 60)
        XCTAssertLessThan(FileIO.peakRSS() - before, 1 << 30, "no more than a few copies of the file")
    }
}

extension Array where Element == UInt8 {
    /// The huge-numbers file with its income tags renamed to a verification tag.
    func replacingHR() -> [UInt8] {
        Array(
            String(decoding: self, as: UTF8.self).replacingOccurrences(of: "income.wage", with: "assets.financial").utf8
        )
    }
}

/// Seeded, reproducible mutation tests of the CSV reader, the ID parser and the
/// rule parser. `make fuzz` runs the same engine for ten minutes (PFP_FUZZ_SECONDS).
final class MutationTests: XCTestCase {
    var seconds: Double { Double(ProcessInfo.processInfo.environment["PFP_FUZZ_SECONDS"] ?? "") ?? 8 }
    var seed: UInt64 { UInt64(ProcessInfo.processInfo.environment["PFP_FUZZ_SEED"] ?? "") ?? 20261124 }

    struct Rng {
        var s: UInt64
        mutating func next() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15; var z = s; z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9;
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB; return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
    }

    static let interesting: [[UInt8]] = [
        [34], [44], [10], [13, 10], [13], [0], [0xEF, 0xBB, 0xBF], [0xFF], [0x81, 0x30], Array("\"\"".utf8),
        Array("-".utf8), Array("X".utf8), Array("2026-02-30".utf8), Array("99999999999999999999".utf8),
    ]

    static func mutate(_ input: [UInt8], _ r: inout Rng) -> [UInt8] {
        var b = input
        for _ in 0..<(1 + r.below(6)) {
            guard !b.isEmpty else { b = interesting[r.below(interesting.count)]; continue }
            let at = r.below(b.count)
            switch r.below(6) {
            case 0: b[at] = UInt8(truncatingIfNeeded: r.next())
            case 1: b.insert(contentsOf: interesting[r.below(interesting.count)], at: at)
            case 2: b.removeSubrange(at..<Swift.min(b.count, at + 1 + r.below(40)))
            case 3:
                let end = Swift.min(b.count, at + 1 + r.below(200));
                b.insert(contentsOf: b[at..<end], at: r.below(b.count))
            case 4: b.removeSubrange(at...)
            default: b[at] = [34, 44, 10, 13][r.below(4)]
            }
        }
        return b
    }

    func testMutatedFeedsAreReadOrRefusedNeverCrash() throws {
        let inbox = repoRoot + "/SampleData/inbox-2026-11-23"
        let hr = try FileIO.readAll(inbox + "/hr.csv"), pop = try FileIO.readAll(inbox + "/population.csv")
        let config = try pipelineConfig()
        let (cat, _) = try config.loadCatalogue()
        var r = Rng(s: seed)
        let dir = NSTemporaryDirectory() + "pfp-fuzz-\(UUID().uuidString)"
        defer { try? FileIO.remove(dir) }
        try FileManager.default.copyItem(atPath: inbox, toPath: dir)
        let deadline = FileIO.now() + seconds
        var runs = 0, refused = 0
        while FileIO.now() < deadline {
            let feed = r.below(2) == 0 ? "hr" : "population"
            let bytes = MutationTests.mutate(feed == "hr" ? hr : pop, &r)
            let enc = feed == "hr" ? "utf-8" : "gb18030"
            try FileIO.write(dir + "/\(feed).csv", bytes)
            let rows = bytes.withUnsafeBytes {
                CSVLayout.scan(UnsafeRawBufferPointer(rebasing: $0[TextDecoding.bomLength($0)...])).records
            }
            let m =
                "{\"feed\":\"\(feed)\",\"department\":\"x\",\"as_of\":\"2026-11-22\",\"rows\":\(r.below(8) == 0 ? rows + 1 : rows),\"sha256\":\"\(SHA256Digest.hex(of: bytes))\",\"encoding\":\"\(enc)\"}"
            try FileIO.write(dir + "/\(feed).csv.manifest.json", Array(m.utf8))
            do {
                let o = try IngestStage(config: config, catalogue: cat, console: Console(level: .quiet))
                    .run(inbox: dir, runDate: CivilDate.parse("2026-11-23")!, allowMissing: [])
                for rep in o.reports {
                    XCTAssertEqual(rep.accepted + rep.rejected, rep.rowsRead, "seed \(seed), run \(runs), \(rep.feed)")
                }
            } catch let e as PipelineError {
                XCTAssertEqual(e.exitCode, .badInput, "\(e)")
                refused += 1
            }
            // restore the other feed
            try FileIO.write(dir + "/\(feed == "hr" ? "population" : "hr").csv", feed == "hr" ? pop : hr)
            let other = feed == "hr" ? "population" : "hr"
            try FileManager.default.removeItem(atPath: dir + "/\(other).csv.manifest.json")
            try FileManager.default.copyItem(
                atPath: inbox + "/\(other).csv.manifest.json", toPath: dir + "/\(other).csv.manifest.json")
            runs += 1
        }
        XCTAssertGreaterThan(runs, 5)
        print("mutation test: \(runs) mutated deliveries, \(refused) refused, the rest read (seed \(seed))")
    }

    func testRandomIDTextNeverCrashesTheParser() {
        var r = Rng(s: seed)
        let alphabet = Array("0123456789Xx -\u{0}".utf8) + [0xFF, 0xE4]
        let deadline = FileIO.now() + min(seconds, 3)
        var n = 0
        while FileIO.now() < deadline {
            let len = r.below(22)
            let bytes = (0..<len).map { _ in alphabet[r.below(alphabet.count)] }
            if case .valid(let id, _) = bytes.withUnsafeBytes({ IDNumber.parse($0) }) {
                guard case .valid(let again, _) = IDNumber.parse(id.description) else {
                    return XCTFail("re-parse of a valid ID failed")
                }
                XCTAssertEqual(again, id)
            }
            n += 1
        }
        XCTAssertGreaterThan(n, 1000)
    }

    func testMutatedRuleFilesLoadOrFailWithALocationNeverCrash() throws {
        let (tags, policies) = try loadCatalogues()
        let src = repoRoot + "/Pipelines/rules"
        let original = try FileIO.readAll(src + "/policies.rules")
        var r = Rng(s: seed)
        let dir = NSTemporaryDirectory() + "pfp-rulefuzz-\(UUID().uuidString)"
        defer { try? FileIO.remove(dir) }
        try FileManager.default.copyItem(atPath: src, toPath: dir)
        let deadline = FileIO.now() + min(seconds, 4)
        var n = 0, failed = 0
        while FileIO.now() < deadline {
            try FileIO.write(dir + "/policies.rules", MutationTests.mutate(original, &r))
            do {
                _ = try RuleSet.load(
                    directory: dir, catalogue: tags, policyCatalogue: policies, runDate: CivilDate.parse("2026-11-24")!)
            } catch let e as PipelineError {
                XCTAssertNotNil(e.location, "\(e)")
                failed += 1
            }
            n += 1
        }
        XCTAssertGreaterThan(n, 20)
        XCTAssertGreaterThan(failed, 0)
    }
}
