import Foundation
import PFPCore
import PFPIngest
import PFPRules
import PFPProfile
import PFPMatch

/// The households a reform may change, and the reform's result made from the
/// published entries of every other household and the entries of those decided
/// again (ReformImpact says why that is exact).
struct WhatIfSelect {
    let data: IngestResult
    let previous: RunState?
    let base: RuleSet
    let published: MatchResult
    /// The stored profiles, let go (`release`) once the last reform that reads them is decided.
    private let held: Held
    final class Held: @unchecked Sendable {
        var profiles: HouseholdProfiles?
        init(_ p: HouseholdProfiles) { profiles = p }
    }
    var profiles: HouseholdProfiles {
        guard let p = held.profiles else { preconditionFailure("the stored profiles were let go") }
        return p
    }
    /// Lets the stored profiles go: no reform left reads them (the memory they hold
    /// is the what-if's largest after the ingest result).
    func release() { held.profiles = nil }
    /// Lets the pages of the profiles read in place go until they are read again
    /// (between a sweep's values: each value's decisions read others).
    func dropResidentPages() { held.profiles?.dropResidentPages() }
    /// The evaluators' shared structures (made once for every reform).
    let shared: MatchStage.Shared
    var presence: TagPresence? { shared.presence }
    var lookup: ColumnIndex { shared.lookup }

    init(
        data: IngestResult, previous: RunState?, base: RuleSet, published: MatchResult, profiles: HouseholdProfiles,
        shared: MatchStage.Shared
    ) {
        self.data = data; self.previous = previous; self.base = base; self.published = published
        held = Held(profiles); self.shared = shared
    }

    /// Each household's bit: it has a published entry of policy p (one bit per
    /// policy, at most 64). Made for the selection alone (8 MB at 1M households,
    /// not held while the reforms are decided).
    func policiesHeld() -> [UInt64] {
        var bits = [UInt64](repeating: 0, count: data.householdCount)
        for e in published.entries where e.policy >= 0 && e.policy < 64 {
            bits[Int(e.household)] |= UInt64(1) << UInt64(e.policy)
        }
        return bits
    }

    /// For each reform, the households (increasing indexes) whose entries it may
    /// change: a frontier node differs, it holds an entry of a policy whose amount
    /// changes, or it has an outreach event and a cooling-off changed. One pass over
    /// the households for every reform: each household loaded once per rule set, the
    /// base's frontier results made once for the reforms that share a frontier.
    /// A reform's households that may change: those decided again, and those whose
    /// frontier does not differ but that hold an entry whose amount reads a changed
    /// number (their entries stay, with the amounts made again: `amounts`).
    ///
    /// `chained` (a sweep's values after the first, `chainable`): the households
    /// whose frontier gives another result than under the reform before it — the
    /// others decide as they did there (their amounts apart), so the reform's result
    /// can be made from the one before by deciding these alone. nil: not chained.
    struct Selected {
        var decide: [Int32] = []
        var amounts: [Int32] = []
        var chained: [Int32]?
    }

    func households(_ reforms: [(impact: ReformImpact, rules: RuleSet)], chainable: [Bool] = []) throws -> [Selected] {
        let count = reforms.count
        guard count > 0 else { return [] }
        var amountMask = [UInt64](repeating: 0, count: count)
        var everyone = [Bool](repeating: false, count: count)
        for (i, r) in reforms.enumerated() {
            everyone[i] = base.policies.count > 64 && !r.impact.amountPolicies.isEmpty
            for p in r.impact.amountPolicies where p < 64 { amountMask[i] |= UInt64(1) << UInt64(p) }
        }
        let outreach = try reforms.map {
            try $0.impact.outreachChanged ? OutreachLookup(data: data, rules: $0.rules) : nil
        }
        let readsPrevious = reforms.contains { $0.impact.readsPrevious }
        let chunk = 8192
        let n = data.householdCount
        let pieces = (n + chunk - 1) / chunk
        let workers = Parallel.workers(for: pieces)
        let baseRules = try base.replicas(workers)
        let reformRules = try reforms.map { try $0.rules.replicas(workers) }
        let households = data.households
        func context(_ rules: RuleSet, except: Set<Int>) -> EvalContext {
            let c = EvalContext(rules: rules, data: households, presence: presence)
            c.stored = HouseholdProfilesView(profiles, rules: rules, except: except)
            if readsPrevious { c.setPersonLookup { lookup.find($0) } }
            return c
        }
        let contexts = (0..<workers).map { w in
            (
                base: context(baseRules[w], except: []),
                reforms: reforms.indices.map { context(reformRules[$0][w], except: reforms[$0].impact.changedValues) }
            )
        }
        // A closed frontier is worked out from the stored values, without loading the household.
        let closed = (0..<workers).map { w in
            reforms.map { r in
                r.impact.closed
                    ? ClosedFrontier(
                        r.impact, stored: HouseholdProfilesView(profiles, rules: baseRules[w]), households: households)
                    : nil
            }
        }
        // The reforms sharing the first one's frontier of each group (and, closed,
        // keeping the same sides of it): the group's base results are made once.
        func shareable(_ j: Int, _ i: Int) -> Bool {
            guard reforms[j].impact.sameFrontier(reforms[i].impact) else { return false }
            switch (closed.first?[j], closed.first?[i]) {
            case (nil, nil): return true
            case (let a?, let b?): return a.sharesResults(with: b)
            default: return false
            }
        }
        let group = (0..<count).map { i in (0...i).first { shareable($0, i) }! }
        // A reform chained to the one before: the same frontier kept the same way,
        // the same amounts and cooling-offs read (a sweep's values).
        let chain = (0..<count).map { i in
            i > 0 && i < chainable.count && chainable[i] && group[i] == group[i - 1] && !everyone[i]
                && !everyone[i - 1] && reforms[i].impact.frontierCount > 0
                && reforms[i].impact.amountPolicies == reforms[i - 1].impact.amountPolicies
                && reforms[i].impact.outreachChanged == reforms[i - 1].impact.outreachChanged
                && amountMask[i] == amountMask[i - 1]
        }
        // Whose frontier results are kept whole for the comparison with the next reform or the one before.
        let keepsResults = (0..<count).map { i in chain[i] || (i + 1 < count && chain[i + 1]) }
        // What the loop below reads of each reform for every household, taken out
        // once (no reference counted per household and reform).
        let frontierCount = reforms.map { $0.impact.frontierCount }
        let policiesHeld = self.policiesHeld()
        let hasOutreach = outreach.map { $0 != nil }
        // A sweep of numbers compared with stored values: every reform's frontier
        // closed, sharing the first one's base results, and each node a kept side
        // against a number. A household's results of every reform are then made
        // side by side as codes (`ClosedFrontier.codes`), compared as bytes.
        let sweep =
            count > 1
            && (0..<count).allSatisfy { i in
                group[i] == 0 && !everyone[i] && !hasOutreach[i] && frontierCount[i] > 0
                    && (closed.first?[i]?.comparesNumbers ?? false)
            }
        var found = [[Selected]](repeating: [], count: pieces)
        found.withUnsafeMutableBufferPointer { out in
            Parallel.forEach(pieces) { (worker: Int, k: Int) in
                let (b, rs) = contexts[worker]
                let fast = closed[worker], reads = StoredReads(values: base.values.count)
                // The sweep's codes of one household: the base's, then each reform's.
                var codes = [UInt8]()
                var closedBase = [[Val]](repeating: [], count: count)
                var closedMade = [Bool?](repeating: nil, count: count)  // nil: not yet; false: a value not stored
                var mine = (0..<count).map { Selected(chained: chain[$0] ? [] : nil) }
                var baseResults = [[Val]](repeating: [], count: count), made = [Bool](repeating: false, count: count)
                // This reform's results for the household when kept whole and the
                // reform before's, and how each was made (1: from the stored values,
                // 2: the household loaded; 0: not made).
                var results: [Val] = [], resultsBefore: [Val] = []
                var madeBy: UInt8 = 0, madeBefore: UInt8 = 0
                for h in (k * chunk)..<min(n, (k + 1) * chunk) {
                    if sweep, fast[0]!.baseResults(household: h, reads: reads, into: &closedBase[0]) {
                        let m = closedBase[0].count / 2
                        if codes.count < max(1, (count + 1) * m) {
                            codes = [UInt8](repeating: 0, count: max(1, (count + 1) * m))
                        }
                        codes.withUnsafeMutableBufferPointer { c in
                            let p = c.baseAddress!
                            for j in 0..<m { p[j] = ClosedFrontier.code(closedBase[0][2 * j]) }
                            for i in 0..<count { fast[i]!.codes(base: closedBase[0], into: p + (i + 1) * m) }
                            for i in 0..<count {
                                let row = p + (i + 1) * m
                                if chain[i] && memcmp(row, row - m, m) != 0 { mine[i].chained!.append(Int32(h)) }
                                if memcmp(row, p, m) != 0 {
                                    mine[i].decide.append(Int32(h))
                                } else if policiesHeld[h] & amountMask[i] != 0 {
                                    mine[i].amounts.append(Int32(h))
                                }
                            }
                        }
                        continue
                    }
                    var loaded = false, living = false
                    for i in 0..<count { made[i] = false; closedMade[i] = nil }
                    madeBy = 0
                    for i in 0..<count {
                        // Chained: decided against the reform before unless both made
                        // their results the same way and found the same.
                        swap(&results, &resultsBefore)
                        madeBefore = madeBy
                        madeBy = 0
                        defer {
                            if chain[i] && (madeBy == 0 || madeBy != madeBefore || results != resultsBefore) {
                                mine[i].chained!.append(Int32(h))
                            }
                        }
                        if everyone[i] || (hasOutreach[i] && outreach[i]!.hasEvents(household: h)) {
                            mine[i].decide.append(Int32(h))
                            continue
                        }
                        let amounts = policiesHeld[h] & amountMask[i] != 0
                        guard frontierCount[i] > 0 else {
                            if amounts { mine[i].amounts.append(Int32(h)) }
                            continue
                        }
                        let g = group[i]
                        // A closed frontier: the base's results made once for the reforms sharing it.
                        if fast[i] != nil && fast[g] != nil {
                            // Borrowed from `fast`, which holds them for the whole loop.
                            unowned(unsafe) let f = fast[i]!, gf = fast[g]!
                            if closedMade[g] == nil {
                                closedMade[g] = gf.baseResults(household: h, reads: reads, into: &closedBase[g])
                            }
                            if closedMade[g] == true,
                                let differs = keepsResults[i]
                                    ? f.reformResults(household: h, base: closedBase[g], reads: reads, into: &results)
                                    : f.differs(household: h, base: closedBase[g], reads: reads)
                            {
                                if keepsResults[i] { madeBy = 1 }
                                if differs {
                                    mine[i].decide.append(Int32(h))
                                } else if amounts {
                                    mine[i].amounts.append(Int32(h))
                                }
                                continue
                            }
                        }
                        if !loaded {
                            let prev = readsPrevious ? previous?.remembered(data.householdIDs[h]) : nil
                            living = b.load(household: h, previous: prev)
                            if living { for c in rs { c.load(household: h, previous: prev) } }
                            loaded = true
                        }
                        guard living else { continue }
                        if !made[g] {
                            reforms[g].impact.results(b, into: &baseResults[g])
                            made[g] = true
                        }
                        let differs: Bool
                        if keepsResults[i] {
                            reforms[i].impact.results(rs[i], into: &results)
                            madeBy = 2
                            differs = results != baseResults[g]
                        } else {
                            differs = reforms[i].impact.differs(base: baseResults[g], reform: rs[i])
                        }
                        if differs {
                            mine[i].decide.append(Int32(h))
                        } else if amounts {
                            mine[i].amounts.append(Int32(h))
                        }
                    }
                }
                out[k] = mine
            }
        }
        return (0..<count).map { i in
            Selected(
                decide: found.flatMap { $0[i].decide }, amounts: found.flatMap { $0[i].amounts },
                chained: chain[i] ? found.flatMap { $0[i].chained! } : nil)
        }
    }

    /// The published entries of `households` (increasing indexes) whose policy's
    /// amount reads a changed number, each with its amount under the reform
    /// (entry index, amount; in entry order): the same decision made for the same
    /// policy and member, by the reform's rules.
    ///
    /// `base`: whose entries (the published ones, or a sweep's value before).
    func amounts(
        of households: [Int32], impact: ReformImpact, rules: RuleSet, base: MatchResult? = nil
    ) throws -> [(entry: Int, amount: Int64)] {
        let published = base ?? self.published
        let flagged = marks(households)
        var policies = [Bool](repeating: false, count: rules.policies.count)
        for p in impact.amountPolicies { policies[p] = true }
        // By household (then entry), so that each is loaded once: keys of both sorted
        // as plain numbers (an entry's index fits in 32 bits, `MatchResult` says so).
        precondition(published.entries.count <= Int(UInt32.max), "more entries than a what-if numbers")
        var keys: [UInt64] = []
        for (i, e) in published.entries.enumerated()
        where e.policy >= 0 && policies[Int(e.policy)] && flagged[Int(e.household)] {
            keys.append(UInt64(UInt32(bitPattern: e.household)) << 32 | UInt64(i))
        }
        keys.sort()
        let wanted = keys.map { Int(truncatingIfNeeded: UInt32(truncatingIfNeeded: $0)) }
        let piece = 4096
        let pieces = (wanted.count + piece - 1) / piece
        let workers = Parallel.workers(for: pieces)
        let replicas = try rules.replicas(workers)
        let contexts = replicas.map { rs in
            let c = EvalContext(rules: rs, data: data.households, presence: presence)
            c.stored = HouseholdProfilesView(profiles, rules: rs, except: impact.changedValues)
            return c
        }
        var out = [[(entry: Int, amount: Int64)]](repeating: [], count: pieces)
        out.withUnsafeMutableBufferPointer { buf in
            Parallel.forEach(pieces) { (worker: Int, k: Int) in
                let ctx = contexts[worker]
                var mine: [(entry: Int, amount: Int64)] = []
                var loaded = -1
                for i in wanted[(k * piece)..<min(wanted.count, (k + 1) * piece)] {
                    let e = published.entries[i]
                    if Int(e.household) != loaded {
                        ctx.load(household: Int(e.household))
                        loaded = Int(e.household)
                    }
                    var slot: Int?
                    if e.personKey != 0 {
                        slot = (0..<ctx.memberCount).first { data.personID[Int(ctx.member($0))] == e.personKey }
                    }
                    // The amount alone (what the decision's `amount` is): the entry keeps
                    // its certainty, criteria and codes, which read no changed number.
                    let amount = ctx.amount(ctx.rules.policies[Int(e.policy)], slot: slot)
                    mine.append((i, amount.map { Int64($0) } ?? Int64.min))
                }
                buf[k] = mine
            }
        }
        return out.flatMap { $0 }.sorted { $0.entry < $1.entry }
    }

    /// The reform's result: the published entries of the households not decided
    /// again, and `decided`'s entries (its households `subset`), list by list in
    /// the files' order (households in order; one household's entries come from
    /// one side). The two share the household, list and policy indexes.
    ///
    /// `amounts`: published entries whose amount is made again (`amounts(of:)`).
    ///
    /// `base`: the entries the others keep (the published ones, or a sweep's value
    /// before, itself made this way).
    func merged(
        _ decided: MatchResult, subset: [Int32], amounts: [(entry: Int, amount: Int64)], base: MatchResult? = nil
    ) -> MatchResult {
        let published = base ?? self.published
        let again = marks(subset)
        let old = published.entries, new = decided.entries
        let shift = Int32(published.codes.count + published.codesAfter.count)
        // Each list's entries are merged on their own (both sides hold the lists in
        // order, a list's entries together), in parallel, each into its place: the
        // entries the list keeps and the ones decided again, counted first.
        let lists = Int(max(old.last?.list ?? -1, new.last?.list ?? -1)) + 1
        func ranges(_ e: [PublishedEntry]) -> [Range<Int>] {
            var r: [Range<Int>] = [], i = 0
            for l in 0..<lists {
                let lo = e[i...].firstIndex(ofListAfter: Int32(l))
                precondition(i == lo || e[i].list == Int32(l), "entries not in list order")
                r.append(i..<lo)
                i = lo
            }
            precondition(i == e.count, "entries not in list order")
            return r
        }
        let oldRanges = ranges(old), newRanges = ranges(new)
        var kept = [Int](repeating: 0, count: lists)
        kept.withUnsafeMutableBufferPointer { k in
            Parallel.forEach(lists) { l in
                k[l] = oldRanges[l].reduce(0) { $0 + (again[Int(old[$1].household)] ? 0 : 1) }
            }
        }
        var starts = [0]
        for l in 0..<lists { starts.append(starts[l] + kept[l] + newRanges[l].count) }
        let out = [PublishedEntry](unsafeUninitializedCapacity: starts[lists]) { buf, count in
            let place = buf.baseAddress!
            Parallel.forEach(lists) { l in
                var at = starts[l]
                var i = oldRanges[l].lowerBound, j = newRanges[l].lowerBound
                let oi = oldRanges[l].upperBound, nj = newRanges[l].upperBound
                // The first amount made again at or after this list's first entry.
                var lo = 0, hi = amounts.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if amounts[mid].entry < i { lo = mid + 1 } else { hi = mid }
                }
                var patch = lo
                while i < oi || j < nj {
                    let a = i < oi, b = j < nj
                    if a && again[Int(old[i].household)] { i += 1; continue }
                    if a && (!b || old[i].household < new[j].household) {
                        var e = old[i]
                        while patch < amounts.count && amounts[patch].entry < i { patch += 1 }
                        if patch < amounts.count && amounts[patch].entry == i { e.amountValue = amounts[patch].amount }
                        (place + at).initialize(to: e)
                        i += 1
                    } else {
                        var e = new[j]
                        e.codeStart += shift
                        (place + at).initialize(to: e)
                        j += 1
                    }
                    at += 1
                }
                precondition(at == starts[l + 1], "a list's merged entries counted wrong")
            }
            count = starts[lists]
        }
        var m = decided
        m.entries = out
        // The published codes' array shared as it is (a chained value's: with the
        // codes of the values before it after), the decided entries' codes after it.
        m.codes = published.codes
        m.codesAfter = published.codesAfter + decided.codes
        m.households = published.households
        m.people = published.people
        return m
    }

    /// Two lists of increasing household indexes merged into one (the indexes of
    /// both, in increasing order; one taken once where both have it).
    static func union(_ a: [Int32], _ b: [Int32]) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && a[i] < b[j]) {
                out.append(a[i]); i += 1
            } else if i == a.count || b[j] < a[i] {
                out.append(b[j]); j += 1
            } else {
                out.append(a[i]); i += 1; j += 1
            }
        }
        return out
    }

    /// One mark per household: whether it is one of `households`.
    func marks(_ households: [Int32]) -> [Bool] {
        var marked = [Bool](repeating: false, count: data.householdCount)
        for h in households { marked[Int(h)] = true }
        return marked
    }
}
