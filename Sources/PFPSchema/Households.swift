import PFPCore

/// Relation to the head of household (feeds.md).
public enum Relation: UInt8, CaseIterable, Sendable {
    case head, spouse, child, parent, grandchild, sibling, other

    public var word: String { Relation.texts[Int(rawValue)] }
    private static let texts = ["head", "spouse", "child", "parent", "grandchild", "sibling", "other"]
}

/// Household registration (feeds.md).
public enum Hukou: UInt8, Sendable {
    case local, nonlocal
    public var word: String { self == .local ? "local" : "nonlocal" }
}

/// The resolved value of one tag for the people who have a delivered row for it,
/// sorted by person index. People not listed have the tag's absent value.
public struct ResolvedTag: Sendable {
    public var person: Column<Int32> = []
    public var value: Column<Int64> = []
    public var asOf: Column<Int32> = []
    /// 1 where rows with the same latest `as_of` disagree: the value is unknown.
    public var conflict: Column<UInt8> = []

    public init() {}

    public init(person: Column<Int32>, value: Column<Int64>, asOf: Column<Int32>, conflict: Column<UInt8>) {
        self.person = person; self.value = value; self.asOf = asOf; self.conflict = conflict
    }

    /// Index into the arrays for a person, or nil when the tag is absent for them.
    public func find(_ p: Int32) -> Int? {
        var lo = 0, hi = person.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if person[mid] < p { lo = mid + 1 } else { hi = mid }
        }
        return lo < person.count && person[lo] == p ? lo : nil
    }
}

/// The people of the households to decide on, as columns, in household order
/// (household id, then ID number): what the rule engine reads of a household and
/// nothing else. The ingest stage makes it from a delivery; `pfp test-rules`
/// from a rule case. Arrays are shared, not copied.
public struct Households: Sendable {
    /// The person's ID number as its key (`IDNumber(key:)`).
    public var personID: Column<UInt64>
    /// Days since 1970-01-01.
    public var birth: Column<Int32>
    /// 1 male, 0 female.
    public var male: Column<UInt8>
    /// `Relation` raw values.
    public var relation: Column<UInt8>
    /// `Hukou` raw values.
    public var hukou: Column<UInt8>
    /// 0 for a person who died on or before the run date: not a member of any household.
    public var living: Column<UInt8>
    /// Index into `householdIDs` for each person.
    public var household: Column<Int32>
    /// Household ids in byte order.
    public var householdIDs: [String]
    /// Persons of household h are `householdStart[h] ..< householdStart[h+1]`.
    public var householdStart: Column<Int32>
    /// One entry per catalogue tag.
    public var tags: [ResolvedTag]
    /// 1 for the tags of a required feed the operator allowed to be missing: unknown for everyone.
    public var tagUnavailable: Column<UInt8>

    public init(
        personID: Column<UInt64>, birth: Column<Int32>, male: Column<UInt8>, relation: Column<UInt8>,
        hukou: Column<UInt8>, living: Column<UInt8>,
        household: Column<Int32>, householdIDs: [String], householdStart: Column<Int32>, tags: [ResolvedTag],
        tagUnavailable: Column<UInt8>
    ) {
        self.personID = personID
        self.birth = birth
        self.male = male
        self.relation = relation
        self.hukou = hukou
        self.living = living
        self.household = household
        self.householdIDs = householdIDs
        self.householdStart = householdStart
        self.tags = tags
        self.tagUnavailable = tagUnavailable
    }

    public var personCount: Int { personID.count }
    public var householdCount: Int { householdIDs.count }
}
