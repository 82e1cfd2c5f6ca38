import Foundation
import PFPCore

/// Kinds of dirty input the generator plants, in small numbers, so every reject
/// reason and every reader path of feeds.md is exercised.
enum Dirt: Int, CaseIterable {
    case popMissingSex, popBadCheck, popDuplicate, popBadBirthColumn, popFutureBirth, popBadRelation, popBadHukou,
        popBadSex, popBadCode, popBadHouseholdID, popMalformed, popSexMismatch, popBirthMismatch
    case tagMalformed, tagBareQuote, tagMissingValue, tagBadID, tagUnknownPerson, tagBadAsOf, tagFutureAsOf,
        tagUnknownTag, tagForeignTag, tagBadMoney, tagBadBool, tagBadEnum, tagNegativeMoney, tagIntOutOfRange,
        tagConflict
}

/// Writes one day's rows of a range of households into per-feed byte buffers.
struct RowEmitter {
    enum Col { case id, tag, value, asOf, extra }
    let world: SampleWorld
    let names: NameBank
    let day: Int
    let asOf: CivilDate
    let households: Int
    var buffers: [[UInt8]]
    var rows: [Int]
    let layouts: [[Col]]
    let crlf: [Bool]
    let asOfText: [UInt8]
    var current: [UInt8] = []

    static let feedNames: [String] = SampleGenerator.formats.map(\.feed)
    static let feedIndex: [String: Int] = {
        var m: [String: Int] = [:]
        for (i, f) in SampleGenerator.formats.enumerated() { m[f.feed] = i }
        return m
    }()

    init(world: SampleWorld, names: NameBank, day: Int, asOf: CivilDate, households: Int) {
        self.world = world
        self.names = names
        self.day = day
        self.asOf = asOf
        self.households = households
        let formats = SampleGenerator.formats
        buffers = formats.map { _ in [] }
        for i in buffers.indices { buffers[i].reserveCapacity(1 << 20) }
        rows = [Int](repeating: 0, count: formats.count)
        layouts = formats.map { f in
            f.columns.map { c -> Col in
                switch c {
                case "id_number": return .id;
                case "tag": return .tag;
                case "value": return .value;
                case "as_of": return .asOf;
                default: return .extra
                }
            }
        }
        crlf = formats.map(\.crlf)
        asOfText = Array(asOf.description.utf8)
    }

    /// Which dirt (if any) household h carries: each kind is planted at a fixed
    /// household (so even 10 households show most kinds) and at random ones.
    func dirt(_ h: Int) -> Dirt? {
        for d in Dirt.allCases
        where (d.rawValue * 37 + 5) % max(households, 1) == h && households >= Dirt.allCases.count {
            return d
        }
        var rng = SplitMix64(world.seed, UInt64(h), 0xD1A7)
        if rng.chance(0.25) { return Dirt.allCases[rng.below(Dirt.allCases.count)] }
        return nil
    }

    mutating func end(_ f: Int) {
        if crlf[f] { current.append(UInt8(ascii: "\r")) }
        current.append(UInt8(ascii: "\n"))
        buffers[f].append(contentsOf: current)
        current.removeAll(keepingCapacity: true)
        rows[f] += 1
    }

    @inline(__always)
    mutating func field(_ bytes: [UInt8]) {
        if bytes.contains(where: {
            $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r")
        }) {
            current.append(UInt8(ascii: "\""))
            for b in bytes { current.append(b); if b == UInt8(ascii: "\"") { current.append(UInt8(ascii: "\"")) } }
            current.append(UInt8(ascii: "\""))
        } else {
            current.append(contentsOf: bytes)
        }
    }

    /// `raw` writes the value as it is, unquoted: for planting a bare quote.
    mutating func tagRow(
        _ feed: String, id: [UInt8], tag: String, value: [UInt8], asOf: [UInt8], extraField: Bool = false,
        raw: Bool = false
    ) {
        // 12 short names: comparing beats hashing them per row.
        let f = RowEmitter.feedNames.firstIndex(of: feed)!
        for (k, c) in layouts[f].enumerated() {
            if k > 0 { current.append(UInt8(ascii: ",")) }
            switch c {
            case .id: field(id)
            case .tag: field(Array(tag.utf8))
            case .value: if raw { current.append(contentsOf: value) } else { field(value) }
            case .asOf: field(asOf)
            case .extra: field(Array("x".utf8))
            }
        }
        if extraField { current.append(contentsOf: Array(",surplus".utf8)) }
        end(f)
    }

    static func money(_ fen: Int64, style: Int) -> [UInt8] {
        if fen % 100 == 0 && style % 3 != 0 { return Array(String(fen / 100).utf8) }
        if fen % 10 == 0 && style % 3 == 1 { return Array("\(fen / 100).\(fen % 100 / 10)".utf8) }
        return Array(Money.format(fen: fen).utf8)
    }

    static func idText(_ id: IDNumber, fifteen: Bool = false, lowerX: Bool = false) -> [UInt8] {
        var s = Array(id.description.utf8)
        if fifteen {
            s = Array(s[0..<6]) + Array(s[8..<17])
        } else if lowerX && s[17] == UInt8(ascii: "X") {
            s[17] = UInt8(ascii: "x")
        }
        return s
    }

    /// A wrong check character for an otherwise valid number.
    static func badCheck(_ id: IDNumber) -> [UInt8] {
        var s = Array(id.description.utf8)
        s[17] = s[17] == UInt8(ascii: "1") ? UInt8(ascii: "2") : UInt8(ascii: "1")
        if IDNumber.parse(String(decoding: s, as: UTF8.self)).isValid { s[17] = UInt8(ascii: "3") }
        return s
    }

    mutating func household(_ h: Int) {
        let hh = world.household(h, day: day)
        let dirt = self.dirt(h)
        var rng = SplitMix64(world.seed, UInt64(h), 0xFEED)
        let popF = RowEmitter.feedIndex["population"]!
        let ids = hh.members.map { SampleWorld.idNumber(slot: $0.slot, birth: $0.birth, male: $0.male) }

        // Population rows.
        for (m, p) in hh.members.enumerated() {
            let id = ids[m]
            let year = p.birth.components.year
            let fifteen = year >= 1900 && year <= 1999 && rng.chance(3)
            var cols: [String: [UInt8]] = [:]
            cols["household_id"] = Array(hh.id.utf8)
            cols["note"] = rng.chance(2) ? Array("remark, with \"quotes\"".utf8) : []
            cols["id_number"] = RowEmitter.idText(id, fifteen: fifteen, lowerX: rng.chance(30))
            cols["name"] = nameBytes(&rng)
            cols["sex"] = Array((p.male ? "M" : "F").utf8)
            cols["birth_date"] = Array(p.birth.description.utf8)
            cols["relation"] = Array(p.relation.utf8)
            cols["hukou"] = Array((p.local ? "local" : "nonlocal").utf8)
            cols["district"] = Array(String(hh.district).utf8)
            cols["street"] = Array(String(hh.street).utf8)
            cols["community"] = Array(String(hh.community).utf8)
            var malformed = false
            if m == 0, let d = dirt {
                switch d {
                case .popMissingSex: cols["sex"] = []
                case .popBadCheck: cols["id_number"] = RowEmitter.badCheck(id)
                case .popBadBirthColumn: cols["birth_date"] = Array("2023-02-30".utf8)
                case .popBadRelation: cols["relation"] = Array("cousin".utf8)
                case .popBadHukou: cols["hukou"] = Array("foreign".utf8)
                case .popBadSex: cols["sex"] = Array("U".utf8)
                case .popBadCode:
                    cols["street"] = Array(String((hh.district == 310101 ? 310104 : 310101) * 1000 + 1).utf8)
                case .popBadHouseholdID: cols["household_id"] = Array("H#\(h)".utf8)
                case .popMalformed: malformed = true
                case .popSexMismatch: cols["sex"] = Array((p.male ? "F" : "M").utf8)
                case .popBirthMismatch: cols["birth_date"] = Array(p.birth.adding(days: 1).description.utf8)
                default: break
                }
            }
            popRow(cols, malformed: malformed)
            if m == 0 && dirt == .popDuplicate {
                // The same person delivered again in another household: both rows are refused.
                cols["household_id"] = Array("H\(h)D".utf8)
                popRow(cols, malformed: false)
            }
        }
        if dirt == .popFutureBirth {
            let born = asOf.adding(days: 1)
            let id = SampleWorld.idNumber(slot: hh.members[0].slot + 7, birth: born, male: true)
            popRow(
                [
                    "household_id": Array(hh.id.utf8), "note": [], "id_number": RowEmitter.idText(id),
                    "name": nameBytes(&rng),
                    "sex": Array("M".utf8), "birth_date": Array(born.description.utf8), "relation": Array("child".utf8),
                    "hukou": Array("local".utf8), "district": Array(String(hh.district).utf8),
                    "street": Array(String(hh.street).utf8),
                    "community": Array(String(hh.community).utf8),
                ], malformed: false)
        }
        _ = popF

        // Tag rows.
        for (m, p) in hh.members.enumerated() {
            let idText = RowEmitter.idText(
                ids[m], fifteen: rng.chance(0.5) && p.birth.components.year < 2000 && p.birth.components.year >= 1900,
                lowerX: rng.chance(30))
            var emit = TagWriter(emitter: self, id: idText, person: p, world: world, day: day, feedAsOf: asOf, rng: rng)
            // The writer's copy is now the only one: its buffers grow in place (a second
            // reference would copy the whole chunk's buffers on the next append).
            buffers = []
            current = []
            emit.all()
            self = emit.emitter
            rng = emit.rng
        }
        if let d = dirt, d.rawValue >= Dirt.tagMalformed.rawValue {
            plantTagDirt(d, hh: hh, ids: ids, rng: &rng)
        }
    }

    mutating func popRow(_ cols: [String: [UInt8]], malformed: Bool) {
        let f = RowEmitter.feedIndex["population"]!
        for (k, c) in SampleGenerator.formats[f].columns.enumerated() {
            if k > 0 { current.append(UInt8(ascii: ",")) }
            field(cols[c] ?? [])
        }
        if malformed { current.append(contentsOf: Array(",extra".utf8)) }
        end(f)
    }

    func nameBytes(_ rng: inout SplitMix64) -> [UInt8] {
        if rng.chance(1) {
            // names that need quoting: comma, quote, line break
            let specials: [[UInt8]] = [
                names.familyGB[0] + Array(", ".utf8) + names.givenGB[3],
                Array("O'Neil, \"Jr\"".utf8),
                names.familyGB[4] + [10] + names.givenGB[7],
            ]
            return specials[rng.below(specials.count)]
        }
        if rng.chance(0.3) { return [] }
        var out = names.familyGB[rng.below(names.familyGB.count)]
        for _ in 0..<rng.range(1, 2) { out += names.givenGB[rng.below(names.givenGB.count)] }
        return out
    }

    mutating func plantTagDirt(_ d: Dirt, hh: SampleHousehold, ids: [IDNumber], rng: inout SplitMix64) {
        let id = RowEmitter.idText(ids[0])
        let a = asOfText
        switch d {
        case .tagMalformed:
            tagRow("tax", id: id, tag: "income.other", value: Array("100".utf8), asOf: a, extraField: true)
        case .tagBareQuote: tagRow("tax", id: id, tag: "income.other", value: Array("10\"0".utf8), asOf: a, raw: true)
        case .tagMissingValue: tagRow("hr", id: id, tag: "income.wage", value: [], asOf: a)
        case .tagBadID:
            tagRow(
                "medical", id: RowEmitter.badCheck(ids[0]), tag: "medical.oop_12m", value: Array("10.00".utf8), asOf: a)
        case .tagUnknownPerson:
            let stranger = SampleWorld.idNumber(
                slot: households * 8 + hh.index, birth: CivilDate(year: 1970, month: 1, day: 1)!, male: true)
            tagRow(
                "verification", id: RowEmitter.idText(stranger), tag: "assets.financial", value: Array("100.00".utf8),
                asOf: a)
        case .tagBadAsOf:
            tagRow("health", id: id, tag: "care.level", value: Array("1".utf8), asOf: Array("2026-02-30".utf8))
        case .tagFutureAsOf:
            tagRow(
                "housing", id: id, tag: "housing.units_owned", value: Array("1".utf8),
                asOf: Array(asOf.adding(days: 3).description.utf8))
        case .tagUnknownTag: tagRow("civil", id: id, tag: "no.such_tag", value: Array("1".utf8), asOf: a)
        case .tagForeignTag: tagRow("hr", id: id, tag: "civil.lives_alone", value: Array("true".utf8), asOf: a)
        case .tagBadMoney:
            tagRow("verification", id: id, tag: "assets.financial", value: Array("1,000.00".utf8), asOf: a)
        case .tagBadBool:
            tagRow("community", id: id, tag: "community.hardship_reported", value: Array("yes".utf8), asOf: a)
        case .tagBadEnum: tagRow("education", id: id, tag: "education.stage", value: Array("Primary".utf8), asOf: a)
        case .tagNegativeMoney: tagRow("medical", id: id, tag: "medical.oop_12m", value: Array("-5.00".utf8), asOf: a)
        case .tagIntOutOfRange: tagRow("disability", id: id, tag: "disability.grade", value: Array("7".utf8), asOf: a)
        case .tagConflict:
            // Two rows on the same latest date that disagree: the tag becomes unknown.
            let day = Array(asOf.description.utf8)
            tagRow("verification", id: id, tag: "assets.vehicles", value: Array("0".utf8), asOf: day)
            tagRow("verification", id: id, tag: "assets.vehicles", value: Array("1".utf8), asOf: day)
        default: break
        }
    }
}

extension IDNumber.Parsed {
    var isValid: Bool { if case .valid = self { return true } else { return false } }
}

/// Writes one person's tag rows for every feed: current values, some history.
struct TagWriter {
    var emitter: RowEmitter
    let id: [UInt8]
    let person: SamplePerson
    let world: SampleWorld
    let day: Int
    let feedAsOf: CivilDate
    var rng: SplitMix64

    /// A fact's as_of: stable across days unless it changed on a later day.
    func asOf(_ feed: String, _ tag: String) -> CivilDate {
        if let d = person.changedOn[feed], d > 0 { return world.date(d).adding(days: -1) }
        var r = SplitMix64(world.seed, UInt64(person.slot), UInt64(truncatingIfNeeded: tag.hashValueStable))
        return world.date(0).adding(days: -1 - r.below(world.knobs.historyDays + 1))
    }

    mutating func put(_ feed: String, _ tag: String, _ value: [UInt8], history: [UInt8]? = nil) {
        let d = asOf(feed, tag)
        if let old = history, rng.chance(12) {
            // an older row with another value: the latest one wins
            emitter.tagRow(
                feed, id: id, tag: tag, value: old, asOf: Array(d.adding(days: -rng.range(1, 60)).description.utf8))
        }
        emitter.tagRow(feed, id: id, tag: tag, value: value, asOf: Array(d.description.utf8))
    }

    static func b(_ s: String) -> [UInt8] { Array(s.utf8) }
    func bool(_ v: Bool, _ style: Bool) -> [UInt8] {
        style ? (v ? TagWriter.b("1") : TagWriter.b("0")) : (v ? TagWriter.b("true") : TagWriter.b("false"))
    }

    mutating func all() {
        let p = person
        let style = rng.below(6)
        let age = p.birth.age(on: world.date(day))
        if age >= 16 || p.status != "none" {
            put("hr", "employment.status", TagWriter.b(p.status), history: TagWriter.b("employed"))
        }
        if p.wage > 0 || p.status == "employed" {
            put(
                "hr", "income.wage", RowEmitter.money(p.wage, style: style),
                history: RowEmitter.money(p.wage + 50_000, style: style))
        }
        if p.pension > 0 { put("hr", "income.pension", RowEmitter.money(p.pension, style: style)) }
        if p.other > 0 { put("tax", "income.other", RowEmitter.money(p.other, style: style)) }
        if p.oop > 0 { put("medical", "medical.oop_12m", RowEmitter.money(p.oop, style: style)) }
        if p.inpatient > 0 { put("medical", "medical.inpatient_oop_12m", RowEmitter.money(p.inpatient, style: style)) }
        if p.serious || rng.chance(2) { put("medical", "medical.serious_illness", bool(p.serious, style == 0)) }
        if p.grade > 0 {
            put(
                "disability", "disability.grade", TagWriter.b(String(p.grade)),
                history: TagWriter.b(String(min(4, p.grade + 1))))
            put("disability", "disability.category", TagWriter.b(p.category))
        }
        if age >= 60 && (p.care > 0 || rng.chance(30)) { put("health", "care.level", TagWriter.b(String(p.care))) }
        if age >= 60 { put("civil", "civil.lives_alone", bool(p.livesAlone, style == 1)) }
        if let s = p.hasSupporter { put("civil", "civil.has_supporter", bool(s, style == 2)) }
        if let d = p.deceasedOn { put("civil", "civil.deceased_on", TagWriter.b(d.description)) }
        for r in p.receiving { put("civil", "receiving." + r, bool(true, style == 3)) }
        if p.stage != "none" { put("education", "education.stage", TagWriter.b(p.stage)) }
        if p.relation == "head" || p.units > 0 { put("housing", "housing.units_owned", TagWriter.b(String(p.units))) }
        if let a = p.area { put("housing", "housing.area_m2", RowEmitter.money(a, style: style)) }
        if p.publicRental { put("housing", "housing.public_rental", bool(true, style == 4)) }
        if let a = p.assets {
            put(
                "verification", "assets.financial", RowEmitter.money(a, style: style),
                history: RowEmitter.money(a + 1_000_000, style: style))
        }
        if p.vehicles > 0 { put("verification", "assets.vehicles", TagWriter.b(String(p.vehicles))) }
        if p.arrears > 0 { put("utilities", "utility.arrears_months", TagWriter.b(String(p.arrears))) }
        if p.hardship { put("community", "community.hardship_reported", bool(true, style == 5)) }
    }
}

extension String {
    /// A hash that is the same in every process (Swift's `hashValue` is seeded per run).
    var hashValueStable: UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for c in utf8 { h = (h ^ UInt64(c)) &* 0x100_0000_01b3 }
        return h
    }
}
