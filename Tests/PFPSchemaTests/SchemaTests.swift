import XCTest
import PFPCore
import PFPTestSupport
@testable import PFPSchema

final class ValueParserTests: XCTestCase {
    func parse(_ type: TagType, _ text: String) -> ParsedValue {
        let def = TagDef(index: 0, name: "t", feed: "f", type: type, absent: .unknown, label: "")
        var s = text
        return s.withUTF8 { def.parse(UnsafeRawBufferPointer($0)) }
    }

    func testMoneyIsFenExactly() {
        XCTAssertEqual(parse(.money, "1234.56"), .value(123_456))
        XCTAssertEqual(parse(.money, "1234.5"), .value(123_450))
        XCTAssertEqual(parse(.money, "0"), .value(0))
        XCTAssertEqual(parse(.money, "12.345"), .bad, "three decimals are not fen")
        XCTAssertEqual(parse(.money, "1,234"), .bad)
        XCTAssertEqual(parse(.money, ".5"), .bad)
        XCTAssertEqual(parse(.money, "1e3"), .bad)
        XCTAssertEqual(parse(.money, ""), .bad)
    }

    func testIntegersKeepTheirBounds() {
        let t = TagType.int(min: 0, max: 10)
        XCTAssertEqual(parse(t, "0"), .value(0))
        XCTAssertEqual(parse(t, "10"), .value(10))
        XCTAssertEqual(parse(t, "11"), .outOfRange)
        XCTAssertEqual(parse(t, "-1"), .outOfRange)
        XCTAssertEqual(parse(t, "99999999999999999999999"), .outOfRange, "an overflow is out of range, not bad")
        XCTAssertEqual(parse(t, "-"), .bad)
        XCTAssertEqual(parse(t, "3.0"), .bad)
    }

    func testBooleansDatesAndWords() {
        XCTAssertEqual(parse(.bool, "1"), .value(1))
        XCTAssertEqual(parse(.bool, "false"), .value(0))
        XCTAssertEqual(parse(.bool, "TRUE"), .bad, "the contract's words are lower case")
        XCTAssertEqual(parse(.bool, "yes"), .bad)
        XCTAssertEqual(parse(.date, "2024-02-29"), .value(Int64(CivilDate.parse("2024-02-29")!.days)))
        XCTAssertEqual(parse(.date, "2026-02-29"), .bad, "not a leap year")
        XCTAssertEqual(parse(.date, "2026-1-05"), .bad)
        let words = TagType.enumeration(["employed", "unemployed", "retired"])
        XCTAssertEqual(parse(words, "retired"), .value(2))
        XCTAssertEqual(parse(words, "Retired"), .bad)
        XCTAssertEqual(parse(words, "retire"), .bad)
    }

    func testKindsAndFormatsRoundTrip() {
        XCTAssertEqual(TagType.money.kind, .money)
        XCTAssertEqual(TagType.int(min: 1, max: 2).kind, .int)
        XCTAssertEqual(TagType.enumeration(["a"]).kind, .enumeration)
        let def = TagDef(index: 0, name: "t", feed: "f", type: .money, absent: .unknown, label: "")
        XCTAssertEqual(def.format(123_405), "1234.05")
        XCTAssertEqual(
            Relation.allCases.map(\.word), ["head", "spouse", "child", "parent", "grandchild", "sibling", "other"])
        XCTAssertEqual(Hukou.nonlocal.word, "nonlocal")
    }
}

final class ConfigurationTests: XCTestCase {
    /// The repository's own configuration and catalogues load, and say what the contract says.
    func testTheShippedConfigurationLoads() throws {
        let config = try PipelineConfig(path: repoRoot + "/Pipelines/nightly.conf")
        XCTAssertEqual(config.populationFeed.name, "population")
        XCTAssertEqual(config.feeds.filter { $0.shape == .population }.count, 1)
        let (tags, policies) = try config.loadCatalogue()
        XCTAssertFalse(policies.policies.isEmpty)
        XCTAssertEqual(tags[config.deceasedTag]?.type, .date)
        for t in tags.tags { XCTAssertNotNil(config.feed(t.feed), "tag \(t.name) names a declared feed") }
        XCTAssertEqual(tags.index(of: tags.tags[3].name), 3)
        let date = CivilDate.parse("2026-11-23")!
        XCTAssertTrue(config.inbox(for: date).hasSuffix("2026-11-23"))
    }

    func testACatalogueNamingAnUndeclaredFeedIsRefused() throws {
        // Paths in the configuration are read from the folder above Pipelines/.
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pfp-schema-\(UUID().uuidString)").path
        let dir = root + "/Pipelines"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let conf = try String(contentsOfFile: repoRoot + "/Pipelines/nightly.conf", encoding: .utf8)
        for name in ["policies.catalogue", "tags.catalogue"] {
            try FileManager.default.copyItem(atPath: repoRoot + "/Pipelines/" + name, toPath: dir + "/" + name)
        }
        let tags = try String(contentsOfFile: dir + "/tags.catalogue", encoding: .utf8)
        try (tags + "\nmystery.flag  mystery  bool  unknown  a tag of no feed\n")
            .write(toFile: dir + "/tags.catalogue", atomically: true, encoding: .utf8)
        try conf.write(toFile: dir + "/nightly.conf", atomically: true, encoding: .utf8)
        let config = try PipelineConfig(path: dir + "/nightly.conf")
        XCTAssertThrowsError(try config.loadCatalogue()) { e in
            XCTAssertTrue("\(e)".contains("mystery"), "\(e)")
        }
    }
}
