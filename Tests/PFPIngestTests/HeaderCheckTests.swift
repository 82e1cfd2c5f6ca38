import XCTest
@testable import PFPCore
import PFPSchema
@testable import PFPIngest

/// A header is judged in the contract's terms, and the message about it quotes no
/// delivered text but the contract's words and near misses of them.
final class HeaderCheckTests: XCTestCase {
    func problem(_ header: [String], _ shape: FeedSpec.Shape = .tags, wellFormed: Bool = true) -> String? {
        switch HeaderCheck.positions(
            header: header, wellFormed: wellFormed, shape: shape, feed: shape == .tags ? "hr" : "population")
        {
        case .success: return nil
        case .failure(let p): return p.message
        }
    }

    let row = [
        "H0000000000", "", "110000198607160011", "陈丽", "M", "1986-07-16", "head", "local", "310118", "310118015",
        "310118015036",
    ]

    func testAHeaderOfTheContractGivesEveryColumnsPosition() throws {
        let found = try HeaderCheck.positions(
            header: ["value", "note", "id_number", "as_of", "tag"], wellFormed: true,
            shape: .tags, feed: "hr"
        ).get()
        XCTAssertEqual(found, ["value": 0, "id_number": 2, "as_of": 3, "tag": 4])
        XCTAssertNil(
            problem(["id_number", "tag", "value", "as_of", "note", "note"]),
            "unknown extra columns are ignored, twice too")
        XCTAssertNil(problem(PopulationColumns.required, .population), "name may be absent")
    }

    func testAMissingHeaderIsSaidSoWithoutTheRow() throws {
        let text = try XCTUnwrap(problem(row, .population))
        XCTAssertTrue(text.contains("names none of the contract's columns (it has 11 fields)"), text)
        XCTAssertTrue(text.contains("the header should name id_number,name,sex"), text)
        // The row's data ("head" and "M" are also inside contract words).
        for cell in row where cell.count > 4 { XCTAssertFalse(text.contains(cell), "\(cell) in: \(text)") }
        let tags = try XCTUnwrap(problem(["110000198607160011", "employment.status", "employed", "2026-10-29"]))
        XCTAssertTrue(tags.contains("names none of the contract's columns (it has 4 fields)"), tags)
        XCTAssertFalse(tags.contains("1100001986") || tags.contains("employed") || tags.contains("2026-10-29"), tags)
    }

    func testAnotherShapesHeaderIsNamed() throws {
        let pop = try XCTUnwrap(problem(PopulationColumns.all + ["address"]))
        XCTAssertTrue(pop.hasPrefix("the header is a population feed's (id_number,sex,"), pop)
        XCTAssertTrue(pop.contains("but the manifest names feed hr, a tag feed (id_number,tag,value,as_of)"), pop)
        let tags = try XCTUnwrap(problem(TagColumns.required, .population))
        XCTAssertTrue(
            tags.hasPrefix(
                "the header is a tag feed's (id_number,tag,value,as_of), but the manifest names feed population"), tags)
    }

    func testMissingColumnsComeWithTheNearMissesAndNothingElse() throws {
        let text = try XCTUnwrap(
            problem(["ID_NUMBER", "tga", "valeu", "as-of", "陈丽", "110000198607160011", "Chen Li", "\u{FEFF}tag"]))
        XCTAssertTrue(text.hasPrefix("the header lacks column(s) id_number, tag, value, as_of"), text)
        XCTAssertTrue(text.contains("field 1 is 'ID_NUMBER': did you mean id_number?"), text)
        XCTAssertTrue(text.contains("field 4 is 'as-of': did you mean as_of?"), text)
        XCTAssertTrue(text.contains("field 8 begins with a byte-order mark (U+FEFF) before 'tag'"), text)
        XCTAssertTrue(text.contains("5 other fields are not columns of the contract (not shown)"), text)
        for hidden in ["tga", "valeu", "陈丽", "110000198607160011", "Chen Li"] {
            XCTAssertFalse(text.contains(hidden), "\(hidden) in: \(text)")
        }
        let one = try XCTUnwrap(problem(["id_number", "tag", "value", "as_off"]))
        XCTAssertEqual(one, "the header lacks column(s) as_of; field 4 is 'as_off': did you mean as_of?")
    }

    func testAnEmptyFileHasNoHeader() throws {
        XCTAssertEqual(
            problem([]),
            "the file is empty: it has no header row, so the header lacks column(s) id_number, tag, value, as_of")
    }

    func testAColumnTwiceAndBrokenQuotingAreRefused() throws {
        XCTAssertEqual(problem(["id_number", "tag", "value", "as_of", "tag"]), "the header names column 'tag' twice")
        let quote = try XCTUnwrap(problem(["id_number,tag,value,as_of"], wellFormed: false))
        XCTAssertTrue(quote.hasPrefix("the first line's quoting is broken"), quote)
    }
}
