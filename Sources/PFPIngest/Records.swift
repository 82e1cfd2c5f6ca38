import Foundation
import PFPCore
import PFPSchema

enum PopulationColumns {
    /// `name` may be absent or empty: the pipeline never reads it.
    static let required = [
        "id_number", "sex", "birth_date", "household_id", "relation", "hukou", "district", "street", "community",
    ]
    /// The contract's columns, in its order.
    static let all = [
        "id_number", "name", "sex", "birth_date", "household_id", "relation", "hukou", "district", "street",
        "community",
    ]
}

enum TagColumns {
    static let required = ["id_number", "tag", "value", "as_of"]
}

/// outreach.md: every column must be there (`person_id` and `policy` may be empty).
enum OutreachColumns {
    static let all = ["household_id", "person_id", "policy", "outcome", "channel", "event_date"]
}

extension Relation {
    /// The words, in the cases' order (made once: parsing reads them for every record).
    static let words: [StaticString] = Relation.allCases.map { r in
        switch r {
        case .head: return "head"
        case .spouse: return "spouse"
        case .child: return "child"
        case .parent: return "parent"
        case .grandchild: return "grandchild"
        case .sibling: return "sibling"
        case .other: return "other"
        }
    }

    /// The relation a field's bytes spell; nil for any other bytes.
    @inline(__always)
    static func parse(_ b: UnsafeRawBufferPointer) -> Relation? {
        for i in words.indices where equalsASCII(b, words[i]) { return Relation(rawValue: UInt8(i)) }
        return nil
    }
}

@inline(__always)
func equalsASCII(_ b: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
    guard b.count == s.utf8CodeUnitCount else { return false }
    return memcmp(b.baseAddress!, s.utf8Start, b.count) == 0
}

/// Calls `body` with a field's bytes, undoing `""` escapes when the field has them.
@inline(__always)
func withField<T>(_ text: UnsafeRawBufferPointer, _ f: CSVField, _ body: (UnsafeRawBufferPointer) -> T) -> T {
    let slice = UnsafeRawBufferPointer(rebasing: text[f.start..<f.end])
    if !f.hasEscapes { return body(slice) }
    let u = CSVScanner.unescape(slice)
    return u.withUnsafeBytes { body($0) }
}

/// `count` ASCII digits, as an integer; nil otherwise.
@inline(__always)
func digitsValue(_ b: UnsafeRawBufferPointer, count: Int) -> Int64? {
    guard b.count == count else { return nil }
    var v: Int64 = 0
    for i in 0..<count {
        let d = b[i] &- UInt8(ascii: "0")
        if d > 9 { return nil }
        v = v * 10 + Int64(d)
    }
    return v
}

/// A population record after the checks that do not need the other records.
/// The wide fields first, the bytes last: 72 bytes a row, not 88 (at city scale
/// 25 million rows, written once onto fresh pages).
struct PopulationRow {
    /// A valid ID (the key), 0 when there is none.
    var id: UInt64 = 0
    var community: Int64 = 0
    /// The household id as four big-endian words, zero-padded: comparing the
    /// words compares the ids in byte order (ids are 1 to 32 of A-Z a-z 0-9 -).
    var household: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    var line: Int32 = 0
    var birth: Int32 = 0
    var district: Int32 = 0
    var street: Int32 = 0
    /// malformed_row, missing_field or bad_id: decided before duplicates are counted.
    var early: RejectReason?
    /// bad_date, unknown_enum, bad_code, bad_household_id: apply after duplicate_id.
    var late: RejectReason?
    var male = false
    var relation: UInt8 = 0
    var hukou: UInt8 = 0
    var sexMismatch = false
    var birthMismatch = false
    var upgraded = false
}

/// An accepted tag row: which tag, whose, as of when, what value, in 16 bytes.
struct TagObservation {
    var value: Int64
    var person: Int32
    /// Tag index in the top 6 bits; as_of in the low 26, as days since 1970 plus 2^25
    /// (every date of years 1 to 9999 fits).
    var tagAsOf: UInt32

    static let bias: Int32 = 1 << 25

    init(tag: UInt8, person: Int32, asOf: Int32, value: Int64) {
        self.value = value
        self.person = person
        self.tagAsOf = UInt32(tag) << 26 | UInt32(asOf + TagObservation.bias)
    }

    @inline(__always) var tag: Int { Int(tagAsOf >> 26) }
    @inline(__always) var asOf: Int32 { Int32(tagAsOf & 0x03FF_FFFF) - TagObservation.bias }
}

/// Parses the population feed's records, in parallel chunks.
func parsePopulation(_ file: FeedFile) -> [PopulationRow] {
    let cols = file.columns
    let cID = cols["id_number"]!, cSex = cols["sex"]!, cBirth = cols["birth_date"]!, cHH = cols["household_id"]!
    let cRel = cols["relation"]!, cHukou = cols["hukou"]!, cDist = cols["district"]!, cStreet = cols["street"]!,
        cComm = cols["community"]!
    let checked = [cID, cSex, cBirth, cHH, cRel, cHukou, cDist, cStreet, cComm]
    let asOf = file.manifest.asOf
    let chunks = file.layout.chunks
    let expected = file.layout.header.count
    // Every row is written once, by its chunk: no serial pass first filling
    // gigabytes of fresh pages with empty rows on one thread (at city scale the
    // kernel's clearing of those pages alone takes seconds).
    let records = file.layout.records
    Meter.shared.start(file.manifest.feed, unit: "rows", total: records)
    return [PopulationRow](unsafeUninitializedCapacity: records) { rows, count in
        file.withText { text in
            Parallel.forEach(chunks.count) { k in
                let chunk = chunks[k]
                defer { Meter.shared.add(chunk.records) }
                var scanner = CSVScanner(bytes: text)
                var pos = chunk.start, line = chunk.firstLine
                var fields: [CSVField] = []
                var r = chunk.firstRecord
                while pos < chunk.end, scanner.skipBlank(pos: &pos, line: &line), pos < chunk.end {
                    let info = scanner.scanRecord(pos: &pos, line: &line, expectedFields: expected, fields: &fields)
                    var row = PopulationRow()
                    row.line = Int32(info.line)
                    defer { (rows.baseAddress! + r).initialize(to: row); r += 1 }
                    guard info.wellFormed else { row.early = .malformedRow; continue }
                    // The ID first: duplicates are counted over every record whose ID is valid.
                    let idField = fields[cID]
                    if idField.end > idField.start {
                        if case .valid(let id, let up) = withField(text, idField, { IDNumber.parse($0) }) {
                            row.id = id.key
                            row.upgraded = up
                        }
                    }
                    if checked.contains(where: { fields[$0].end == fields[$0].start }) {
                        row.early = .missingField; continue
                    }
                    if row.id == 0 { row.early = .badID; continue }
                    let id = IDNumber(key: row.id)
                    let idBirth = id.birthDate!
                    row.birth = idBirth.days
                    row.male = id.isMale
                    // bad_date
                    let birthCol = withField(text, fields[cBirth]) { CivilDate.parse($0) }
                    if birthCol == nil || idBirth > asOf { row.late = .badDate; continue }
                    row.birthMismatch = birthCol! != idBirth
                    // unknown_enum
                    let sex: UInt8? = withField(text, fields[cSex]) { b in
                        equalsASCII(b, "M") ? 1 : (equalsASCII(b, "F") ? 0 : nil)
                    }
                    let rel: Relation? = withField(text, fields[cRel]) { Relation.parse($0) }
                    let hukou: Hukou? = withField(text, fields[cHukou]) { b in
                        equalsASCII(b, "local") ? .local : (equalsASCII(b, "nonlocal") ? .nonlocal : nil)
                    }
                    guard let sex, let rel, let hukou else { row.late = .unknownEnum; continue }
                    row.sexMismatch = (sex == 1) != row.male
                    row.relation = rel.rawValue
                    row.hukou = hukou.rawValue
                    // bad_code
                    let d = withField(text, fields[cDist]) { digitsValue($0, count: 6) }
                    let s = withField(text, fields[cStreet]) { digitsValue($0, count: 9) }
                    let c = withField(text, fields[cComm]) { digitsValue($0, count: 12) }
                    guard let d, let s, let c, s / 1000 == d, c / 1000 == s else { row.late = .badCode; continue }
                    row.district = Int32(d)
                    row.street = Int32(s)
                    row.community = c
                    // bad_household_id
                    let hh: (UInt64, UInt64, UInt64, UInt64)? = withField(text, fields[cHH]) { b in
                        guard b.count >= 1, b.count <= 32 else { return nil }
                        var w: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
                        for (i, ch) in b.enumerated() {
                            guard
                                (ch >= UInt8(ascii: "0") && ch <= UInt8(ascii: "9"))
                                    || (ch >= UInt8(ascii: "A") && ch <= UInt8(ascii: "Z"))
                                    || (ch >= UInt8(ascii: "a") && ch <= UInt8(ascii: "z")) || ch == UInt8(ascii: "-")
                            else { return nil }
                            let shift = UInt64(56 - 8 * (i & 7))
                            switch i >> 3 {
                            case 0: w.0 |= UInt64(ch) << shift
                            case 1: w.1 |= UInt64(ch) << shift
                            case 2: w.2 |= UInt64(ch) << shift
                            default: w.3 |= UInt64(ch) << shift
                            }
                        }
                        return w
                    }
                    guard let hh else { row.late = .badHouseholdID; continue }
                    row.household = hh
                }
                // The layout counted the chunk's records: a slot left (none expected) is
                // an empty row, never memory left unwritten.
                let end = chunk.firstRecord + chunk.records
                if r < end { (rows.baseAddress! + r).initialize(repeating: PopulationRow(), count: end - r) }
            }
        }
        count = records
    }
}

/// The records of one chunk of a feed, one after the other (blank lines passed over).
struct ChunkRecords {
    private var scanner: CSVScanner
    private var pos: Int
    private var line: Int
    private let end: Int
    private let expected: Int

    init(text: UnsafeRawBufferPointer, chunk: CSVLayout.Chunk, expectedFields: Int) {
        scanner = CSVScanner(bytes: text)
        pos = chunk.start
        line = chunk.firstLine
        end = chunk.end
        expected = expectedFields
    }

    /// Where the next record starts: after `next` returned, the end of its record
    /// (past its line end).
    var position: Int { pos }

    /// The next record's fields (into `fields`) and where it is; nil past the chunk.
    @inline(__always)
    mutating func next(_ fields: inout [CSVField]) -> CSVRecordInfo? {
        guard pos < end, scanner.skipBlank(pos: &pos, line: &line), pos < end else { return nil }
        return scanner.scanRecord(pos: &pos, line: &line, expectedFields: expected, fields: &fields)
    }
}

extension FeedFile {
    /// `body` run on every chunk of the feed's records, in parallel; the results
    /// in chunk order.
    func parseChunks<T>(_ body: (UnsafeRawBufferPointer, inout ChunkRecords, _ records: Int) -> T) -> [T] {
        let chunks = layout.chunks
        let expected = layout.header.count
        var parts = [T?](repeating: nil, count: chunks.count)
        Meter.shared.start(manifest.feed, unit: "rows", total: layout.records)
        withText { text in
            parts.withUnsafeMutableBufferPointer { out in
                Parallel.forEach(chunks.count) { k in
                    var records = ChunkRecords(text: text, chunk: chunks[k], expectedFields: expected)
                    out[k] = body(text, &records, chunks[k].records)
                    Meter.shared.add(chunks[k].records)
                }
            }
        }
        return parts.map { $0! }
    }
}

/// Parses one tag feed's records in parallel chunks: accepted observations and rejects.
/// `obs[chunk][tag]`: each chunk's accepted rows, apart per tag (catalogue index),
/// in delivery order (the resolution reads each tag's rows alone).
func parseTags(
    _ file: FeedFile, compiled: CompiledTags, feedIndex: Int32, tagLookup: ByteKeyTable, people: IDIndex
) -> (obs: [[[TagObservation]]], rejects: [Reject], warnings: [String: Int]) {
    let cols = file.columns
    let cID = cols["id_number"]!, cTag = cols["tag"]!, cValue = cols["value"]!, cAsOf = cols["as_of"]!
    let deliveryAsOf = file.manifest.asOf.days
    let tagCount = compiled.feed.count
    let parts = file.parseChunks { text, records, recordCount -> ([[TagObservation]], [Reject], Int) in
        var fields: [CSVField] = []
        // Rows pass every check but the person's in this first loop; the
        // lookups of the people (at random in a table far larger than the
        // caches) come after, a few rows ahead of each other (prefetched).
        var pending: [PendingRow] = []
        pending.reserveCapacity(recordCount)
        var rej: [Reject] = []
        var upgraded = 0
        var dates = CivilDate.ParseCache()
        while let info = records.next(&fields) {
            let ln = Int32(info.line)
            guard info.wellFormed else { rej.append(Reject(line: ln, reason: .malformedRow)); continue }
            let fID = fields[cID], fTag = fields[cTag], fValue = fields[cValue], fAsOf = fields[cAsOf]
            if fID.end == fID.start || fTag.end == fTag.start || fValue.end == fValue.start
                || fAsOf.end == fAsOf.start
            {
                rej.append(Reject(line: ln, reason: .missingField)); continue
            }
            guard case .valid(let id, let up) = withField(text, fID, { IDNumber.parse($0) }) else {
                rej.append(Reject(line: ln, reason: .badID)); continue
            }
            if up { upgraded += 1 }
            // The later checks; unknown_person, checked below, comes before them.
            var row = PendingRow(key: id.key, line: ln, late: nil, tag: 0, asOf: 0, value: 0)
            defer { pending.append(row) }
            guard let asOf = withField(text, fAsOf, { dates.parse($0) }) else {
                row.late = .badDate; continue
            }
            if asOf.days > deliveryAsOf { row.late = .futureAsOf; continue }
            let t = withField(text, fTag) { tagLookup.find($0) }
            if t < 0 { row.late = .unknownTag; continue }
            if compiled.feed[t] != feedIndex { row.late = .foreignTag; continue }
            switch withField(text, fValue, { compiled.parse(t, $0) }) {
            case .bad: row.late = .badValue
            case .outOfRange: row.late = .outOfRange
            case .value(let v): row.tag = UInt8(t); row.asOf = asOf.days; row.value = v
            }
        }
        var obs = [[TagObservation]](repeating: [], count: tagCount)
        var perTag = [Int](repeating: 0, count: tagCount)
        for r in pending where r.late == nil { perTag[Int(r.tag)] += 1 }
        for t in 0..<tagCount where perTag[t] > 0 { obs[t].reserveCapacity(perTag[t]) }
        pending.withUnsafeBufferPointer { rows in
            let ahead = 12
            for i in 0..<min(ahead, rows.count) { people.prefetch(rows[i].key) }
            for i in 0..<rows.count {
                if i + ahead < rows.count { people.prefetch(rows[i + ahead].key) }
                let r = rows[i]
                let person = people.find(r.key)
                if person < 0 { rej.append(Reject(line: r.line, reason: .unknownPerson)); continue }
                if let late = r.late { rej.append(Reject(line: r.line, reason: late)); continue }
                obs[Int(r.tag)].append(TagObservation(tag: r.tag, person: person, asOf: r.asOf, value: r.value))
            }
        }
        // The rejects are not in line order here: the stage sorts every feed's
        // rejects once, by feed and line (outputs.md).
        return (obs, rej, upgraded)
    }
    let obsParts = parts.map(\.0), rejParts = parts.map(\.1), upgradedParts = parts.map(\.2)
    var warnings: [String: Int] = [:]
    let up = upgradedParts.reduce(0, +)
    if up > 0 { warnings["id_upgraded_15_to_18"] = up }
    return (obsParts, rejParts.flatMap { $0 }, warnings)
}

/// A tag row that passed the checks up to its ID number: its person is looked up
/// next; `late` is the first later check it failed, if any.
struct PendingRow {
    var key: UInt64
    var line: Int32
    var late: RejectReason?
    var tag: UInt8
    var asOf: Int32
    var value: Int64
}

/// The text of a household id packed by `parsePopulation`.
func householdText(_ w: (UInt64, UInt64, UInt64, UInt64)) -> String {
    var bytes: [UInt8] = []
    for word in [w.0, w.1, w.2, w.3] {
        for k in 0..<8 {
            let c = UInt8(truncatingIfNeeded: word >> UInt64(56 - 8 * k))
            if c == 0 { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(c)
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}
