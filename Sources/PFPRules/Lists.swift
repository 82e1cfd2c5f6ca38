import Foundation
import PFPCore
import PFPSchema

/// Where an entry is: the list's and the policy's positions in the rule files
/// (-1: a household list) and the member's slot (-1: the household).
public struct EntryPosition: Sendable {
    public var list: Int32
    public var policy: Int32
    public var slot: Int32
    public init(list: Int32, policy: Int32, slot: Int32) { self.list = list; self.policy = policy; self.slot = slot }
}

/// One list entry of the loaded household as `RuleSet.entries` finds it (what
/// `pfp test-rules` checks): where it is and its decision, made by
/// `EvalContext.decide(at:)` as the match stage makes it for publication.
public struct ListEntry {
    public var at: EntryPosition
    public var list: String
    /// The person for a person policy (person index), nil for household entries.
    public var person: Int32?
    public var policy: String?
    public var decision: EntryDecision
}

public extension RuleSet {
    /// The household list whose members are remembered for the next run (named by `after`).
    var rememberedList: String? { lists.compactMap(\.after).first }

    /// Every list entry of the loaded household, with amounts, failed criteria and
    /// unknown facts (the context needs a tracer for unknown facts) or reason codes.
    /// `wasOnAfterList` says whether it was on the previous run's list that `after`
    /// names. Which entries there are comes from `EvalContext.entryPositions`, as in
    /// the match stage.
    /// `events`: the household's outreach events; an entry they hold back is on
    /// the list that holds its list's entries (as in the match stage).
    func entries(_ c: EvalContext, wasOnAfterList: Bool, events: [OutreachEvent] = []) -> [ListEntry] {
        var positions: [EntryPosition] = []
        c.entryPositions(wasOnAfterList: wasOnAfterList, into: &positions)
        if !events.isEmpty {
            hold(&positions, ctx: c, holders: holders) { person, policy in
                outreach.deciding(among: events, person: person, policy: policies[policy].id)
            }
        }
        return positions.map { at in
            ListEntry(
                at: at, list: lists[Int(at.list)].id, person: at.slot >= 0 ? c.member(Int(at.slot)) : nil,
                policy: at.policy >= 0 ? policies[Int(at.policy)].id : nil, decision: c.decide(at: at))
        }
    }

    /// `tag@ID`: which tag of which member is unknown.
    func factCode(_ f: Tracer.Fact) -> String { "\(catalogue.tags[f.tag].name)@\(IDNumber(key: f.person))" }
}

/// How sure a decision is: eligible is confirmed, unknown is to_verify, false is
/// not_eligible (`none` where a list has no certainty).
public enum Certainty: UInt8, Sendable {
    case none, confirmed, toVerify, notEligible

    public init(_ eligibility: Val) {
        self = eligibility.truth == true ? .confirmed : (eligibility.isUnknown ? .toVerify : .notEligible)
    }
    /// Back from `text` (stored results).
    public init(text: String) {
        switch text {
        case "confirmed": self = .confirmed
        case "to_verify": self = .toVerify
        case "not_eligible": self = .notEligible
        default: self = .none
        }
    }
    /// The word the lists and explanations publish.
    public var text: String {
        switch self {
        case .none: return ""
        case .confirmed: return "confirmed"
        case .toVerify: return "to_verify"
        case .notEligible: return "not_eligible"
        }
    }
}

/// A policy's decision for the loaded household (or one member): what the lists
/// publish and explanations show.
public struct PolicyDecision {
    public var certainty: Certainty
    public var amount: Int?
    /// Every criterion's result, in the order of the rule file.
    public var criteria: [(code: String, value: Val)]
    /// Codes of the criteria that are false, sorted.
    public var failedCriteria: [String]
    /// `tag@ID` of every unknown fact the decision rests on, sorted (empty without a tracer).
    public var unknownFacts: [String]

    /// The codes a published entry lists: failed criteria when not eligible, unknown facts otherwise.
    public var codes: [String] { certainty == .notEligible ? failedCriteria : unknownFacts }
}

/// One list entry's decision: what its list publishes and its explanation shows.
/// Made by one function, `EvalContext.decide(at:)`, for the match stage (which
/// publishes it), the rule tests and `pfp explain`.
public struct EntryDecision {
    /// `none` on a household list.
    public var certainty: Certainty
    public var amount: Int?
    /// The codes the entry publishes: for a policy, its unknown facts (to verify) or
    /// failed criteria (not eligible), none when confirmed; for a household list,
    /// the reasons or triggers that hold, sorted.
    public var codes: [String]
    /// A policy's decision in full (every criterion, failed criteria and unknown
    /// facts both); nil on a household list.
    public var policy: PolicyDecision?
    /// Every reason's or trigger's result, in the rule file's order (household lists).
    public var reasons: [(code: String, value: Val)]

    /// Every criterion's result, in the rule file's order (policies).
    public var criteria: [(code: String, value: Val)] { policy?.criteria ?? [] }

    /// The amount where the policy holds or may hold; none where it does not (an
    /// amount computed for a policy that does not hold means nothing to a reader).
    public var amountIfEligible: Int? { certainty == .notEligible ? nil : amount }
}

public extension EvalContext {
    /// The decision of the entry at a position of the loaded household.
    func decide(at e: EntryPosition) -> EntryDecision {
        if e.policy >= 0 { return decide(policy: rules.policies[Int(e.policy)], slot: e.slot >= 0 ? Int(e.slot) : nil) }
        return decide(list: rules.lists[Int(e.list)])
    }

    /// A policy's decision as an entry of its lists would carry it.
    func decide(policy p: PolicyInfo, slot: Int?) -> EntryDecision {
        let d = decide(p, slot: slot)
        return EntryDecision(
            certainty: d.certainty, amount: d.amount, codes: d.certainty == .confirmed ? [] : d.codes,
            policy: d, reasons: [])
    }

    /// A household list's decision: which reasons or triggers hold.
    func decide(list l: ListInfo) -> EntryDecision {
        let values = listReasonValues(l)
        return EntryDecision(
            certainty: .none, amount: nil, codes: values.filter { $0.value == .bool(true) }.map(\.code).sorted(),
            policy: nil, reasons: values)
    }

    /// Decides a policy: eligibility, amount, criteria, failed criteria and unknown facts.
    func decide(_ p: PolicyInfo, slot: Int?) -> PolicyDecision {
        let el = eligible(p, slot: slot)
        let amount = self.amount(p, slot: slot)
        let crit = criteria(p, slot: slot)
        var facts: Set<Tracer.Fact> = []
        if let tracer {
            for (_, v) in crit { if case .unknown(let id) = v { facts.formUnion(tracer.facts(id)) } }
            // has()/eligible() of another policy contribute their own unknown facts
            if case .unknown(let id) = el { facts.formUnion(tracer.facts(id)) }
        }
        return PolicyDecision(
            certainty: Certainty(el), amount: amount, criteria: crit,
            failedCriteria: crit.filter { $0.value == .bool(false) }.map(\.code).sorted(),
            unknownFacts: facts.map(rules.factCode).sorted())
    }
}
