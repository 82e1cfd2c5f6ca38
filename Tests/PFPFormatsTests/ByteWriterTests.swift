import XCTest
import PFPCore
@testable import PFPFormats

final class ByteWriterTests: XCTestCase {
    func text(_ write: (ByteWriter) -> Void, capacity: Int = 64) -> String {
        let w = ByteWriter(capacity: capacity)
        write(w)
        return String(decoding: w.out, as: UTF8.self)
    }

    func testJSONStringsEscapeQuotesBackslashesAndControls() {
        XCTAssertEqual(text { $0.string("plain 文字") }, "\"plain 文字\"")
        XCTAssertEqual(text { $0.string("a\"b\\c") }, #""a\"b\\c""#)
        XCTAssertEqual(text { $0.string("l1\nl2\r\t\u{01}") }, #""l1\nl2\r\t\u0001""#)
        XCTAssertEqual(text { $0.strings(["x", "y,z"]) }, #"["x","y,z"]"#)
        // The same rule as the JSON values of the manifest.
        for s in ["a\"b", "tab\t", "\u{1f}", "中\\文"] {
            XCTAssertEqual(text { $0.string(s) }, JSON.string(s).serialized())
        }
    }

    func testNumbersIDsAndDates() {
        XCTAssertEqual(text { $0.int(0) }, "0")
        XCTAssertEqual(text { $0.int(9) }, "9")
        XCTAssertEqual(text { $0.int(-5982) }, "-5982")
        XCTAssertEqual(text { $0.int(Int.max) }, String(Int.max))
        XCTAssertEqual(text { $0.int(Int.min) }, String(Int.min))
        let big = Int128(Int.max) * 1000
        XCTAssertEqual(text { $0.integer(big) }, String(big))
        guard case .valid(let id, _) = IDNumber.parse("11010519491231002X") else {
            return XCTFail("a valid GB 11643 number")
        }
        XCTAssertEqual(text { $0.id(id.key) }, "\"11010519491231002X\"")
        XCTAssertEqual(text { $0.idDigits(id.key) }, "11010519491231002X")
        XCTAssertEqual(text { $0.date(CivilDate.parse("2026-11-23")!.days) }, "\"2026-11-23\"")
    }

    /// Pieces of every length up to 40 go through the word-copy paths (below 8,
    /// 8-15, 16-32, longer): each must come out whole, the buffer growing past
    /// its capacity many times.
    func testPiecesOfEveryLengthAndGrowth() {
        let w = ByteWriter(capacity: 1)
        var expected: [UInt8] = []
        for n in 0...40 {
            let piece = (0..<n).map { UInt8(ascii: "a") + UInt8(($0 + n) % 26) }
            piece.withUnsafeBufferPointer { w.append($0) }
            expected += piece
        }
        for _ in 0..<10_000 { w.raw("0123456789"); expected += Array("0123456789".utf8) }
        XCTAssertEqual(w.out, expected)
        XCTAssertEqual(w.count, expected.count)
        w.clear()
        XCTAssertEqual(w.count, 0)
        w.write(count: 3) { p in
            p[0] = 120; p[1] = 121; p[2] = 122
        }
        XCTAssertEqual(w.out, Array("xyz".utf8))
    }

    func testCSVFieldsAreQuotedOnlyWhenTheyMustBe() {
        XCTAssertEqual(text { $0.csvField("H0001") }, "H0001")
        XCTAssertEqual(text { $0.csvField("a,b") }, "\"a,b\"")
        XCTAssertEqual(text { $0.csvField("say \"hi\"") }, "\"say \"\"hi\"\"\"")
        XCTAssertEqual(text { $0.csvField("two\nlines") }, "\"two\nlines\"")
        XCTAssertEqual(text { $0.csvField("cr\r") }, "\"cr\r\"")
        XCTAssertEqual(CSVText.field("x\"y,z"), Array("\"x\"\"y,z\"".utf8))
        XCTAssertEqual(CSVText.field(""), [])
    }

    /// An entry's codes as one CSV field: joined by `;` as they are, or the joined
    /// text quoted when any code needs quotes (what was written before it kept).
    func testCSVCodesJoinOrQuoteTheWholeField() {
        let codes = ["skip", "income", "assets.financial@110000195711021472", "a,b", "say \"no\"", "中文"]
        XCTAssertEqual(text { $0.csvCodes(codes[1...2]) }, "income;assets.financial@110000195711021472")
        XCTAssertEqual(text { $0.csvCodes(codes[5...5]) }, "中文")
        XCTAssertEqual(text { $0.csvCodes(codes[0..<0]) }, "")
        XCTAssertEqual(
            text {
                $0.raw("x,"); $0.csvCodes(codes[1...3])
            }, "x,\"income;assets.financial@110000195711021472;a,b\"")
        XCTAssertEqual(
            text {
                $0.raw("x,"); $0.csvCodes(codes[4...5])
            }, "x,\"say \"\"no\"\";中文\"")
        // A code after one that needs quotes, and one before it: the same field.
        XCTAssertEqual(text { $0.csvCodes(codes[2...4]) }, text { $0.csvField(codes[2...4].joined(separator: ";")) })
        // A bridged string's bytes are not contiguous: written all the same.
        let bridged = String(NSString(string: "naïve"))
        XCTAssertEqual(text { $0.csvCodes([bridged, "x"][0...1]) }, "naïve;x")
    }
}
