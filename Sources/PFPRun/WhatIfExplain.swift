import Foundation
import PFPCore
import PFPFormats
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
        let tracer = Tracer()
        /// Each parameter (by rank) as explanations show it: id, value on the run date, from.
        let parameters: [(id: String, value: String, from: String)]
        init(rules: RuleSet, data: IngestResult, lookup: IDIndex) {
            self.rules = rules
            ctx = EvalContext(rules: rules, data: data.households)
            ctx.setPersonLookup { lookup.find($0) }
            tracer.recordsTagReads = false
            parameters = rules.parameterIDs.map { id in
                let p = rules.parameters[id]!
                let value =
                    p.isTable
                    ? p.bands.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
                    : (p.value?.description ?? "none")
                return (id, value, p.from?.description ?? "")
            }
        }
    }

    let data: IngestResult
    let previous: RunState?
    /// Each worker's evaluators (rules of its own, as the match stage's workers have).
    let before: [Side]
    let after: [Side]

    init(
        data: IngestResult, previous: RunState?, base: RuleSet, reform: RuleSet, workers: Int, lookup: IDIndex
    ) throws {
        self.data = data
        self.previous = previous
        before = try base.replicas(workers).map { Side(rules: $0, data: data, lookup: lookup) }
        after = try reform.replicas(workers).map { Side(rules: $0, data: data, lookup: lookup) }
    }

    /// Every row's line, in order, made in parallel pieces.
    func lines(_ rows: [WhatIfChanges.Row]) -> [[UInt8]] {
        let piece = 256
        let pieces = (rows.count + piece - 1) / piece
        var parts = [[UInt8]](repeating: [], count: pieces)
        parts.withUnsafeMutableBufferPointer { out in
            Parallel.forEach(pieces) { (worker: Int, k: Int) in
                let w = ByteWriter(capacity: piece * 512)
                for r in rows[(k * piece)..<min(rows.count, (k + 1) * piece)] {
                    line(r, before: before[worker], after: after[worker], into: w)
                    w.byte(UInt8(ascii: "\n"))
                }
                out[k] = w.out
            }
        }
        return parts
    }

    /// One decision (its reads in the side's tracer), or nil where the side has no
    /// such policy or list.
    func decide(_ side: Side, _ row: WhatIfChanges.Row) -> EntryDecision? {
        let h = Int(row.householdIndex)
        guard h >= 0 && h < data.householdCount else { return nil }
        let ctx = side.ctx
        side.tracer.reset()
        ctx.tracer = side.tracer
        defer { ctx.tracer = nil }
        // Only a list with `after` reads the previous run.
        let after = row.policy.isEmpty && side.rules.list(row.list)?.after != nil
        guard ctx.load(household: h, previous: after ? previous?.remembered(row.household) : nil) else { return nil }
        if !row.policy.isEmpty {
            guard let p = side.rules.policy(row.policy), p.skipped == nil else { return nil }
            var slot: Int?
            if !row.person.isEmpty {
                guard let key = IDNumber(stored: row.person)?.key else { return nil }
                slot = (0..<ctx.memberCount).first { data.personID[Int(ctx.member($0))] == key }
                guard slot != nil else { return nil }
            }
            return ctx.decide(policy: p, slot: slot)
        }
        guard let l = side.rules.list(row.list) else { return nil }
        return ctx.decide(list: l)
    }

    /// The values a side's decision read: name, person (0: the household), value.
    func valuesRead(_ side: Side, _ decided: Bool) -> [(name: String, person: UInt64, value: Val)] {
        guard decided else { return [] }
        let rules = side.rules
        var out = side.tracer.valuesRead.map { v in
            (
                name: v.value >= 0 ? rules.values[Int(v.value)].id : rules.remembered[Int(-1 - v.value)].label,
                person: v.person, value: v.result
            )
        }
        // By name, then person (ID numbers' integer order is their text's order).
        out.sort { $0.name != $1.name ? $0.name < $1.name : $0.person < $1.person }
        return out
    }

    /// Whether two values read show the same text (unknown is unknown, whatever its facts).
    func sameText(_ a: Val, _ b: Val, _ ctx: EvalContext) -> Bool {
        if a.isUnknown && b.isUnknown { return true }
        return a == b || ctx.describe(a) == ctx.describe(b)
    }

    func line(_ row: WhatIfChanges.Row, before: Side, after: Side, into w: ByteWriter) {
        let b = decide(before, row), a = decide(after, row)
        func decision(_ x: EntryDecision?) {
            guard let d = x else { w.raw("null"); return }
            w.raw("{\"certainty\":")
            if d.certainty == .none { w.raw("null") } else { w.string(d.certainty.text) }
            w.raw(",\"amount\":")
            if let n = d.amountIfEligible { w.int(n) } else { w.raw("null") }
            w.raw(",\"codes\":")
            w.strings(d.codes)
            w.byte(UInt8(ascii: "}"))
        }
        func optional(_ s: String?) { if let s { w.string(s) } else { w.raw("null") } }
        w.raw("{\"list\":")
        w.string(row.list)
        w.raw(",\"household_id\":")
        w.string(row.household)
        w.raw(",\"person_id\":")
        optional(row.person.isEmpty ? nil : row.person)
        w.raw(",\"policy\":")
        optional(row.policy.isEmpty ? nil : row.policy)
        w.raw(",\"change\":")
        w.string(row.change)
        w.raw(",\"before\":")
        decision(b)
        w.raw(",\"after\":")
        decision(a)
        // Criteria (policies) or reasons (household lists) whose result differs.
        let results = { (x: EntryDecision?) -> [(String, String)] in
            guard let d = x else { return [] }
            return (d.policy != nil ? d.criteria : d.reasons).map { ($0.code, $0.value.truthWord) }
        }
        let rb = results(b), ra = results(a)
        w.raw(",\"flipped\":[")
        var first = true
        for code in (rb.map(\.0) + ra.map(\.0)).uniqued() {
            let x = rb.first { $0.0 == code }?.1, y = ra.first { $0.0 == code }?.1
            if x != y {
                if !first { w.byte(UInt8(ascii: ",")) }
                first = false
                w.byte(UInt8(ascii: "["))
                w.string(code)
                w.byte(UInt8(ascii: ","))
                optional(x)
                w.byte(UInt8(ascii: ","))
                optional(y)
                w.byte(UInt8(ascii: "]"))
            }
        }
        // Values read on either side, where they differ (members by ID number), by name then person.
        let vb = valuesRead(before, b != nil), va = valuesRead(after, a != nil)
        w.raw("],\"values\":[")
        first = true
        var i = 0, j = 0
        while i < vb.count || j < va.count {
            let x = i < vb.count ? vb[i] : nil, y = j < va.count ? va[j] : nil
            let order: Int
            if let x, let y {
                order =
                    x.name != y.name
                    ? (x.name < y.name ? -1 : 1) : (x.person == y.person ? 0 : (x.person < y.person ? -1 : 1))
            } else {
                order = x != nil ? -1 : 1
            }
            let left = order <= 0 ? x : nil, right = order >= 0 ? y : nil
            if order <= 0 { i += 1 }
            if order >= 0 { j += 1 }
            if let left, let right, sameText(left.value, right.value, before.ctx) { continue }
            let named = (left ?? right)!
            if !first { w.byte(UInt8(ascii: ",")) }
            first = false
            w.byte(UInt8(ascii: "["))
            w.string(named.name)
            w.byte(UInt8(ascii: ","))
            if named.person == 0 { w.raw("null") } else { w.id(named.person) }
            w.byte(UInt8(ascii: ","))
            optional(left.map { before.ctx.describe($0.value) })
            w.byte(UInt8(ascii: ","))
            optional(right.map { after.ctx.describe($0.value) })
            w.byte(UInt8(ascii: "]"))
        }
        // Parameters read on either side whose value or start differs, by id.
        func parameters(_ side: Side, _ decided: Bool) -> [(id: String, value: String, from: String)] {
            decided ? side.tracer.parameters.map { side.parameters[Int($0)] }.sorted { $0.id < $1.id } : []
        }
        let pb = parameters(before, b != nil), pa = parameters(after, a != nil)
        w.raw("],\"parameters\":[")
        first = true
        i = 0
        j = 0
        while i < pb.count || j < pa.count {
            let x = i < pb.count ? pb[i] : nil, y = j < pa.count ? pa[j] : nil
            let order = x != nil && y != nil ? (x!.id == y!.id ? 0 : (x!.id < y!.id ? -1 : 1)) : (x != nil ? -1 : 1)
            let left = order <= 0 ? x : nil, right = order >= 0 ? y : nil
            if order <= 0 { i += 1 }
            if order >= 0 { j += 1 }
            if let left, let right, left.value == right.value, left.from == right.from { continue }
            if !first { w.byte(UInt8(ascii: ",")) }
            first = false
            w.byte(UInt8(ascii: "["))
            w.string((left ?? right)!.id)
            for f in [left?.value, right?.value, left?.from, right?.from] {
                w.byte(UInt8(ascii: ","))
                optional(f)
            }
            w.byte(UInt8(ascii: "]"))
        }
        w.raw("]}")
    }
}

extension Array where Element: Hashable {
    /// The elements in order, each once.
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
