import Foundation
import PFPCore
import PFPIngest
import PFPRules
import PFPMatch

/// changes.jsonl: why each entry of changes.csv changed. The entry's decision is
/// made again under the published rules and under the reform's, each with its
/// trace (the same `EvalContext.decide` the match stage publishes), and the line
/// gives the criteria or reasons whose result flipped, the values read whose
/// value differs, and the parameters that differ, before and after.
struct WhatIfExplain {
    final class Side {
        let rules: RuleSet
        let ctx: EvalContext
        init(rules: RuleSet, data: IngestResult, lookup: IDIndex) {
            self.rules = rules
            ctx = EvalContext(rules: rules, data: data.households)
            ctx.setPersonLookup { lookup.find($0) }
        }
    }

    let data: IngestResult
    let previous: RunState?
    /// Each worker's evaluators (rules of its own, as the match stage's workers have).
    let before: [Side]
    let after: [Side]

    init(data: IngestResult, previous: RunState?, base: RuleSet, reform: RuleSet, workers: Int) throws {
        self.data = data
        self.previous = previous
        let lookup = IDIndex(keys: data.personID)
        before = try base.replicas(workers).map { Side(rules: $0, data: data, lookup: lookup) }
        after = try reform.replicas(workers).map { Side(rules: $0, data: data, lookup: lookup) }
    }

    /// Every row's line, in order, made in parallel pieces.
    func lines(_ rows: [WhatIfChanges.Row]) -> String {
        let piece = 256
        let pieces = (rows.count + piece - 1) / piece
        var parts = [String](repeating: "", count: pieces)
        parts.withUnsafeMutableBufferPointer { out in
            Parallel.forEach(pieces) { (worker: Int, k: Int) in
                var s = ""
                for r in rows[(k * piece)..<min(rows.count, (k + 1) * piece)] {
                    s += line(r, before: before[worker], after: after[worker]) + "\n"
                }
                out[k] = s
            }
        }
        return parts.joined()
    }

    /// One decision and what it read, or nil where the side has no such policy or list.
    func decide(_ side: Side, _ row: WhatIfChanges.Row) -> (EntryDecision, ExplanationReads)? {
        let h = Int(row.householdIndex)
        guard h >= 0 && h < data.householdCount else { return nil }
        let ctx = side.ctx
        let tracer = Tracer()
        ctx.tracer = tracer
        defer { ctx.tracer = nil }
        guard ctx.load(household: h, previous: previous?.remembered(row.household)) else { return nil }
        let d: EntryDecision
        if !row.policy.isEmpty {
            guard let p = side.rules.policy(row.policy), p.skipped == nil else { return nil }
            var slot: Int?
            if !row.person.isEmpty {
                slot = (0..<ctx.memberCount).first { ctx.personID(slot: $0).description == row.person }
                guard slot != nil else { return nil }
            }
            d = ctx.decide(policy: p, slot: slot)
        } else {
            guard let l = side.rules.list(row.list) else { return nil }
            d = ctx.decide(list: l)
        }
        return (d, ExplanationReads(tracer: tracer, ctx: ctx, tags: false))
    }

    func line(_ row: WhatIfChanges.Row, before: Side, after: Side) -> String {
        let b = decide(before, row), a = decide(after, row)
        func decision(_ x: (EntryDecision, ExplanationReads)?) -> JSON {
            guard let (d, _) = x else { return .null }
            return .object([
                ("certainty", d.certainty == .none ? .null : .string(d.certainty.text)),
                ("amount", d.amountIfEligible.map { .int($0) } ?? .null),
                ("codes", .array(d.codes.map { .string($0) })),
            ])
        }
        // Criteria (policies) or reasons (household lists) whose result differs.
        let results = { (x: (EntryDecision, ExplanationReads)?) -> [(String, String)] in
            guard let (d, _) = x else { return [] }
            return (d.policy != nil ? d.criteria : d.reasons).map { ($0.code, $0.value.truthWord) }
        }
        let rb = results(b), ra = results(a)
        var flipped: [JSON] = []
        for code in (rb.map(\.0) + ra.map(\.0)).uniqued() {
            let x = rb.first { $0.0 == code }?.1, y = ra.first { $0.0 == code }?.1
            if x != y {
                flipped.append(.array([.string(code), x.map { .string($0) } ?? .null, y.map { .string($0) } ?? .null]))
            }
        }
        // Values read on either side, where they differ (members by ID number).
        func values(_ x: (EntryDecision, ExplanationReads)?) -> [String: String] {
            guard let (_, r) = x else { return [:] }
            var out: [String: String] = [:]
            for v in r.values {
                let who = v.member.map { IDNumber(key: r.members[$0]).description } ?? ""
                out[v.name + "\u{1}" + who] = v.value
            }
            return out
        }
        let vb = values(b), va = values(a)
        var changedValues: [JSON] = []
        for k in Set(vb.keys).union(va.keys).sorted() where vb[k] != va[k] {
            let parts = k.split(separator: "\u{1}", omittingEmptySubsequences: false)
            changedValues.append(
                .array([
                    .string(String(parts[0])), parts[1].isEmpty ? .null : .string(String(parts[1])),
                    vb[k].map { .string($0) } ?? .null, va[k].map { .string($0) } ?? .null,
                ]))
        }
        func parameters(_ x: (EntryDecision, ExplanationReads)?) -> [String: (String, String)] {
            guard let (_, r) = x else { return [:] }
            var out: [String: (String, String)] = [:]
            for p in r.parameters { out[p.id] = (p.value, p.from?.description ?? "") }
            return out
        }
        let pb = parameters(b), pa = parameters(a)
        var changedParameters: [JSON] = []
        for id in Set(pb.keys).union(pa.keys).sorted() where pb[id]?.0 != pa[id]?.0 || pb[id]?.1 != pa[id]?.1 {
            changedParameters.append(
                .array([
                    .string(id), pb[id].map { .string($0.0) } ?? .null, pa[id].map { .string($0.0) } ?? .null,
                    pb[id].map { .string($0.1) } ?? .null, pa[id].map { .string($0.1) } ?? .null,
                ]))
        }
        return JSON.object([
            ("list", .string(row.list)), ("household_id", .string(row.household)),
            ("person_id", row.person.isEmpty ? .null : .string(row.person)),
            ("policy", row.policy.isEmpty ? .null : .string(row.policy)), ("change", .string(row.change)),
            ("before", decision(b)), ("after", decision(a)), ("flipped", .array(flipped)),
            ("values", .array(changedValues)), ("parameters", .array(changedParameters)),
        ]).serialized()
    }
}

extension Array where Element: Hashable {
    /// The elements in order, each once.
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
