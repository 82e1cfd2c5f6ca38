import Foundation

/// One field of a CSV record: a byte range into the file's buffer.
public struct CSVField: Sendable {
    public var start: Int
    public var end: Int
    /// The field was quoted and holds `""` escapes that must be undone before use.
    public var hasEscapes: Bool
}

/// A record as the scanner found it.
public struct CSVRecordInfo: Sendable {
    /// Byte offset of the record's first byte.
    public var start: Int
    /// Physical line where the record starts (the header is line 1).
    public var line: Int
    /// False for unbalanced quotes or a wrong number of fields (`malformed_row`).
    public var wellFormed: Bool
}

/// A byte-level RFC 4180 reader over a whole file held in memory.
///
/// Records end at `\n` (a `\r` before it is dropped) outside quotes; quoted fields
/// may hold commas, `""` and line ends. Blank lines are not records.
///
/// Recovery rule (documented in docs/DECISIONS.md): a record whose quoting is
/// broken (a quote inside an unquoted field, text after a closing quote, end of
/// file inside quotes) is reported as one malformed record made of its *first
/// physical line*, and reading resumes on the next line. So one stray quote costs
/// one row, not the rest of the file. A record that is well quoted but has the
/// wrong number of fields is one malformed record, whatever lines it spans.
public struct CSVScanner {
    public let bytes: UnsafeRawBufferPointer
    /// Position after which the buffer holds no `"` at all (learned on the way,
    /// so a file with many unclosed quotes is still read in linear time).
    private var noQuoteFrom: Int
    /// Tests: every record through the general scan (no one-line fast path).
    var generalOnly = false

    public init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.noQuoteFrom = Int.max
    }

    @inline(__always)
    func find(_ byte: UInt8, from: Int, to: Int) -> Int? {
        guard from < to, let base = bytes.baseAddress else { return nil }
        guard let p = memchr(base + from, Int32(byte), to - from) else { return nil }
        return base.distance(to: UnsafeRawPointer(p))
    }

    /// End of the physical line starting at `pos`: the index of its `\n`, or `count`.
    @inline(__always)
    public func lineEnd(from pos: Int) -> Int {
        find(UInt8(ascii: "\n"), from: pos, to: bytes.count) ?? bytes.count
    }

    /// Skips blank lines. Returns the position of the next record and its line, or nil at the end.
    @inline(__always)
    public func skipBlank(pos: inout Int, line: inout Int) -> Bool {
        let n = bytes.count
        while pos < n {
            let c = bytes[pos]
            if c == UInt8(ascii: "\n") { pos += 1; line += 1; continue }
            if c == UInt8(ascii: "\r"), pos + 1 < n, bytes[pos + 1] == UInt8(ascii: "\n") {
                pos += 2; line += 1; continue
            }
            if c == UInt8(ascii: "\r"), pos + 1 == n { pos += 1; continue }
            return true
        }
        return false
    }

    /// Reads one record at `pos` (which must not be at a blank line), appends its
    /// fields to `fields` (cleared first), advances `pos` and `line` past it.
    /// `expectedFields` of 0 accepts any count (the header).
    public mutating func scanRecord(
        pos: inout Int, line: inout Int, expectedFields: Int,
        fields: inout [CSVField]
    ) -> CSVRecordInfo {
        let startPos = pos, startLine = line
        fields.removeAll(keepingCapacity: true)
        let n = bytes.count
        var p = pos
        var newlines = 0
        var ok = true
        var cachedLineEnd = -1
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        // A record on one line without a quote anywhere (nearly every record):
        // its fields split at the commas eight bytes at a time, no call per field;
        // the same fields, end and line count as the general scan below.
        let le0 = lineEnd(from: p)
        if !generalOnly, let base = bytes.baseAddress, find(quote, from: p, to: le0) == nil {
            var fstart = p, i = p
            while i + 8 <= le0 {
                // A byte equal to the comma becomes 0x80, every other byte 0 (exact: no borrow between bytes).
                let v = base.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ 0x2C2C_2C2C_2C2C_2C2C
                var m = ~(((v & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F) | v | 0x7F7F_7F7F_7F7F_7F7F)
                while m != 0 {
                    let at = i + (m.trailingZeroBitCount >> 3)
                    fields.append(CSVField(start: fstart, end: at, hasEscapes: false))
                    fstart = at + 1
                    m &= m - 1
                }
                i += 8
            }
            while i < le0 {
                if bytes[i] == comma {
                    fields.append(CSVField(start: fstart, end: i, hasEscapes: false)); fstart = i + 1
                }
                i += 1
            }
            var fend = le0
            if fend > fstart && bytes[fend - 1] == cr { fend -= 1 }
            fields.append(CSVField(start: fstart, end: fend, hasEscapes: false))
            p = le0 < n ? le0 + 1 : n
            if le0 < n { newlines = 1 }
        } else {
            record: while true {
                if p < n && bytes[p] == quote {
                    // Quoted field.
                    let fstart = p + 1
                    var q = fstart
                    var escapes = false
                    while true {
                        if q >= noQuoteFrom { ok = false; break record }
                        guard let close = find(quote, from: q, to: n) else {
                            noQuoteFrom = q
                            ok = false
                            break record
                        }
                        if close + 1 < n && bytes[close + 1] == quote { escapes = true; q = close + 2; continue }
                        // count line ends inside the quoted part
                        var s = fstart
                        while let nl = find(lf, from: s, to: close) { newlines += 1; s = nl + 1 }
                        fields.append(CSVField(start: fstart, end: close, hasEscapes: escapes))
                        p = close + 1
                        break
                    }
                    if p >= n { break record }
                    let c = bytes[p]
                    if c == comma { p += 1; continue record }
                    if c == lf { p += 1; newlines += 1; break record }
                    if c == cr && p + 1 < n && bytes[p + 1] == lf { p += 2; newlines += 1; break record }
                    if c == cr && p + 1 == n { p += 1; break record }
                    ok = false
                    break record
                } else {
                    // Unquoted field: up to a comma or the line end; a quote inside is malformed.
                    let fstart = p
                    if cachedLineEnd < p { cachedLineEnd = lineEnd(from: p) }
                    let le = cachedLineEnd
                    let ce = find(comma, from: p, to: le) ?? le
                    if find(quote, from: fstart, to: ce) != nil { ok = false; break record }
                    var fend = ce
                    if ce == le && fend > fstart && bytes[fend - 1] == cr { fend -= 1 }
                    fields.append(CSVField(start: fstart, end: fend, hasEscapes: false))
                    if ce < le { p = ce + 1; continue record }
                    p = le < n ? le + 1 : n
                    if le < n { newlines += 1 }
                    break record
                }
            }
        }
        if ok && expectedFields > 0 && fields.count != expectedFields {
            // Well quoted but the wrong number of fields: one malformed record, however many lines it spans.
            pos = p
            line = startLine + newlines
            fields.removeAll(keepingCapacity: true)
            return CSVRecordInfo(start: startPos, line: startLine, wellFormed: false)
        }
        if !ok {
            // Resynchronise on the next physical line.
            let le = lineEnd(from: startPos)
            pos = le < n ? le + 1 : n
            line = startLine + (le < n ? 1 : 0)
            fields.removeAll(keepingCapacity: true)
            return CSVRecordInfo(start: startPos, line: startLine, wellFormed: false)
        }
        pos = p
        line = startLine + newlines
        return CSVRecordInfo(start: startPos, line: startLine, wellFormed: true)
    }

    /// The text of a field with `""` escapes undone.
    public func string(_ f: CSVField) -> String {
        let slice = UnsafeRawBufferPointer(rebasing: bytes[f.start..<f.end])
        if !f.hasEscapes { return String(decoding: slice, as: UTF8.self) }
        return String(decoding: CSVScanner.unescape(slice), as: UTF8.self)
    }

    public static func unescape(_ b: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        while i < b.count {
            out.append(b[i])
            if b[i] == UInt8(ascii: "\"") && i + 1 < b.count && b[i + 1] == UInt8(ascii: "\"") {
                i += 2
            } else {
                i += 1
            }
        }
        return out
    }
}

/// Record boundaries of a whole file, split into chunks that can be parsed in parallel.
public struct CSVLayout: Sendable {
    public struct Chunk: Sendable {
        public var start: Int
        public var end: Int
        public var firstLine: Int
        public var firstRecord: Int
        public var records: Int
    }
    public var header: [String]
    /// False when the header's quoting is broken (an unclosed or a stray quote).
    public var headerWellFormed = true
    public var headerEnd: Int
    public var chunks: [Chunk]
    public var records: Int

    /// One fast sequential pass: lines without a quote are records as they are
    /// (found with memchr); only lines with quotes go through the full scanner.
    public static func scan(_ bytes: UnsafeRawBufferPointer, targetChunkBytes: Int = 4 << 20) -> CSVLayout {
        var scanner = CSVScanner(bytes: bytes)
        var pos = 0, line = 1
        var fields: [CSVField] = []
        var header: [String] = []
        var headerWellFormed = true
        if scanner.skipBlank(pos: &pos, line: &line) {
            headerWellFormed = scanner.scanRecord(pos: &pos, line: &line, expectedFields: 0, fields: &fields).wellFormed
            header = fields.map { scanner.string($0) }
        }
        let headerEnd = pos
        let expected = header.count
        var chunks: [Chunk] = []
        var records = 0
        var chunk = Chunk(start: pos, end: pos, firstLine: line, firstRecord: 0, records: 0)
        let n = bytes.count
        var nextQuote = scanner.find(UInt8(ascii: "\""), from: pos, to: n) ?? n
        while scanner.skipBlank(pos: &pos, line: &line) {
            if pos - chunk.start >= targetChunkBytes {
                chunk.end = pos
                chunks.append(chunk)
                chunk = Chunk(start: pos, end: pos, firstLine: line, firstRecord: records, records: 0)
            }
            if nextQuote < pos { nextQuote = scanner.find(UInt8(ascii: "\""), from: pos, to: n) ?? n }
            let le = scanner.lineEnd(from: pos)
            if nextQuote > le {
                pos = le < n ? le + 1 : n
                line += 1
            } else {
                _ = scanner.scanRecord(pos: &pos, line: &line, expectedFields: expected, fields: &fields)
            }
            records += 1
            chunk.records += 1
        }
        chunk.end = pos
        if chunk.records > 0 || chunks.isEmpty { chunks.append(chunk) }
        return CSVLayout(
            header: header, headerWellFormed: headerWellFormed, headerEnd: headerEnd, chunks: chunks, records: records)
    }
}
