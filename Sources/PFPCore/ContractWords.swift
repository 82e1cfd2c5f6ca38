/// The judge of text taken from a delivery before it goes into a message.
///
/// A delivery is residents' data even when it is broken: a "header" may be a
/// resident's row, a file name or a manifest's field may hold a name, an ID
/// number or a phone number. So a message, a warning, a log line or a stored run
/// message shows delivered text only when this type says it may, and it says so
/// only for text that cannot be personal data: the contract's own words (column
/// and feed names, the words of file names) and near misses of them.
///
/// The judgement is a whitelist, not a search for personal data: a name in any
/// script, an ID number, a date, a phone number or an address is never a word
/// of the contract, so it is never shown, and no pattern has to recognise it.
public struct ContractWords: Sendable {
    /// The words, lower-cased, with `-` read as `_`.
    private let words: Set<String>
    /// The words in a stable order, for the nearest one.
    private let ordered: [String]

    /// Words that file names are commonly made of, besides the contract's words.
    public static let fileWords: Set<String> = [
        "csv", "tsv", "txt", "dat", "json", "manifest", "data", "export", "delivery", "feed",
        "part", "full", "daily", "snapshot", "final", "utf8", "utf", "gb18030", "gbk",
    ]

    public init<S: Sequence>(_ words: S) where S.Element == String {
        let normal = Set(words.map(ContractWords.normal))
        self.words = normal
        self.ordered = normal.sorted()
    }

    /// The contract word `text` spells (in any case, `-` for `_`), else nil.
    public func canonical(_ text: String) -> String? {
        guard ContractWords.isPlain(text) else { return nil }
        let t = ContractWords.normal(text)
        return words.contains(t) ? t : nil
    }

    /// The contract word that `text` misspells, when `text` may be shown beside it:
    /// plain lower-case ASCII of at least four characters, one edit away from the
    /// word (two for words of nine or more). Capitalised text is never taken for a
    /// near miss: that is the shape of a name in Latin script.
    public func nearMiss(_ text: String) -> String? {
        guard ContractWords.isPlain(text), text.utf8.count >= 4,
            !text.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") })
        else { return nil }
        let t = ContractWords.normal(text)
        guard !words.contains(t) else { return nil }
        let limit = t.utf8.count >= 9 ? 2 : 1
        for w in ordered
        where abs(w.utf8.count - t.utf8.count) <= limit
            && ContractWords.distance(Array(t.utf8), Array(w.utf8), atMost: limit) <= limit
        {
            return w
        }
        return nil
    }

    /// A file name as it may be shown: every part between `.`, `_` and `-` is a
    /// contract word, a common file word or a number of at most 8 digits
    /// (`population.csv`, `hr_20261123.csv`, `tax-part-2.csv.manifest.json`); nil otherwise.
    public func fileName(_ name: String) -> String? {
        guard ContractWords.isPlain(name), !name.hasPrefix(".") else { return nil }
        let parts = name.lowercased().split(whereSeparator: { $0 == "." || $0 == "_" || $0 == "-" })
        for p in parts {
            let isNumber = p.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            if isNumber ? p.utf8.count > 8 : !(words.contains(String(p)) || ContractWords.fileWords.contains(String(p)))
            {
                return nil
            }
        }
        return parts.isEmpty ? nil : name
    }

    /// ASCII letters, digits, `_`, `.` and `-`, 1 to 96 bytes, and no run of more
    /// than 8 digits (an ID number, a phone number or a long account number).
    static func isPlain(_ text: String) -> Bool {
        let u = text.utf8
        guard !u.isEmpty, u.count <= 96 else { return false }
        var digits = 0
        for c in u {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                digits += 1
                if digits > 8 { return false }
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
                digits = 0
            default:
                return false
            }
        }
        return true
    }

    static func normal(_ text: String) -> String {
        String(
            decoding: text.utf8.map { c -> UInt8 in
                if c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") { return c + 32 }
                return c == UInt8(ascii: "-") ? UInt8(ascii: "_") : c
            }, as: UTF8.self)
    }

    /// Levenshtein distance, or `atMost + 1` as soon as it must exceed `atMost`.
    public static func distance(_ a: [UInt8], _ b: [UInt8], atMost: Int) -> Int {
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            var rowMin = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                rowMin = min(rowMin, current[j])
            }
            if rowMin > atMost { return atMost + 1 }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
