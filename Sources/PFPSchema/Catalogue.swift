import Foundation
import PFPCore

/// The type of a tag's value (feeds.md, tag catalogue). Values are held as `Int64`:
/// money in fen, ints as they are, bools 0/1, dates as days since 1970-01-01,
/// enums as the index of their word.
public enum TagType: Sendable, Equatable {
    case money
    case int(min: Int64, max: Int64)
    case bool
    case date
    case enumeration([String])

    public var name: String {
        switch self {
        case .money: return "money"
        case .int(let a, let b): return "int(\(a)..\(b))"
        case .bool: return "bool"
        case .date: return "date"
        case .enumeration(let w): return "enum(\(w.joined(separator: "|")))"
        }
    }

    /// The type without its bounds and words.
    public var kind: TagValueKind {
        switch self {
        case .money: return .money
        case .int: return .int
        case .bool: return .bool
        case .date: return .date
        case .enumeration: return .enumeration
        }
    }
}

/// What a person's tag is when no accepted row carries it.
public enum AbsentValue: Sendable, Equatable {
    case value(Int64)
    /// Known to have no value (not disabled, not deceased).
    case none
    /// Not known; never read as zero.
    case unknown
}

public struct TagDef: Sendable {
    public var index: Int
    public var name: String
    public var feed: String
    public var type: TagType
    public var absent: AbsentValue
    public var label: String
    /// For `receiving.<policy>` tags, the policy id.
    public var policy: String?
}

public enum ParsedValue: Equatable, Sendable {
    case value(Int64)
    case bad
    case outOfRange
}

extension TagDef {
    /// Parses a delivered value as this tag's type (feeds.md, "value must parse as").
    public func parse(_ b: UnsafeRawBufferPointer) -> ParsedValue {
        switch type {
        case .money: return ParsedValue.parse(.money, lo: 0, hi: 0, words: [], b)
        case .int(let lo, let hi): return ParsedValue.parse(.int, lo: lo, hi: hi, words: [], b)
        case .bool: return ParsedValue.parse(.bool, lo: 0, hi: 0, words: [], b)
        case .date: return ParsedValue.parse(.date, lo: 0, hi: 0, words: [], b)
        case .enumeration(let w):
            return ParsedValue.parse(.enumeration, lo: 0, hi: 0, words: w.map { Array($0.utf8) }, b)
        }
    }

    /// The value as text, the way a department would write it.
    public func format(_ v: Int64) -> String {
        switch type {
        case .money: return Money.format(fen: v)
        case .int: return String(v)
        case .bool: return v != 0 ? "true" : "false"
        case .date: return CivilDate(days: Int32(v)).description
        case .enumeration(let w): return (v >= 0 && Int(v) < w.count) ? w[Int(v)] : "?"
        }
    }
}

public enum PolicyLevel: String, Sendable { case household, person }

public struct PolicyEntry: Sendable {
    public var id: String
    public var level: PolicyLevel
    public var name: String
}

/// `Pipelines/policies.catalogue`: the policies of this deployment.
public struct PolicyCatalogue: Sendable {
    public var policies: [PolicyEntry]

    public init(path: String) throws {
        var out: [PolicyEntry] = []
        for (lineNo, words) in try CatalogueText.lines(path) {
            guard words.count >= 2, let level = PolicyLevel(rawValue: words[1]) else {
                throw PipelineError.badInput(location: "\(path):\(lineNo):1", "expected 'id household|person name'")
            }
            guard CatalogueText.isIdentifier(words[0]) else {
                throw PipelineError.badInput(
                    location: "\(path):\(lineNo):1", "'\(words[0])' is not a valid policy id (letters, digits, _)")
            }
            if out.contains(where: { $0.id == words[0] }) {
                throw PipelineError.badInput(location: "\(path):\(lineNo):1", "policy '\(words[0])' is listed twice")
            }
            out.append(PolicyEntry(id: words[0], level: level, name: words.dropFirst(2).joined(separator: " ")))
        }
        policies = out
    }

    public init(policies: [PolicyEntry]) { self.policies = policies }
}

/// `Pipelines/tags.catalogue`: every tag a feed may deliver.
public struct TagCatalogue: Sendable {
    public var tags: [TagDef]
    private var byName: [String: Int]

    public init(tags: [TagDef]) {
        self.tags = tags
        var m: [String: Int] = [:]
        for t in tags { m[t.name] = t.index }
        byName = m
    }

    public init(path: String, policies: PolicyCatalogue) throws {
        var tags: [TagDef] = []
        for (lineNo, words) in try CatalogueText.lines(path) {
            let loc = "\(path):\(lineNo)"
            guard words.count >= 4 else {
                throw PipelineError.badInput(location: loc + ":1", "expected 'tag feed type absent [name]'")
            }
            let type = try TagCatalogue.parseType(words[2], location: loc)
            let absent: AbsentValue
            switch words[3] {
            case "-": absent = .none
            case "unknown": absent = .unknown
            default:
                var def = TagDef(index: 0, name: words[0], feed: words[1], type: type, absent: .none, label: "")
                def.absent = .none
                let s = words[3]
                let parsed = s.utf8.withContiguousStorageIfAvailable { def.parse(UnsafeRawBufferPointer($0)) } ?? .bad
                guard case .value(let v) = parsed else {
                    throw PipelineError.badInput(
                        location: loc, "absent value '\(s)' is not a \(type.name), '-' or 'unknown'")
                }
                absent = .value(v)
            }
            let label = words.dropFirst(4).joined(separator: " ")
            if words[0].hasSuffix(".<policy>") {
                let prefix = String(words[0].dropLast("<policy>".count))
                for p in policies.policies {
                    tags.append(
                        TagDef(
                            index: tags.count, name: prefix + p.id, feed: words[1], type: type, absent: absent,
                            label: label, policy: p.id))
                }
            } else {
                if tags.contains(where: { $0.name == words[0] }) {
                    throw PipelineError.badInput(location: loc, "tag '\(words[0])' is listed twice")
                }
                tags.append(
                    TagDef(index: tags.count, name: words[0], feed: words[1], type: type, absent: absent, label: label))
            }
        }
        guard tags.count <= TagCatalogue.maxTags else {
            throw PipelineError.badInput(
                location: path,
                "the catalogue defines \(tags.count) tags (receiving.<policy> counts once per policy); at most "
                    + "\(TagCatalogue.maxTags) are supported"
            )
        }
        self.init(tags: tags)
    }

    /// The ingest stage packs a tag's index into 6 bits of each observation.
    public static let maxTags = 64

    static func parseType(_ s: String, location: String) throws -> TagType {
        switch s {
        case "money": return .money
        case "bool": return .bool
        case "date": return .date
        default: break
        }
        if s.hasPrefix("int(") && s.hasSuffix(")") {
            let inner = s.dropFirst(4).dropLast()
            let parts = inner.components(separatedBy: "..")
            if parts.count == 2, let a = Int64(parts[0]), let b = Int64(parts[1]), a <= b {
                return .int(min: a, max: b)
            }
        }
        if s.hasPrefix("enum(") && s.hasSuffix(")") {
            let words = s.dropFirst(5).dropLast().split(separator: "|").map(String.init)
            if !words.isEmpty { return .enumeration(words) }
        }
        throw PipelineError.badInput(
            location: location, "unknown type '\(s)'; expected money, bool, date, int(MIN..MAX) or enum(a|b)")
    }

    public func index(of name: String) -> Int? { byName[name] }
    public subscript(name: String) -> TagDef? { byName[name].map { tags[$0] } }
    public func tags(ofFeed feed: String) -> [TagDef] { tags.filter { $0.feed == feed } }
}

/// Reads the whitespace-separated lines of a catalogue file, without comments.
enum CatalogueText {
    static func lines(_ path: String) throws -> [(Int, [String])] {
        guard FileIO.exists(path) else {
            throw PipelineError.badInput(
                location: path, "catalogue file not found",
                hint: "check the 'tags' and 'policies' settings of the pipeline configuration")
        }
        let text = try FileIO.readText(path)
        var out: [(Int, [String])] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(raw)
            if let h = line.firstIndex(of: "#") { line = line[..<h] }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if !words.isEmpty { out.append((i + 1, words)) }
        }
        return out
    }

    static func isIdentifier(_ s: String) -> Bool {
        !s.isEmpty
            && s.utf8.allSatisfy {
                ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z"))
                    || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z"))
                    || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "_")
            }
    }
}

/// A tag type without its bounds and words: what the value parser switches on.
public enum TagValueKind: UInt8, Sendable { case money, int, bool, date, enumeration }

extension ParsedValue {
    /// The one parser of delivered values, by type.
    @inlinable
    public static func parse(
        _ kind: TagValueKind, lo: Int64, hi: Int64, words: [[UInt8]], _ b: UnsafeRawBufferPointer
    ) -> ParsedValue {
        switch kind {
        case .money:
            switch Money.parseFen(b) {
            case .value(let v): return .value(v)
            case .malformed: return .bad
            case .outOfRange: return .outOfRange
            }
        case .int:
            var i = 0
            var neg = false
            if b.count > 0 && b[0] == UInt8(ascii: "-") { neg = true; i = 1 }
            if i == b.count { return .bad }
            var v: Int64 = 0
            var overflow = false
            while i < b.count {
                let d = b[i] &- UInt8(ascii: "0")
                if d > 9 { return .bad }
                if v > (Int64.max - 9) / 10 { overflow = true } else { v = v * 10 + Int64(d) }
                i += 1
            }
            if overflow { return .outOfRange }
            if neg { v = -v }
            return (v < lo || v > hi) ? .outOfRange : .value(v)
        case .bool:
            if b.count == 1 {
                if b[0] == UInt8(ascii: "1") { return .value(1) }
                if b[0] == UInt8(ascii: "0") { return .value(0) }
                return .bad
            }
            if b.count == 4 && memcmp(b.baseAddress!, "true", 4) == 0 { return .value(1) }
            if b.count == 5 && memcmp(b.baseAddress!, "false", 5) == 0 { return .value(0) }
            return .bad
        case .date:
            if let d = CivilDate.parse(b) { return .value(Int64(d.days)) }
            return .bad
        case .enumeration:
            for i in 0..<words.count where words[i].count == b.count {
                if b.count == 0 || words[i].withUnsafeBytes({ memcmp($0.baseAddress!, b.baseAddress!, b.count) }) == 0 {
                    return .value(Int64(i))
                }
            }
            return .bad
        }
    }
}
