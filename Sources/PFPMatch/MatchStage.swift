import Foundation
import PFPCore
import PFPIngest
import PFPRules
import PFPProfile

/// A list entry ready for publication: keys as text, routing codes, explanation.
public struct PublishedEntry: Sendable {
    public var list: String
    public var householdID: String
    public var personID: String
    public var policy: String
    public var certainty: String
    public var amount: Int?
    public var status: String
    public var codes: [String]      // unknown_facts (push), failed_criteria (review), reasons/triggers
    public var district: Int32
    public var street: Int32
    public var community: Int64
    public var explanation: String  // one JSON object, no line breaks
}

public struct MatchResult {
    public var entries: [PublishedEntry]
    public var state: RunState
    public var households: Int
    public var people: Int
}

/// The match stage: every policy and list for every household, in parallel chunks.
public struct MatchStage {
    public init() {}

    public func run(data: IngestResult, rules: RuleSet, profiles: HouseholdProfilesView?, previous: RunState?,
                    console: Console) -> MatchResult {
        let hCount = data.householdCount
        let chunk = 2048
        let chunks = (hCount + chunk - 1) / chunk
        var parts = [[PublishedEntry]](repeating: [], count: chunks)
        var remembered = [[(String, PreviousHousehold)]](repeating: [], count: chunks)
        var living = [Int](repeating: 0, count: chunks)
        let lookup = previous == nil ? nil : IDIndex(keys: data.personID)
        let target = rules.rememberedList
        parts.withUnsafeMutableBufferPointer { partBuf in
        remembered.withUnsafeMutableBufferPointer { remBuf in
        living.withUnsafeMutableBufferPointer { livBuf in
            Parallel.forEach(chunks) { c in
                let ctx = EvalContext(rules: rules, data: data)
                if let lookup { ctx.setPersonLookup { lookup.find($0) } }
                var out: [PublishedEntry] = []
                var rem: [(String, PreviousHousehold)] = []
                var n = 0
                for h in (c * chunk)..<min(hCount, (c + 1) * chunk) {
                    let hid = data.householdIDs[h]
                    let prev = previous?.remembered[hid]
                    guard ctx.load(household: h, previous: prev) else { continue }
                    n += 1
                    profiles?.seed(ctx)
                    let fast = rules.entries(ctx, wasOnAfterList: prev != nil, detail: false)
                    if let target, fast.contains(where: { $0.list == target }) { rem.append((hid, ctx.remember())) }
                    if fast.isEmpty { continue }
                    out += explainEntries(fast, ctx: ctx, previous: prev, previousState: previous)
                }
                partBuf[c] = out
                remBuf[c] = rem
                livBuf[c] = n
            }
        }}}
        var state = RunState(runDate: data.runDate)
        for part in remembered { for (k, v) in part { state.remembered[k] = v } }
        var entries = parts.flatMap { $0 }
        let listOrder = Dictionary(uniqueKeysWithValues: rules.lists.enumerated().map { ($1.id, $0) })
        entries.sort { a, b in
            if a.list != b.list { return listOrder[a.list]! < listOrder[b.list]! }
            if a.householdID != b.householdID { return a.householdID.utf8.lexicographicallyPrecedes(b.householdID.utf8) }
            if a.personID != b.personID { return a.personID.utf8.lexicographicallyPrecedes(b.personID.utf8) }
            return a.policy.utf8.lexicographicallyPrecedes(b.policy.utf8)
        }
        // Keys of lists with a status column, for the next run's new/repeat.
        let withStatus = Set(rules.lists.filter { $0.columns.contains(.status) }.map(\.id))
        for e in entries where withStatus.contains(e.list) {
            state.pushKeys.insert(RunState.pushKey(list: e.list, household: e.householdID, person: e.personID, policy: e.policy))
        }
        return MatchResult(entries: entries, state: state, households: living.reduce(0, +), people: data.member.reduce(0) { $0 + Int($1) })
    }

    /// Re-evaluates each entry with a fresh tracer: its amount, codes and explanation.
    func explainEntries(_ fast: [ListEntry], ctx: EvalContext, previous: PreviousHousehold?, previousState: RunState?) -> [PublishedEntry] {
        let rules = ctx.rules, data = ctx.data
        let h = ctx.household
        let head = Int(ctx.headPerson)
        var out: [PublishedEntry] = []
        for e in fast {
            let tracer = Tracer()
            ctx.tracer = tracer
            ctx.load(household: h, previous: previous)
            let slot = e.person.flatMap { p in (0..<ctx.memberCount).first { ctx.members[$0] == p } }
            var codes: [String] = []
            var certainty = "", amount: Int?
            var criteriaJSON: [(String, JSON)] = []
            var reasonsJSON: [(String, JSON)] = []
            if let pid = e.policy, let p = rules.policy(pid) {
                let el = ctx.eligible(p, slot: slot)
                certainty = el.truth == true ? "confirmed" : (el.isUnknown ? "to_verify" : "not_eligible")
                amount = ctx.amount(p, slot: slot)
                let crit = ctx.criteria(p, slot: slot)
                criteriaJSON = crit.map { ($0.code, .string(ctx.describe($0.value))) }
                if el.truth == false {
                    codes = crit.filter { $0.value == .bool(false) }.map(\.code).sorted()
                } else if el.isUnknown {
                    var facts: Set<String> = []
                    for (_, v) in crit { if case .unknown(let id) = v { for f in tracer.facts(id) { facts.insert(rules.factCode(f)) } } }
                    codes = facts.sorted()
                }
            } else if let l = rules.list(e.list) {
                let vals = ctx.listReasonValues(l)
                reasonsJSON = vals.map { ($0.code, .string(ctx.describe($0.value))) }
                codes = vals.filter { $0.value == .bool(true) }.map(\.code).sorted()
            }
            ctx.tracer = nil
            let hid = data.householdIDs[h]
            let personID = e.person.map { IDNumber(key: data.personID[Int($0)]).description } ?? ""
            var status = ""
            if rules.list(e.list)?.columns.contains(.status) == true {
                let key = RunState.pushKey(list: e.list, household: hid, person: personID, policy: e.policy ?? "")
                status = previousState?.pushKeys.contains(key) == true ? "repeat" : "new"
            }
            let explanation = Explanation.json(list: e.list, householdID: hid, personID: personID, policy: e.policy,
                                               certainty: certainty, amount: amount, codes: codes, status: status,
                                               criteria: criteriaJSON, reasons: reasonsJSON, tracer: tracer, ctx: ctx)
            out.append(PublishedEntry(list: e.list, householdID: hid, personID: personID, policy: e.policy ?? "",
                                      certainty: e.policy == nil ? "" : certainty, amount: amount, status: status, codes: codes,
                                      district: data.district[head], street: data.street[head], community: data.community[head],
                                      explanation: explanation))
        }
        ctx.load(household: h, previous: previous)
        return out
    }
}

/// Stored profile values, as the match stage seeds them into its evaluator.
public struct HouseholdProfilesView {
    let profiles: HouseholdProfiles
    let map: [Int]   // rules value index -> profile value index (-1: not stored)

    public init(_ p: HouseholdProfiles, rules: RuleSet) {
        profiles = p
        map = rules.values.map { v in p.valueIDs.firstIndex(of: v.id) ?? -1 }
    }

    func seed(_ ctx: EvalContext) {
        let h = ctx.household
        ctx.seed(household: { v in map[v.index] >= 0 ? profiles.value(map[v.index], entity: h) : nil },
                 person: { v, p in map[v.index] >= 0 ? profiles.value(map[v.index], entity: Int(p)) : nil })
    }
}

/// The explanation of one list entry (explain.jsonl and `pfp explain`): enough to
/// reproduce the decision. Compact tuples keep city-scale files small:
///
///     "tags":       [person_id, tag, value, feed, as_of | "absent" | "conflict" | "unavailable"]
///     "values":     [name, person_id or "", value]          (derived values of the rule files)
///     "parameters": [id, value, effective_from]
///     "criteria" / "reasons": {code: "true" | "false" | "unknown"}
public enum Explanation {
    public static func json(list: String, householdID: String, personID: String, policy: String?, certainty: String, amount: Int?,
                            codes: [String], status: String, criteria: [(String, JSON)], reasons: [(String, JSON)],
                            tracer: Tracer, ctx: EvalContext) -> String {
        let rules = ctx.rules
        var pairs: [(String, JSON)] = [("list", .string(list)), ("household_id", .string(householdID))]
        if let policy {
            pairs.append(("person_id", .string(personID)))
            pairs.append(("policy", .string(policy)))
            var decision: [(String, JSON)] = [("certainty", .string(certainty)), ("amount", amount.map { .int($0) } ?? .null)]
            decision.append((certainty == "not_eligible" ? "failed_criteria" : "unknown_facts", .array(codes.map { .string($0) })))
            if !status.isEmpty { decision.append(("status", .string(status))) }
            pairs.append(("decision", .object(decision)))
            pairs.append(("criteria", .object(criteria)))
        } else {
            let name = rules.list(list)?.columns.contains(.triggers) == true ? "triggers" : "reasons"
            pairs.append(("decision", .object([(name, .array(codes.map { .string($0) }))])))
            pairs.append(("reasons", .object(reasons)))
        }
        pairs.append(("tags", .array(tracer.tagReads.map { r in
            let t = rules.catalogue.tags[r.tag]
            let source: String = r.state == "delivered" ? (r.asOf?.description ?? "") : r.state
            return .array([.string(IDNumber(key: r.person).description), .string(t.name), .string(r.value), .string(t.feed), .string(source)])
        })))
        pairs.append(("values", .array(tracer.valuesRead.map { v in
            .array([.string(v.id), .string(v.person.map { IDNumber(key: $0).description } ?? ""), .string(ctx.describe(v.value))])
        })))
        pairs.append(("parameters", .array(tracer.parameters.sorted().map { id in
            let p = rules.parameters[id]!
            let value = p.isTable ? p.bands.map { "\($0.key): \($0.value)" }.joined(separator: ", ") : (p.value?.description ?? "none")
            return .array([.string(id), .string(value), p.from.map { .string($0.description) } ?? .null])
        })))
        pairs.append(("run_date", .string(ctx.data.runDate.description)))
        return JSON.object(pairs).serialized()
    }
}
