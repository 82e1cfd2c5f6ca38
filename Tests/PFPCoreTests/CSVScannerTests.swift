import XCTest
#if canImport(Glibc)
    import Glibc
#endif
@testable import PFPCore

/// Reads every record of a text with the scanner: (line, wellFormed, fields).
func records(_ text: String, expected: Int) -> [(line: Int, ok: Bool, fields: [String])] {
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBytes { buf in
        var s = CSVScanner(bytes: buf)
        var pos = 0, line = 1
        var fields: [CSVField] = []
        var out: [(Int, Bool, [String])] = []
        while s.skipBlank(pos: &pos, line: &line) {
            let info = s.scanRecord(pos: &pos, line: &line, expectedFields: expected, fields: &fields)
            out.append((info.line, info.wellFormed, fields.map { s.string($0) }))
        }
        return out
    }
}

final class CSVScannerTests: XCTestCase {
    /// The one-line fast path against the general scan alone, record by record,
    /// on random texts of commas, quotes, escapes, line ends and long fields:
    /// the same fields, positions, lines and verdicts.
    func testOneLineFastPathAgreesWithTheGeneralScan() {
        var rng = SystemRandomNumberGenerator()
        let pieces: [String] = [
            "a", "bc", "0123456789", "long field of text", ",", ",", ",", "\n", "\r\n", "\r", "\"", "\"q,\"", "\"\"",
            "\"x\ny\"", "中文",
        ]
        var records = 0
        for _ in 0..<3_000 {
            var text = ""
            for _ in 0..<Int.random(in: 1...60, using: &rng) {
                // Mostly plain rows, sometimes anything.
                text +=
                    Int.random(in: 0..<4, using: &rng) == 0
                    ? pieces.randomElement(using: &rng)!
                    : (0..<Int.random(in: 1...6, using: &rng)).map { _ in
                        ["x", "12", "2026-11-23", "", "income.wage"].randomElement(using: &rng)!
                    }.joined(separator: ",") + "\n"
            }
            let expected = [0, 1, 3, 5].randomElement(using: &rng)!
            Array(text.utf8).withUnsafeBytes { buf in
                var fast = CSVScanner(bytes: buf), general = CSVScanner(bytes: buf)
                general.generalOnly = true
                var p1 = 0, l1 = 1, p2 = 0, l2 = 1
                var f1: [CSVField] = [], f2: [CSVField] = []
                while true {
                    let more1 = fast.skipBlank(pos: &p1, line: &l1), more2 = general.skipBlank(pos: &p2, line: &l2)
                    XCTAssertEqual(more1, more2)
                    guard more1 && more2 else { break }
                    let i1 = fast.scanRecord(pos: &p1, line: &l1, expectedFields: expected, fields: &f1)
                    let i2 = general.scanRecord(pos: &p2, line: &l2, expectedFields: expected, fields: &f2)
                    records += 1
                    XCTAssertEqual(
                        [i1.start, i1.line, i1.wellFormed ? 1 : 0, p1, l1],
                        [i2.start, i2.line, i2.wellFormed ? 1 : 0, p2, l2], text)
                    XCTAssertEqual(
                        f1.map { [$0.start, $0.end, $0.hasEscapes ? 1 : 0] },
                        f2.map { [$0.start, $0.end, $0.hasEscapes ? 1 : 0] }, text)
                    if p1 != p2 { return }
                }
            }
        }
        XCTAssertGreaterThan(records, 30_000)
    }

    func testPlainRecordsAndLineNumbers() {
        let r = records("a,b,c\n1,2,3\n4,5,6\n", expected: 3)
        XCTAssertEqual(r.map(\.line), [1, 2, 3])
        XCTAssertEqual(r[1].fields, ["1", "2", "3"])
        XCTAssertTrue(r.allSatisfy(\.ok))
    }

    func testCRLFAndNoFinalNewline() {
        let r = records("a,b\r\n1,2\r\n3,4", expected: 2)
        XCTAssertEqual(r.map(\.fields), [["a", "b"], ["1", "2"], ["3", "4"]])
    }

    func testQuotedCommasQuotesAndNewlines() {
        let text = "id,name,x\n1,\"Wang, Xiaoming\",a\n2,\"O'Neil, \"\"Jr\"\"\",b\n3,\"Zhang\nSan\",c\n4,\"\",d\n"
        let r = records(text, expected: 3)
        XCTAssertEqual(r.map(\.line), [1, 2, 3, 4, 6])
        XCTAssertEqual(r[1].fields[1], "Wang, Xiaoming")
        XCTAssertEqual(r[2].fields[1], "O'Neil, \"Jr\"")
        XCTAssertEqual(r[3].fields[1], "Zhang\nSan")
        XCTAssertEqual(r[4].fields[1], "")
        XCTAssertTrue(r.allSatisfy(\.ok))
    }

    func testQuotedNewlineWithCRLF() {
        let r = records("a,b\r\n\"x\r\ny\",2\r\n3,4\r\n", expected: 2)
        XCTAssertEqual(r.map(\.line), [1, 2, 4])
        XCTAssertEqual(r[1].fields[0], "x\r\ny")
    }

    func testBlankLinesAreNotRecordsButCountAsLines() {
        let r = records("a,b\n1,2\n\n3,4\n", expected: 2)
        XCTAssertEqual(r.map(\.line), [1, 2, 4])
    }

    func testWrongFieldCountIsMalformed() {
        let r = records("a,b\n1,2,3\n4\n5,6\n", expected: 2)
        XCTAssertEqual(r.map(\.ok), [true, false, false, true])
        XCTAssertEqual(r.map(\.line), [1, 2, 3, 4])
    }

    func testBareQuoteAndTextAfterClosingQuoteAreMalformed() {
        let r = records("a,b\n1,2\"3\n\"x\"y,2\n5,6\n", expected: 2)
        XCTAssertEqual(r.map(\.ok), [true, false, false, true])
        XCTAssertEqual(r[3].fields, ["5", "6"])
    }

    func testUnclosedQuoteCostsOneLineNotTheFile() {
        // The quote opened on line 2 never closes: line 2 is malformed, the rest is read.
        let r = records("a,b\n1,\"2\n3,4\n5,6\n", expected: 2)
        XCTAssertEqual(r.map(\.line), [1, 2, 3, 4])
        XCTAssertEqual(r.map(\.ok), [true, false, true, true])
        // ...also when a later quote would pair with it.
        let r2 = records("a,b\n1,\"2\n3,4\n\"5\",6\n", expected: 2)
        XCTAssertEqual(r2.map(\.ok), [true, false, true, true])
        XCTAssertEqual(r2[3].fields, ["5", "6"])
    }

    func testWellQuotedMultiLineRecordWithWrongFieldCountIsOneRecord() {
        let r = records("a,b\n\"x\ny\",2,extra\n3,4\n", expected: 2)
        XCTAssertEqual(r.map(\.line), [1, 2, 4])
        XCTAssertEqual(r.map(\.ok), [true, false, true])
    }

    func testLayoutAgreesWithScannerAcrossChunks() {
        var text = "id,v\n"
        for i in 0..<5000 {
            switch i % 7 {
            case 0: text += "\(i),\"multi\nline\"\n"
            case 3: text += "\(i),\"unclosed\n"
            case 5: text += "\(i),x,extra\n"
            case 6: text += "\(i),\"two\nlines\",extra\n"
            default: text += "\(i),plain\n"
            }
        }
        let bytes = Array(text.utf8)
        let expected = records(text, expected: 2)
        let layout = bytes.withUnsafeBytes { CSVLayout.scan($0, targetChunkBytes: 1000) }
        XCTAssertGreaterThan(layout.chunks.count, 10)
        XCTAssertEqual(layout.records, expected.count - 1)
        // Re-reading each chunk from its start gives the same records in order.
        var again: [Int] = []
        bytes.withUnsafeBytes { buf in
            for c in layout.chunks {
                var s = CSVScanner(bytes: buf)
                var pos = c.start, line = c.firstLine
                var f: [CSVField] = []
                var n = 0
                while pos < c.end, s.skipBlank(pos: &pos, line: &line), pos < c.end {
                    again.append(s.scanRecord(pos: &pos, line: &line, expectedFields: 2, fields: &f).line)
                    n += 1
                }
                XCTAssertEqual(n, c.records)
            }
        }
        XCTAssertEqual(again, Array(expected.dropFirst().map(\.line)))
    }
}

final class TextEncodingTests: XCTestCase {
    func testUTF8Validation() {
        XCTAssertNil(Array("plain ascii, 中文 ok".utf8).withUnsafeBytes { TextDecoding.firstInvalidUTF8($0) })
        XCTAssertEqual(([0x61, 0xFF, 0x62] as [UInt8]).withUnsafeBytes { TextDecoding.firstInvalidUTF8($0) }, 1)
        XCTAssertEqual(([0x61, 0xE4, 0xB8] as [UInt8]).withUnsafeBytes { TextDecoding.firstInvalidUTF8($0) }, 1)  // cut short
        XCTAssertEqual(([0xC0, 0x80] as [UInt8]).withUnsafeBytes { TextDecoding.firstInvalidUTF8($0) }, 0)  // overlong
        XCTAssertEqual(([0xED, 0xA0, 0x80] as [UInt8]).withUnsafeBytes { TextDecoding.firstInvalidUTF8($0) }, 0)  // surrogate
    }

    func testGB18030ToUTF8() throws {
        // 王小明 in GB18030: CD F5 D0 A1 C3 F7
        let gb: [UInt8] = Array("id,name\n1,".utf8) + [0xCD, 0xF5, 0xD0, 0xA1, 0xC3, 0xF7] + [10]
        let out = try gb.withUnsafeBytes { try TextDecoding.gb18030ToUTF8($0).get() }
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "id,name\n1,王小明\n")
    }

    func testGB18030LargeInputSplitsAtLineEnds() throws {
        var gb: [UInt8] = []
        for i in 0..<200_000 { gb += Array("\(i),".utf8) + [0xCD, 0xF5] + [10] }
        let out = try gb.withUnsafeBytes { try TextDecoding.gb18030ToUTF8($0).get() }
        let text = String(decoding: out, as: UTF8.self)
        XCTAssertEqual(text.split(separator: "\n").count, 200_000)
        XCTAssertTrue(text.hasSuffix("199999,王\n"))
    }

    /// Pieces converted in place and moved together, or (when a piece outgrows its
    /// room) apart and joined: the same bytes as one iconv call over the whole text.
    func testGB18030PiecesInPlaceAndSpilt() throws {
        // 王 (2 bytes, 3 in UTF-8), é and α (2 bytes, 2 in UTF-8), 😀 (4 bytes, 4 in UTF-8), € (2, 3).
        let chars: [[UInt8]] = [[0xCD, 0xF5], [0xA8, 0xA6], [0xA6, 0xC1], [0x94, 0x39, 0xFC, 0x36], [0xA2, 0xE3]]
        var gb: [UInt8] = []
        var i = 0
        while gb.count < 5 << 20 {
            gb += Array("\(i),".utf8)
            for k in 0..<(i % 4) { gb += chars[(i + k) % chars.count] }
            if i % 1000 == 0 { gb += Array(String(repeating: "x", count: 3000).utf8) }  // pieces of unequal mixes
            gb.append(10)
            i += 1
        }
        var reference = [UInt8](repeating: 0, count: gb.count * 2)
        let produced: Int = gb.withUnsafeMutableBytes { inBuf in
            reference.withUnsafeMutableBytes { outBuf in
                let cd = iconv_open("UTF-8", "GB18030")!
                defer { iconv_close(cd) }
                var ip: UnsafeMutablePointer<CChar>? = inBuf.baseAddress!.assumingMemoryBound(to: CChar.self)
                var op: UnsafeMutablePointer<CChar>? = outBuf.baseAddress!.assumingMemoryBound(to: CChar.self)
                var inLeft = inBuf.count, outLeft = outBuf.count
                XCTAssertNotEqual(iconv(cd, &ip, &inLeft, &op, &outLeft), -1)
                return outBuf.count - outLeft
            }
        }
        reference.removeSubrange(produced...)
        let rooms: [(String, (UnsafeRawBufferPointer) -> Int)] = [
            ("estimated", TextDecoding.estimatedRoom),
            ("twice the input's size", { $0.count * 2 }),
            ("none", { _ in 0 }),
            ("the input's size", { $0.count }),
            ("half", { $0.count / 2 }),
        ]
        for (name, room) in rooms {
            let out = try gb.withUnsafeBytes { try TextDecoding.gb18030ToUTF8($0, room: room).get() }
            XCTAssertEqual(out.count, reference.count, name)
            XCTAssertTrue(out == reference, "room \(name): the bytes differ from one iconv call")
        }
    }

    func testInvalidGB18030IsReported() {
        let bad: [UInt8] = Array("ok\n".utf8) + [0x81, 0x20]
        guard case .failure(let f) = bad.withUnsafeBytes({ TextDecoding.gb18030ToUTF8($0) }) else {
            return XCTFail("should fail")
        }
        XCTAssertEqual(f.offset, 3)
    }

    /// The check without conversion finds the first byte the conversion refuses,
    /// in a text of several pieces, wherever the bad byte is (or none).
    func testGB18030CheckAgreesWithConversion() {
        let chars: [[UInt8]] = [[0xCD, 0xF5], [0x94, 0x39, 0xFC, 0x36], [0xA2, 0xE3]]
        var gb: [UInt8] = []
        var i = 0
        while gb.count < 3 << 20 {
            gb += Array("\(i),".utf8)
            for k in 0..<(i % 3) { gb += chars[(i + k) % chars.count] }
            gb.append(10)
            i += 1
        }
        var rng = SystemRandomNumberGenerator()
        var cases: [[UInt8]] = [gb]
        for bad: [UInt8] in [[0x81, 0x20], [0xFF], [0x81, 0x30, 0x20]] {
            for _ in 0..<3 {
                var t = gb
                let lineStarts = [0] + t.indices.filter { t[$0] == 10 }.map { $0 + 1 }.dropLast()
                t.insert(contentsOf: bad, at: lineStarts.randomElement(using: &rng)!)  // never inside a character
                cases.append(t)
            }
        }
        for t in cases {
            let converted: Int? = t.withUnsafeBytes {
                if case .failure(let f) = TextDecoding.gb18030ToUTF8($0) { return f.offset } else { return nil }
            }
            XCTAssertEqual(t.withUnsafeBytes { TextDecoding.firstInvalidGB18030($0) }, converted)
            if t != gb { XCTAssertNotNil(converted) }
        }
    }

    func testBOM() {
        XCTAssertEqual(([0xEF, 0xBB, 0xBF, 0x61] as [UInt8]).withUnsafeBytes { TextDecoding.bomLength($0) }, 3)
        XCTAssertEqual(([0x61] as [UInt8]).withUnsafeBytes { TextDecoding.bomLength($0) }, 0)
    }
}
