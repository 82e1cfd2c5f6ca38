import Foundation
import PFPCore
import PFPIngest

/// One entry of one list, before publication.
public struct ListEntry: Sendable {
    public var list: String
    public var household: Int
    /// The person for a person policy (person index), nil for household entries.
    public var person: Int32?
    public var policy: String?
    /// confirmed or to_verify (push), nil otherwise.
    public var certainty: String?
    public var amount: Int?
    /// Reason or trigger codes (referral, watch, warning).
    public var reasons: [String] = []
    /// Failed criteria (review), unknown facts (push, to_verify).
    public var failedCriteria: [String] = []
    public var unknownFacts: [String] = []
}

public extension RuleSet {
    /// The household list whose members are remembered for the next run (named by `after`).
    var rememberedList: String? { lists.compactMap(\.after).first }

    /// Every list entry of the loaded household. `wasOnAfterList` says whether it
    /// was on the previous run's list that `after` names. With `detail`, entries
    /// carry amounts, failed criteria and unknown facts (the context needs a tracer
    /// for unknown facts).
    func entries(_ c: EvalContext, wasOnAfterList: Bool, detail: Bool = true) -> [ListEntry] {
        guard c.memberCount > 0 else { return [] }
        var out: [ListEntry] = []
        for l in lists {
            if l.perPolicy {
                for p in policies where p.skipped == nil {
                    if p.level == .household {
                        if case .bool(true) = c.listCondition(l, policy: p) {
                            out.append(entry(c, l, p, slot: nil, detail: detail))
                        }
                    } else {
                        for s in 0..<c.memberCount {
                            if case .bool(true) = c.listCondition(l, policy: p, slot: s) {
                                out.append(entry(c, l, p, slot: s, detail: detail))
                            }
                        }
                    }
                }
            } else {
                if l.after != nil && !wasOnAfterList { continue }
                let reasons = c.listReasons(l)
                if !reasons.isEmpty {
                    out.append(ListEntry(list: l.id, household: c.household, person: nil, policy: nil, reasons: reasons.sorted()))
                }
            }
        }
        return out
    }

    func entry(_ c: EvalContext, _ l: ListInfo, _ p: PolicyInfo, slot: Int?, detail: Bool) -> ListEntry {
        var e = ListEntry(list: l.id, household: c.household, person: slot.map { c.members[$0] }, policy: p.id)
        let el = c.eligible(p, slot: slot)
        e.certainty = el.truth == true ? "confirmed" : (el.isUnknown ? "to_verify" : "not_eligible")
        guard detail else { return e }
        e.amount = c.amount(p, slot: slot)
        let crit = c.criteria(p, slot: slot)
        e.failedCriteria = crit.filter { $0.value == .bool(false) }.map(\.code).sorted()
        if let tracer = c.tracer {
            var facts: Set<String> = []
            for (_, v) in crit { if case .unknown(let id) = v { for f in tracer.facts(id) { facts.insert(factCode(f)) } } }
            // has()/eligible() of another policy contribute their own unknown facts
            if case .unknown(let id) = el { for f in tracer.facts(id) { facts.insert(factCode(f)) } }
            e.unknownFacts = facts.sorted()
        }
        return e
    }

    /// `tag@ID`: which tag of which member is unknown.
    func factCode(_ f: Tracer.Fact) -> String { "\(catalogue.tags[f.tag].name)@\(IDNumber(key: f.person))" }
}
