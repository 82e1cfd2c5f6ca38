import Foundation
import PFPCore
import PFPIngest
import PFPRules
import PFPSchema

/// The run's outreach events found per household, and what they decide for an
/// entry (outreach.md): its deciding event and whether that holds it back.
public struct OutreachLookup: Sendable {
    let events: [OutreachEvent]
    /// Household h's events are `events[eventStart[h] ..< eventStart[h + 1]]`.
    let eventStart: [Int32]
    /// Each event's policy as a policy index of the rules (-1: none, or one the rules do not have).
    let policyIndex: [Int32]
    let rules: OutreachRules
    let runDate: CivilDate
    /// For each list (index), the list its entries are held back into, or -1.
    let holder: [Int]

    /// nil when the run has no outreach event (nothing to decide); throws when it
    /// has some but the rules cannot apply them on the run date.
    public init?(data: IngestResult, rules: RuleSet) throws {
        guard let found = Found(data: data) else { return nil }
        try self.init(found, data: data, rules: rules)
    }

    /// The events found per household, whatever the rules: made once for a
    /// what-if's reforms, each of which makes its lookup from them.
    public struct Found: Sendable {
        let events: [OutreachEvent]
        let eventStart: [Int32]

        /// nil when the run has no outreach event.
        public init?(data: IngestResult) {
            guard !data.outreach.isEmpty else { return nil }
            (events, eventStart) = OutreachLookup.perHousehold(data)
        }
    }

    /// The lookup of `rules` from the events found; throws when the rules cannot
    /// apply them on the run date.
    public init(_ found: Found, data: IngestResult, rules: RuleSet) throws {
        if let problem = rules.outreach.problem {
            throw PipelineError.badInput(
                stage: "match",
                "the run reads \(data.outreach.count) outreach events, but \(problem)",
                hint: "add the values to Pipelines/rules/outreach.rules, or run without the outreach feed")
        }
        self.rules = rules.outreach
        runDate = data.runDate
        holder = rules.holders
        (events, eventStart) = (found.events, found.eventStart)
        let index = Dictionary(rules.policies.enumerated().map { ($0.element.id, Int32($0.offset)) }) { a, _ in a }
        policyIndex = events.map { index[$0.policy] ?? -1 }
    }

    /// Each household's events (`events[eventStart[h] ..< eventStart[h + 1]]`).
    static func perHousehold(_ data: IngestResult) -> (events: [OutreachEvent], eventStart: [Int32]) {
        // Both in byte order of the household id: each event's household is found
        // galloping forward from the last one found (households without events are
        // passed over in strides, not compared one by one). Events of a household
        // this run does not have affect nothing (they stay out of every range).
        let ids = data.householdIDs
        var kept: [OutreachEvent] = []
        var start = [Int32](repeating: 0, count: ids.count + 1)
        let all = data.outreach
        var h = 0  // every household before h has its range set
        var i = 0
        while i < all.count && h < ids.count {
            // The first household at or past the event's: ids[lo] >= it.
            let e = all[i].household
            var lo = h, step = 1
            while lo + step <= ids.count && OutreachLookup.order(ids[lo + step - 1], e) < 0 { lo += step; step *= 2 }
            var hi = min(ids.count, lo + step)
            while lo < hi {
                let mid = (lo + hi) / 2
                if OutreachLookup.order(ids[mid], e) < 0 { lo = mid + 1 } else { hi = mid }
            }
            for k in h..<lo { start[k] = Int32(kept.count) }
            h = lo
            guard h < ids.count, ids[h] == e else {
                // No such household: its events are passed over.
                while i < all.count && all[i].household == e { i += 1 }
                continue
            }
            start[h] = Int32(kept.count)
            while i < all.count && all[i].household == e { kept.append(all[i]); i += 1 }
            h += 1
        }
        for k in h...ids.count { start[k] = Int32(kept.count) }
        return (kept, start)
    }

    /// Byte order of two ids (negative, zero, positive).
    static func order(_ a: String, _ b: String) -> Int {
        var (x, y) = (a, b)
        return x.withUTF8 { u in
            y.withUTF8 { v in
                let n = min(u.count, v.count)
                let c = n == 0 ? 0 : memcmp(u.baseAddress!, v.baseAddress!, n)
                return c != 0 ? Int(c) : u.count - v.count
            }
        }
    }

    /// The events of household h.
    public func events(household h: Int) -> ArraySlice<OutreachEvent> {
        events[Int(eventStart[h])..<Int(eventStart[h + 1])]
    }

    /// Whether household h has any event.
    public func hasEvents(household h: Int) -> Bool { eventStart[h] < eventStart[h + 1] }

    /// The deciding event of the entry (household h, person key or 0, policy
    /// index): among its own events and the household's `do_not_contact` events.
    public func deciding(household h: Int, person: UInt64, policy: Int) -> OutreachEvent? {
        let p = Int32(policy)
        var best = -1
        for i in Int(eventStart[h])..<Int(eventStart[h + 1]) {
            guard (events[i].person == person && policyIndex[i] == p) || events[i].outcome == .doNotContact else {
                continue
            }
            if best < 0 || rules.decides(events[i], over: events[best]) { best = i }
        }
        return best < 0 ? nil : events[best]
    }

    /// Whether the event holds its entry back on the run date.
    public func holds(_ e: OutreachEvent) -> Bool { rules.holds(e, on: runDate) }
}

/// What became of the pushes, for the report (outreach.md, "What a run publishes").
public struct OutreachSummary: Sendable {
    /// The distinct events per policy (empty string: household-wide rows) and
    /// outcome (`Outcome` raw value).
    public var events: [String: [Int]] = [:]
    /// Per policy: entries with a granted event whose `receiving.<policy>` tag
    /// already shows in this run (take-up the departments confirm).
    public var grantedReceiving: [String: Int] = [:]

    public init() {}

    public var isEmpty: Bool { events.isEmpty }

    /// Events of every policy per outcome.
    public var byOutcome: [Int] {
        var out = [Int](repeating: 0, count: Outcome.allCases.count)
        for counts in events.values { for (i, n) in counts.enumerated() { out[i] += n } }
        return out
    }

    /// Counts the feed's events (`all`, those of households this run does not
    /// have included), and looks up `receiving.<policy>` for every entry with a
    /// granted event (loading its household in `ctx`).
    init(_ all: [OutreachEvent], _ lookup: OutreachLookup, ctx: EvalContext) {
        for e in all {
            events[e.policy, default: [Int](repeating: 0, count: Outcome.allCases.count)][Int(e.outcome.rawValue)] += 1
        }
        for h in 0..<(lookup.eventStart.count - 1) where lookup.hasEvents(household: h) {
            let granted = lookup.events(household: h).filter { $0.outcome == .granted && !$0.policy.isEmpty }
            guard !granted.isEmpty, ctx.load(household: h) else { continue }
            var seen: Set<String> = []
            for e in granted {
                guard let p = ctx.rules.policy(e.policy), seen.insert("\(e.person) \(e.policy)").inserted else {
                    continue
                }
                var slot: Int?
                if p.level == .person {
                    slot = (0..<ctx.memberCount).first { ctx.personID(slot: $0).key == e.person }
                    if slot == nil { continue }
                }
                if case .bool(true) = ctx.receiving(p, slot: slot) { grantedReceiving[e.policy, default: 0] += 1 }
            }
        }
        ctx.resetCaches()
    }
}
