import PFPCore

/// What happened after a push (outreach.md): the outcome codes of the advisers'
/// case system, in the contract's table order. Which outcome wins among events of
/// one date, and how long each holds an entry back, are rule data
/// (`Pipelines/rules/outreach.rules`), not this order.
public enum Outcome: UInt8, Spelled, Sendable {
    case attempted, unreachable, declined, dataError, applied, granted, denied, doNotContact

    public var code: String {
        switch self {
        case .attempted: return "attempted"
        case .unreachable: return "unreachable"
        case .declined: return "declined"
        case .dataError: return "data_error"
        case .applied: return "applied"
        case .granted: return "granted"
        case .denied: return "denied"
        case .doNotContact: return "do_not_contact"
        }
    }

    public var spelling: String { code }
}

/// How the adviser reached the household (outreach.md).
public enum Channel: UInt8, Spelled, Sendable {
    case phone, visit, message, letter, other

    public var code: String {
        switch self {
        case .phone: return "phone"
        case .visit: return "visit"
        case .message: return "message"
        case .letter: return "letter"
        case .other: return "other"
        }
    }

    public var spelling: String { code }
}

/// One accepted outreach row: whose entry (household, person, policy), what
/// happened, how and when. Ordered by household id (byte order), person, policy,
/// date, outcome, channel: the order the ingest stage keeps them in, each event
/// once.
public struct OutreachEvent: Sendable, Hashable, Comparable {
    public var household: String
    /// The person's ID key; 0 for a household policy's entry (or a household-wide row).
    public var person: UInt64
    /// The policy's id; empty for a household-wide `do_not_contact`.
    public var policy: String
    public var outcome: Outcome
    public var channel: Channel
    /// Days since 1970-01-01.
    public var date: Int32

    public init(household: String, person: UInt64, policy: String, outcome: Outcome, channel: Channel, date: Int32) {
        self.household = household
        self.person = person
        self.policy = policy
        self.outcome = outcome
        self.channel = channel
        self.date = date
    }

    public static func < (a: OutreachEvent, b: OutreachEvent) -> Bool {
        if a.household != b.household { return a.household.utf8.lexicographicallyPrecedes(b.household.utf8) }
        if a.person != b.person { return a.person < b.person }
        if a.policy != b.policy { return a.policy.utf8.lexicographicallyPrecedes(b.policy.utf8) }
        if a.date != b.date { return a.date < b.date }
        if a.outcome != b.outcome { return a.outcome.rawValue < b.outcome.rawValue }
        return a.channel.rawValue < b.channel.rawValue
    }
}
