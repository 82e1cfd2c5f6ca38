import Foundation
import PFPCore
import PFPSchema
import PFPFormats
import PFPIngest
import PFPRules
import PFPMatch

/// `pfp explain`: why a household (or one of its people) is or is not on a list,
/// recomputed from the stored ingest result with the rules of that run date.
package struct ExplainRequest: Sendable {
    package var options: RunOptions
    package var household: String
    package var policy: String?
    package var json: Bool
    package init(options: RunOptions, household: String, policy: String?, json: Bool) {
        self.options = options; self.household = household; self.policy = policy; self.json = json
    }
}

package enum ExplainCommand {
    package static func run(_ req: ExplainRequest) throws -> String {
        let r = try ResolvedRun(req.options)
        let stored = try StoredRun(r)
        let store = stored.store, registry = stored.registry
        let data = try IngestResult.load(from: store, runDate: r.runDate)
        let rules = try stored.rules()
        guard let h = data.householdIDs.firstIndex(of: req.household) else {
            throw PipelineError.badInput(
                location: req.household,
                "no household with this id in the run of \(r.runDate) (it may have been rejected: see rejects.csv)")
        }
        var policies = rules.policies
        if let p = req.policy {
            guard let pi = rules.policy(p) else {
                throw PipelineError.usage(
                    "unknown policy '\(p)'; policies: \(rules.policies.map(\.id).joined(separator: ", "))")
            }
            policies = [pi]
        }
        let prevDate = try registry.previousSuccessful(before: r.runDate)
        let previous = try prevDate.flatMap { try RunState.load(from: store, runDate: $0) }
        let prevHousehold = previous?.remembered(req.household)
        let lookup = ColumnIndex(keys: data.personID)
        let ctx = EvalContext(rules: rules, data: data.households)
        let fragments = ExplainFragments(rules: rules, runDate: r.runDate)
        ctx.setPersonLookup { lookup.find($0) }
        guard ctx.load(household: h, previous: prevHousehold) else {
            return "household \(req.household) has no living member on \(r.runDate): it is on no list\n"
        }
        // Every decision, each with its own trace; JSON and text are both written from it.
        var decisions: [ExplainedDecision] = []
        // The run's outreach events (kept with its ingest result): what they decide for a policy's entry.
        let outreach = try OutreachLookup(data: data, rules: rules)
        func note(_ subject: ExplainedDecision.Subject) -> OutreachNote? {
            guard let outreach, case .policy(let p, let personID) = subject else { return nil }
            let key = personID.isEmpty ? 0 : (IDNumber(stored: personID)?.key ?? 0)
            guard let e = outreach.deciding(household: h, person: key, policy: p.index) else { return nil }
            return OutreachNote(event: e, heldBack: outreach.holds(e), rules: rules.outreach)
        }
        func explained(_ subject: ExplainedDecision.Subject, _ decide: () -> EntryDecision) {
            let tracer = Tracer()
            ctx.tracer = tracer
            ctx.load(household: h, previous: prevHousehold)
            let d = decide()
            let n = note(subject)
            decisions.append(
                ExplainedDecision(
                    subject: subject, decision: d, reads: ExplanationReads(tracer: tracer, ctx: ctx),
                    json: json(subject, d, n, tracer), outreach: n))
            ctx.tracer = nil
        }
        func json(
            _ subject: ExplainedDecision.Subject, _ d: EntryDecision, _ note: OutreachNote?, _ tracer: Tracer
        ) -> String {
            let w = ByteWriter()
            switch subject {
            case .policy(let p, let personID):
                // Every decision of a policy, listed or not: "list" says "policy".
                Array("\"policy\"".utf8).withUnsafeBufferPointer { listJSON in
                    Explanation.bytes(
                        listJSON: listJSON, triggers: false, householdID: req.household, personID: personID,
                        policyJSON: fragments.policyName(p.index), certainty: d.certainty, amount: d.amountIfEligible,
                        codes: d.codes, status: "", criteria: d.criteria, reasons: [], outreach: note, tracer: tracer,
                        ctx: ctx, fragments: fragments, into: w)
                }
            case .list(let l):
                Explanation.bytes(
                    listJSON: fragments.listName(l.index), triggers: l.columns.contains(.triggers),
                    householdID: req.household, personID: "", policyJSON: nil, certainty: .none, amount: nil,
                    codes: d.codes, status: "", criteria: [], reasons: d.reasons, tracer: tracer, ctx: ctx,
                    fragments: fragments, into: w)
            }
            return String(decoding: w.out, as: UTF8.self)
        }
        for p in policies where p.skipped == nil {
            let slots: [Int?] = p.level == .household ? [nil] : (0..<ctx.memberCount).map { Optional($0) }
            for s in slots {
                let personID = s.map { ctx.personID(slot: $0).description } ?? ""
                explained(.policy(p, personID: personID)) { ctx.decide(policy: p, slot: s) }
            }
        }
        if req.policy == nil {
            for l in rules.lists where !l.perPolicy {
                if l.after != nil && prevHousehold == nil { continue }
                explained(.list(l)) { ctx.decide(list: l) }
            }
        }
        if req.json { return decisions.map(\.json).joined(separator: "\n") + "\n" }
        var out = "household \(req.household), run date \(r.runDate)\n"
        if let prevDate {
            out +=
                "previous run \(prevDate); on its \(rules.rememberedList ?? "remembered") list: "
                + "\(prevHousehold != nil ? "yes" : "no")\n"
        }
        for d in decisions { out += "\n" + d.text }
        return out
    }

    static func maskFact(_ f: String) -> String {
        let parts = f.split(separator: "@")
        return parts.count == 2 ? "\(parts[0])@\(IDNumber.mask(String(parts[1])))" : f
    }
}

/// One decision `pfp explain` shows: what it is about, the decision, what it read,
/// and its JSON (as explain.jsonl writes it).
struct ExplainedDecision {
    enum Subject {
        /// A policy for the household or one member (the ID number, empty for a household policy).
        case policy(PolicyInfo, personID: String)
        case list(ListInfo)
    }
    var subject: Subject
    var decision: EntryDecision
    var reads: ExplanationReads
    var json: String
    /// The deciding outreach event of the policy's entry, if any.
    var outreach: OutreachNote?

    /// The analyst's reading, ID numbers masked.
    var text: String {
        var out = ""
        let d = decision
        switch subject {
        case .policy(let p, let personID):
            let who = personID.isEmpty ? "" : " for \(IDNumber.mask(personID))"
            out += "\(p.id) \(p.label)\(who): \(d.certainty.text)"
            if let a = d.amountIfEligible { out += ", amount \(a) yuan" }
            out += "\n"
            if d.certainty == .toVerify, !d.codes.isEmpty {
                out += "  unknown facts: " + d.codes.map(ExplainCommand.maskFact).joined(separator: "; ") + "\n"
            }
            if d.certainty == .notEligible, !d.codes.isEmpty {
                out += "  failed: " + d.codes.joined(separator: "; ") + "\n"
            }
            out += "  criteria: " + d.criteria.map { "\($0.code)=\($0.value.truthWord)" }.joined(separator: "  ") + "\n"
            if let o = outreach {
                out +=
                    "  outreach: \(o.event.outcome.code) on \(CivilDate(days: o.event.date)) (\(o.event.channel.code))"
                if o.heldBack, let until = o.until, let c = o.cooling, let days = c.days {
                    out +=
                        ": held back from the push list until \(until) (\(c.parameter) = \(days) days"
                        + "\(c.from.map { " from \($0)" } ?? ""))"
                } else if o.cooling == nil {
                    out += ": never holds an entry back"
                } else if let until = o.until {
                    out += ": its cooling-off ended on \(until)"
                }
                out += "\n"
            }
        case .list(let l):
            out +=
                "list \(l.id) \(l.label): "
                + (d.codes.isEmpty ? "not listed" : "listed for " + d.codes.joined(separator: ";")) + "\n"
            out += "  reasons: " + d.reasons.map { "\($0.code)=\($0.value.truthWord)" }.joined(separator: "  ") + "\n"
        }
        let members = reads.members.map { IDNumber(key: $0).description }
        if !reads.tags.isEmpty {
            out += "  read:\n"
            for t in reads.tags {
                out += "    \(IDNumber.mask(members[t.member])) \(t.tag) = \(t.value)  (\(t.feed), \(t.asOf))\n"
            }
        }
        if !reads.values.isEmpty {
            out +=
                "  values: "
                + reads.values.map { v in
                    "\(v.name)\(v.member.map { "[" + IDNumber.mask(members[$0]) + "]" } ?? "")=\(v.value)"
                }.joined(separator: "  ") + "\n"
        }
        if !reads.parameters.isEmpty {
            out +=
                "  parameters: "
                + reads.parameters.map { p in
                    "\(p.id)=\(p.value) (\(p.from.map { "from \($0)" } ?? "no date"))"
                }.joined(separator: "  ") + "\n"
        }
        return out
    }
}
