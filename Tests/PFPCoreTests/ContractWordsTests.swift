import XCTest
@testable import PFPCore

/// What delivered text a message may show: the contract's words and near misses
/// of them, and file names made of such words; nothing shaped like personal data.
final class ContractWordsTests: XCTestCase {
    let words = ContractWords(["id_number", "name", "tag", "value", "as_of", "population", "hr", "verification"])

    func testContractWordsAreKnownInAnyCaseAndNothingElseIs() {
        XCTAssertEqual(words.canonical("id_number"), "id_number")
        XCTAssertEqual(words.canonical("ID-NUMBER"), "id_number")
        XCTAssertEqual(words.canonical("Name"), "name")
        for personal in [
            "陈丽华", "Chen Lihua", "ChenLihua", "110105193107291236", "13912345678", "1931-07-29", "南京东路123号", "",
        ] {
            XCTAssertNil(words.canonical(personal), personal)
        }
    }

    func testNearMissesAreLowerCaseWordsOneOrTwoEditsAway() {
        XCTAssertEqual(words.nearMiss("id_numbr"), "id_number")
        XCTAssertEqual(words.nearMiss("id_nmuber"), "id_number", "two edits on a long word")
        XCTAssertEqual(words.nearMiss("populaton"), "population")
        XCTAssertEqual(words.nearMiss("valu"), "value")
        XCTAssertNil(words.nearMiss("vlu"), "three letters are too short to judge")
        XCTAssertNil(words.nearMiss("Valle"), "capitalised: the shape of a name")
        XCTAssertNil(words.nearMiss("vaxxe"), "two edits on a short word")
        XCTAssertNil(words.nearMiss("wang"))
        XCTAssertNil(words.nearMiss("value"), "an exact word is not a near miss")
        XCTAssertNil(words.nearMiss("1105193107"))
    }

    func testFileNamesAreShownOnlyWhenMadeOfKnownWordsAndShortNumbers() {
        for shown in ["population.csv", "hr.csv.manifest.json", "hr_20261123.csv", "verification-part-2.CSV", "HR.csv"]
        {
            XCTAssertEqual(words.fileName(shown), shown)
        }
        for withheld in [
            "陈丽华.csv", "110105193107291236.csv", "13912345678.csv", "Chen Lihua.csv", "ChenLihua.csv",
            "hr_chen.csv", ".hidden.csv", "hr\n.csv", "", String(repeating: "hr.", count: 40) + "csv",
        ] {
            XCTAssertNil(words.fileName(withheld), withheld)
        }
    }

    func testPlainTextHasNoLongDigitRunAndOnlyWordCharacters() {
        XCTAssertTrue(ContractWords.isPlain("as_of-2026.11"))
        XCTAssertTrue(ContractWords.isPlain("x12345678"))
        XCTAssertFalse(ContractWords.isPlain("x123456789"))
        XCTAssertFalse(ContractWords.isPlain("a b"))
        XCTAssertFalse(ContractWords.isPlain("\u{FEFF}tag"))
    }

    func testEditDistance() {
        func d(_ a: String, _ b: String, _ atMost: Int = 9) -> Int {
            ContractWords.distance(Array(a.utf8), Array(b.utf8), atMost: atMost)
        }
        XCTAssertEqual(d("kitten", "sitting"), 3)
        XCTAssertEqual(d("", "abc"), 3)
        XCTAssertEqual(d("abc", ""), 3)
        XCTAssertEqual(d("same", "same"), 0)
        XCTAssertEqual(d("abcdefgh", "zzzzzzzz", 2), 3, "stops once past the limit")
    }
}
