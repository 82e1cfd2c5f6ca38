import Foundation
import PFPCore
import PFPIngest
import PFPRules
import PFPMatch

/// `pfp explain`: why a household (or one of its people) is or is not on a list,
/// recomputed from the stored ingest result with the rules of that run date.
public struct ExplainRequest {
    public var options: RunOptions
    public var household: String
    public var policy: String?
    public var json: Bool
    public init(options: RunOptions, household: String, policy: String?, json: Bool) {
        self.options = options; self.household = household; self.policy = policy; self.json = json
    }
}

public enum ExplainCommand {
    public static func run(_ req: ExplainRequest) throws -> String {
        let r = try ResolvedRun(req.options)
        guard FileIO.exists(r.dbPath) else {
            throw PipelineError.badInput(
                location: r.dbPath, "no database", hint: "run 'pfp run --run-date \(r.runDate)' first, or pass --db")
        }
        let (catalogue, policyCatalogue) = try r.config.loadCatalogue()
        let db = try Database(path: r.dbPath)
        let store = try StageStore(db: db)
        let registry = try RunRegistry(db: db)
        let data = try IngestResult.load(from: store, runDate: r.runDate)
        // Required feeds the run went without: the policies reading them were skipped.
        let unavailable = Set(
            try registry.feeds(runDate: r.runDate)
                .filter { $0.required && $0.status == FeedReport.Status.allowedMissing.rawValue }.map(\.feed))
        let rules = try RuleSet.load(
            directory: r.config.resolve(r.config.rulesPath), catalogue: catalogue, policyCatalogue: policyCatalogue,
            runDate: r.runDate, unavailableFeeds: unavailable,
            extraDigestFiles: [r.config.resolve(r.config.tagsPath), r.config.resolve(r.config.policiesPath)])
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
        let lookup = IDIndex(keys: data.personID)
        let ctx = EvalContext(rules: rules, data: data)
        let fragments = ExplainFragments(rules: rules, runDate: r.runDate)
        ctx.setPersonLookup { lookup.find($0) }
        guard ctx.load(household: h, previous: prevHousehold) else {
            return "household \(req.household) has no living member on \(r.runDate): it is on no list\n"
        }
        // Every decision, each with its own trace.
        var decisions: [String] = []
        for p in policies where p.skipped == nil {
            let slots: [Int?] = p.level == .household ? [nil] : (0..<ctx.memberCount).map { Optional($0) }
            for s in slots {
                let tracer = Tracer()
                ctx.tracer = tracer
                ctx.load(household: h, previous: prevHousehold)
                let d = ctx.decide(p, slot: s)
                let personID = s.map { ctx.personID(slot: $0).description } ?? ""
                let w = JSONBytes()
                // Every decision of a policy, listed or not: "list" says "policy".
                Array("\"policy\"".utf8).withUnsafeBufferPointer { listJSON in
                    Explanation.bytes(
                        listJSON: listJSON, triggers: false, householdID: req.household, personID: personID,
                        policyJSON: fragments.policyName(p.index),
                        certainty: d.certainty, amount: d.certainty == .notEligible ? nil : d.amount,
                        codes: d.certainty == .confirmed ? [] : d.codes, status: "",
                        criteria: d.criteria, reasons: [], tracer: tracer, ctx: ctx, fragments: fragments, into: w)
                }
                decisions.append(String(decoding: w.out, as: UTF8.self))
                ctx.tracer = nil
            }
        }
        if req.policy == nil {
            for l in rules.lists where !l.perPolicy {
                if l.after != nil && prevHousehold == nil { continue }
                let tracer = Tracer()
                ctx.tracer = tracer
                ctx.load(household: h, previous: prevHousehold)
                let vals = ctx.listReasonValues(l)
                let w = JSONBytes()
                Explanation.bytes(
                    listJSON: fragments.listName(l.index), triggers: l.columns.contains(.triggers),
                    householdID: req.household,
                    personID: "", policyJSON: nil, certainty: .none, amount: nil,
                    codes: vals.filter { $0.value == .bool(true) }.map(\.code).sorted(), status: "",
                    criteria: [], reasons: vals, tracer: tracer, ctx: ctx, fragments: fragments, into: w)
                decisions.append(String(decoding: w.out, as: UTF8.self))
                ctx.tracer = nil
            }
        }
        if req.json { return decisions.joined(separator: "\n") + "\n" }
        return text(
            decisions, rules: rules, household: req.household, date: r.runDate, previous: prevDate,
            onPreviousList: prevHousehold != nil)
    }

    /// The analyst's reading: one block per decision, IDs masked.
    static func text(
        _ decisions: [String], rules: RuleSet, household: String, date: CivilDate, previous: CivilDate?,
        onPreviousList: Bool
    ) -> String {
        var out = "household \(household), run date \(date)\n"
        if let previous {
            out +=
                "previous run \(previous); on its \(rules.rememberedList ?? "remembered") list: \(onPreviousList ? "yes" : "no")\n"
        }
        for d in decisions {
            guard let obj = JSON.parseObject(Array(d.utf8)) else { continue }
            out += "\n"
            let list = obj["list"] as? String ?? ""
            if let policy = obj["policy"] as? String, list == "policy" {
                let who = (obj["person_id"] as? String).flatMap { $0.isEmpty ? nil : IDNumber.mask($0) }
                let dec = obj["decision"] as? [String: Any] ?? [:]
                let label = rules.policy(policy)?.label ?? ""
                out += "\(policy) \(label)\(who.map { " for \($0)" } ?? ""): \(dec["certainty"] as? String ?? "")"
                if let a = dec["amount"] as? Int { out += ", amount \(a) yuan" }
                out += "\n"
                if let f = dec["unknown_facts"] as? [String], !f.isEmpty {
                    out += "  unknown facts: " + f.map(maskFact).joined(separator: "; ") + "\n"
                }
                if let f = dec["failed_criteria"] as? [String], !f.isEmpty {
                    out += "  failed: " + f.joined(separator: "; ") + "\n"
                }
                if let c = obj["criteria"] as? [String: Any] {
                    let order = rules.policy(policy)?.criterionCodes ?? Array(c.keys)
                    out +=
                        "  criteria: "
                        + order.compactMap { k in (c[k] as? String).map { "\(k)=\($0)" } }.joined(separator: "  ")
                        + "\n"
                }
            } else {
                let dec = obj["decision"] as? [String: Any] ?? [:]
                let codes = (dec["reasons"] as? [String]) ?? (dec["triggers"] as? [String]) ?? []
                out +=
                    "list \(list) \(rules.list(list)?.label ?? ""): "
                    + (codes.isEmpty ? "not listed" : "listed for " + codes.joined(separator: ";")) + "\n"
                if let c = obj["reasons"] as? [String: Any] {
                    let order = rules.list(list)?.reasonCodes ?? Array(c.keys)
                    out +=
                        "  reasons: "
                        + order.compactMap { k in (c[k] as? String).map { "\(k)=\($0)" } }.joined(separator: "  ")
                        + "\n"
                }
            }
            let members = (obj["members"] as? [String]) ?? []
            func member(_ x: Any) -> String {
                guard let i = x as? Int, i >= 0, i < members.count else { return "" }
                return IDNumber.mask(members[i])
            }
            if let tags = obj["tags"] as? [[Any]], !tags.isEmpty {
                out += "  read:\n"
                for t in tags where t.count == 5 {
                    let s = t.map { "\($0)" }
                    out +=
                        "    \(member(t[0])) \(s[1]) = \(s[2])  (\(s[3]), \(s[4].contains("-") ? "as of " + s[4] : s[4]))\n"
                }
            }
            if let vals = obj["values"] as? [[Any]], !vals.isEmpty {
                out +=
                    "  values: "
                    + vals.map { v -> String in
                        guard v.count == 3 else { return "" }
                        let m = member(v[1])
                        return "\(v[0])\(m.isEmpty ? "" : "[" + m + "]")=\(v[2])"
                    }.joined(separator: "  ") + "\n"
            }
            if let ps = obj["parameters"] as? [[Any]], !ps.isEmpty {
                out +=
                    "  parameters: "
                    + ps.map { p -> String in
                        let s = p.map { "\($0)" }
                        return s.count == 3 ? "\(s[0])=\(s[1]) (from \(s[2]))" : ""
                    }.joined(separator: "  ") + "\n"
            }
        }
        return out
    }

    static func maskFact(_ f: String) -> String {
        let parts = f.split(separator: "@")
        return parts.count == 2 ? "\(parts[0])@\(IDNumber.mask(String(parts[1])))" : f
    }
}
