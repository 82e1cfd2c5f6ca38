import PFPCore
import PFPIngest
import PFPRules
import PFPSchema

/// The run's outreach events found per household, and what they decide for an
/// entry (outreach.md): its deciding event and whether that holds it back.
public struct OutreachLookup: Sendable {
    let events: [OutreachEvent]
    /// Each household's events (household index → range of `events`).
    let byHousehold: [Int32: Range<Int>]
    let rules: OutreachRules
    let runDate: CivilDate
    /// For each list (index), the list its entries are held back into, or -1.
    let holder: [Int]

    /// nil when the run has no outreach event (nothing to decide); throws when it
    /// has some but the rules cannot apply them on the run date.
    public init?(data: IngestResult, rules: RuleSet) throws {
        guard !data.outreach.isEmpty else { return nil }
        if let problem = rules.outreach.problem {
            throw PipelineError.badInput(
                stage: "match",
                "the run reads \(data.outreach.count) outreach events, but \(problem)",
                hint: "add the values to Pipelines/rules/outreach.rules, or run without the outreach feed")
        }
        events = data.outreach
        self.rules = rules.outreach
        runDate = data.runDate
        holder = rules.holders
        // Both in byte order of the household id: one merge.
        var by: [Int32: Range<Int>] = [:]
        var i = 0, h = 0
        let ids = data.householdIDs
        while i < events.count && h < ids.count {
            let e = events[i].household
            if e == ids[h] {
                var j = i
                while j < events.count && events[j].household == e { j += 1 }
                by[Int32(h)] = i..<j
                i = j
                h += 1
            } else if e.utf8.lexicographicallyPrecedes(ids[h].utf8) {
                i += 1  // a household this run does not have: affects nothing
            } else {
                h += 1
            }
        }
        byHousehold = by
    }

    /// The events of household h.
    public func events(household h: Int) -> ArraySlice<OutreachEvent> {
        guard let r = byHousehold[Int32(h)] else { return [] }
        return events[r]
    }

    /// The deciding event of the entry (household h, person key or 0, policy id).
    public func deciding(household h: Int, person: UInt64, policy: String) -> OutreachEvent? {
        rules.deciding(among: events(household: h), person: person, policy: policy)
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

    /// Counts the run's events, and looks up `receiving.<policy>` for every entry
    /// with a granted event (loading its household in `ctx`).
    init(_ lookup: OutreachLookup, ctx: EvalContext) {
        for e in lookup.events {
            events[e.policy, default: [Int](repeating: 0, count: Outcome.allCases.count)][Int(e.outcome.rawValue)] += 1
        }
        for h in lookup.byHousehold.keys.sorted() {
            let granted = lookup.events(household: Int(h)).filter { $0.outcome == .granted && !$0.policy.isEmpty }
            guard !granted.isEmpty, ctx.load(household: Int(h)) else { continue }
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
