import PFPCore
import PFPSchema
import PFPRules

/// A list entry ready for publication. Plain numbers only (no text, no reference
/// counts): at city scale there are millions, and they are copied, stored and
/// grouped; `MatchResult` turns them into text. Its explanation is in the match
/// stage's `explain.jsonl`.
public struct PublishedEntry: Sendable {
    // Stored widest first: 64 bytes an entry, not the 72 of the order the
    // initializer takes them in (8-byte fields after 1-byte ones are padded); at
    // city scale a run and a what-if hold millions.
    /// The person's ID key; 0 for an entry of the household.
    public var personKey: UInt64
    /// Whole yuan; `Int64.min` for none.
    public var amountValue: Int64
    public var community: Int64
    /// The list's index in the rule files' order.
    public var list: Int32
    /// Index into `MatchResult.householdIDs`.
    public var household: Int32
    /// Index into `MatchResult.policyIDs`; -1 for a household list.
    public var policy: Int32
    /// The entry's codes: `MatchResult.codes[codeStart ..< codeStart + codeCount]`
    /// (unknown_facts, failed_criteria, reasons or triggers).
    public var codeStart: Int32
    public var codeCount: Int32
    public var district: Int32
    public var street: Int32
    /// The deciding event's date (days since 1970-01-01).
    public var outcomeDate: Int32 = 0
    /// For an entry held back: the first run date it may return (`outcomeDate` + cooling-off).
    public var until: Int32 = 0
    public var certainty: Certainty
    public var status: EntryStatus
    /// The deciding outreach event's outcome (`Outcome` raw value), `noOutcome` without one.
    public var outcome: UInt8 = PublishedEntry.noOutcome

    public init(
        list: Int32, household: Int32, policy: Int32, certainty: Certainty, status: EntryStatus, personKey: UInt64,
        amountValue: Int64, codeStart: Int32, codeCount: Int32, district: Int32, street: Int32, community: Int64,
        outcome: UInt8 = PublishedEntry.noOutcome, outcomeDate: Int32 = 0, until: Int32 = 0
    ) {
        self.personKey = personKey
        self.amountValue = amountValue
        self.community = community
        self.list = list
        self.household = household
        self.policy = policy
        self.codeStart = codeStart
        self.codeCount = codeCount
        self.district = district
        self.street = street
        self.outcomeDate = outcomeDate
        self.until = until
        self.certainty = certainty
        self.status = status
        self.outcome = outcome
    }

    public static let noOutcome = UInt8.max
    /// The outcomes' codes as UTF-8, by raw value.
    public static let outcomeUTF8: [[UInt8]] = Outcome.allCases.map { Array($0.code.utf8) }

    public var amount: Int? { amountValue == Int64.min ? nil : Int(amountValue) }

    /// The words of `certainty` and `status` as UTF-8, by raw value (made once: the
    /// lists and the stored result write them for every entry).
    public static let certaintyUTF8: [[UInt8]] = (0...UInt8.max).map {
        Array((Certainty(rawValue: $0)?.text ?? "").utf8)
    }
    public static let statusUTF8: [[UInt8]] = (0...UInt8.max).map {
        Array((EntryStatus(rawValue: $0)?.text ?? "").utf8)
    }

    public enum EntryStatus: UInt8, Sendable {
        case none, new, `repeat`
        public var text: String {
            switch self {
            case .none: return ""
            case .new: return "new"
            case .repeat: return "repeat"
            }
        }
        public init(text: String) { self = text == "new" ? .new : (text == "repeat" ? .repeat : .none) }
    }
}

public struct MatchResult {
    /// List by list (rule order), each in its file's order.
    public var entries: [PublishedEntry]
    /// Names the entries' numbers stand for.
    public var listIDs: [String]
    public var householdIDs: [String]
    public var policyIDs: [String]
    public var codes: [String]
    /// The codes of entries whose `codeStart` is past `codes` (counted on from its
    /// end): a what-if's result keeps the published result's array as it is, not a
    /// copy with its own codes added.
    public var codesAfter: [String] = []
    /// explain.jsonl, written by the match stage while it evaluates, in the order of the entries.
    public var explainPath: String? = nil
    public var explainRows = 0
    /// The file's sha256 and size.
    public var explainSHA = ""
    public var explainBytes = 0
    public var state: RunState
    public var households: Int
    public var people: Int
    /// The outreach events of the run, counted (empty without the feed).
    public var outreach = OutreachSummary()

    public func list(_ e: PublishedEntry) -> String { listIDs[Int(e.list)] }
    public func householdID(_ e: PublishedEntry) -> String { householdIDs[Int(e.household)] }
    public func personID(_ e: PublishedEntry) -> String {
        e.personKey == 0 ? "" : IDNumber(key: e.personKey).description
    }
    public func policy(_ e: PublishedEntry) -> String { e.policy < 0 ? "" : policyIDs[Int(e.policy)] }
    public func codes(_ e: PublishedEntry) -> ArraySlice<String> {
        let start = Int(e.codeStart)
        if start < codes.count { return codes[start..<start + Int(e.codeCount)] }
        let after = start - codes.count
        return codesAfter[after..<after + Int(e.codeCount)]
    }
}

extension ArraySlice where Element == PublishedEntry {
    /// The first index whose entry's household is `h` or a later one (the slice in
    /// household order, as a list's entries are).
    public func firstIndex(ofHouseholdFrom h: Int32) -> Int {
        var lo = startIndex, hi = endIndex
        while lo < hi {
            let mid = (lo + hi) / 2
            if self[mid].household < h { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The indexes of household `h`'s entries (the slice in household order).
    public func indexes(ofHousehold h: Int32) -> Range<Int> {
        let lo = firstIndex(ofHouseholdFrom: h)
        return lo..<(h == Int32.max ? endIndex : firstIndex(ofHouseholdFrom: h + 1))
    }

    /// The first index whose entry's list is after list `l` (the slice in list order,
    /// as a run's entries are): found by halving, no entry read on the way.
    public func firstIndex(ofListAfter l: Int32) -> Int {
        var lo = startIndex, hi = endIndex
        while lo < hi {
            let mid = (lo + hi) / 2
            if self[mid].list <= l { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
