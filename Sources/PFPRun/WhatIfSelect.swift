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
    let profiles: HouseholdProfiles
    /// Each household's bit: it has a published entry of policy p (one bit per policy, at most 64).
    let policiesHeld: [UInt64]
    /// The evaluators' shared structures (made once for every reform).
    let shared: MatchStage.Shared
    var presence: TagPresence? { shared.presence }
    var lookup: IDIndex { shared.lookup }

    init(
        data: IngestResult, previous: RunState?, base: RuleSet, published: MatchResult, profiles: HouseholdProfiles,
        shared: MatchStage.Shared
    ) {
        self.data = data; self.previous = previous; self.base = base; self.published = published
        self.profiles = profiles; self.shared = shared
        var held = [UInt64](repeating: 0, count: data.householdCount)
        for e in published.entries where e.policy >= 0 && e.policy < 64 {
            held[Int(e.household)] |= UInt64(1) << UInt64(e.policy)
        }
        policiesHeld = held
    }

    /// The households (increasing indexes) whose entries the reform may change:
    /// a frontier node differs, it holds an entry of a policy whose amount
    /// changes, or it has an outreach event and a cooling-off changed.
    func households(_ impact: ReformImpact, reform: RuleSet) throws -> [Int32] {
        if base.policies.count > 64 && !impact.amountPolicies.isEmpty {
            return (0..<data.householdCount).map { Int32($0) }
        }
        var amountMask: UInt64 = 0
        for p in impact.amountPolicies { amountMask |= UInt64(1) << UInt64(p) }
        let outreach = impact.outreachChanged ? try OutreachLookup(data: data, rules: reform) : nil
        let chunk = 8192
        let n = data.householdCount
        let pieces = (n + chunk - 1) / chunk
        let workers = Parallel.workers(for: pieces)
        let baseRules = try base.replicas(workers), reformRules = try reform.replicas(workers)
        let households = data.households
        let pairs = (0..<workers).map { w -> (EvalContext, EvalContext) in
            let b = EvalContext(rules: baseRules[w], data: households, presence: presence)
            let r = EvalContext(rules: reformRules[w], data: households, presence: presence)
            b.stored = HouseholdProfilesView(profiles, rules: baseRules[w])
            r.stored = HouseholdProfilesView(profiles, rules: reformRules[w], except: impact.changedValues)
            if impact.readsPrevious {
                b.setPersonLookup { lookup.find($0) }
                r.setPersonLookup { lookup.find($0) }
            }
            return (b, r)
        }
        var found = [[Int32]](repeating: [], count: pieces)
        let frontier = impact.frontierCount > 0
        found.withUnsafeMutableBufferPointer { out in
            Parallel.forEach(pieces) { (worker: Int, k: Int) in
                let (b, r) = pairs[worker]
                var mine: [Int32] = []
                for h in (k * chunk)..<min(n, (k + 1) * chunk) {
                    if policiesHeld[h] & amountMask != 0 || outreach?.hasEvents(household: h) == true {
                        mine.append(Int32(h))
                        continue
                    }
                    guard frontier else { continue }
                    let prev = impact.readsPrevious ? previous?.remembered(data.householdIDs[h]) : nil
                    guard b.load(household: h, previous: prev) else { continue }
                    r.load(household: h, previous: prev)
                    if impact.differs(base: b, reform: r) { mine.append(Int32(h)) }
                }
                out[k] = mine
            }
        }
        return found.flatMap { $0 }
    }

    /// The reform's result: the published entries of the households not decided
    /// again, and `decided`'s entries (its households `subset`), list by list in
    /// the files' order (households in order; one household's entries come from
    /// one side). The two share the household, list and policy indexes.
    func merged(_ decided: MatchResult, subset: [Int32]) -> MatchResult {
        var again = [Bool](repeating: false, count: data.householdCount)
        for h in subset { again[Int(h)] = true }
        let old = published.entries, new = decided.entries
        let shift = Int32(published.codes.count)
        var out: [PublishedEntry] = []
        out.reserveCapacity(old.count + new.count)
        var i = 0, j = 0
        while i < old.count || j < new.count {
            // The next list: the smaller list index of the two heads.
            let l = min(i < old.count ? old[i].list : .max, j < new.count ? new[j].list : .max)
            while true {
                let a = i < old.count && old[i].list == l, b = j < new.count && new[j].list == l
                if !a && !b { break }
                if a && again[Int(old[i].household)] { i += 1; continue }
                if a && (!b || old[i].household < new[j].household) {
                    out.append(old[i]); i += 1
                } else {
                    var e = new[j]
                    e.codeStart += shift
                    out.append(e); j += 1
                }
            }
        }
        var m = decided
        m.entries = out
        m.codes = published.codes + decided.codes
        m.households = published.households
        m.people = published.people
        return m
    }

    /// `m` with the entries of `subset`'s households only (what may differ).
    func entries(of subset: [Int32], in m: MatchResult) -> MatchResult {
        var again = [Bool](repeating: false, count: data.householdCount)
        for h in subset { again[Int(h)] = true }
        var x = m
        x.entries = m.entries.filter { again[Int($0.household)] }
        return x
    }
}
