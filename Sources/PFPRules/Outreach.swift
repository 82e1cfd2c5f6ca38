import PFPCore
import PFPSchema

/// The outreach outcomes as the rule files declare them (`outcomes`, outreach.md):
/// which outcome wins among one entry's events of the same date, and how long
/// each holds an entry back, read on the run date. Nothing here names an
/// outcome's duration: the days are parameters of the rule files.
public struct OutreachRules: Sendable {
    /// An outcome's cooling-off: its parameter and, on the run date, its days and
    /// the date that value applies from (nil when the parameter has no value then).
    public struct Cooling: Sendable {
        public var parameter: String
        public var days: Int?
        public var from: CivilDate?
    }

    /// Whether the rule files declare the outcomes at all.
    public let declared: Bool
    /// Each outcome's place in the same-day order (by raw value): the lowest wins.
    public let rank: [Int]
    /// Each outcome's cooling-off (by raw value); nil for one that never holds an entry back.
    public let cooling: [Cooling?]

    /// Rule files without `outcomes`: a run that reads outreach events refuses (`problem`).
    public static let undeclared = OutreachRules()

    private init() {
        declared = false
        rank = Outcome.allCases.map { Int($0.rawValue) }
        cooling = Outcome.allCases.map { _ in nil }
    }

    init(_ d: OutcomesDecl, parameters: [String: ParameterInfo]) throws {
        declared = true
        var rank = [Int](repeating: -1, count: Outcome.allCases.count)
        var cooling = [Cooling?](repeating: nil, count: Outcome.allCases.count)
        for (k, e) in d.entries.enumerated() {
            guard let o = Outcome(spelling: e.outcome) else {
                throw ruleError(
                    e.pos,
                    "unknown outcome '\(e.outcome)'; the outcomes are "
                        + Outcome.allCases.map(\.code).joined(separator: ", "))
            }
            guard rank[Int(o.rawValue)] < 0 else { throw ruleError(e.pos, "outcome \(e.outcome) is listed twice") }
            rank[Int(o.rawValue)] = k
            guard let id = e.parameter else { continue }
            guard let p = parameters[id], !p.isTable else {
                throw ruleError(e.pos, "\(id) is not a parameter of the rule files (declare it with 'parameter')")
            }
            var days: Int?
            if let q = p.value {
                guard q.d == 1, q.n >= 0, q.n <= 100_000 else {
                    throw ruleError(p.pos, "\(id) is a number of days: a whole number from 0, found \(q)")
                }
                days = Int(q.n)
            }
            cooling[Int(o.rawValue)] = Cooling(parameter: id, days: days, from: p.from)
        }
        let missing = Outcome.allCases.filter { rank[Int($0.rawValue)] < 0 }.map(\.code)
        guard missing.isEmpty else {
            throw ruleError(
                d.pos,
                "outcomes must list every outcome once (same-day order); missing: " + missing.joined(separator: ", "))
        }
        self.rank = rank
        self.cooling = cooling
    }

    /// Why a run that reads outreach events cannot apply these rules on its run
    /// date; nil when it can.
    public var problem: String? {
        guard declared else { return "the rule files declare no 'outcomes' (outreach.md)" }
        let missing = cooling.compactMap { $0 }.filter { $0.days == nil }.map(\.parameter)
        guard missing.isEmpty else { return "no value on the run date for " + missing.sorted().joined(separator: ", ") }
        return nil
    }

    /// Whether event `a` decides over event `b` of the same entry: a later date,
    /// or on the same date an outcome earlier in the same-day order. The one
    /// rule every caller chooses the deciding event by.
    @inlinable @inline(__always)
    public func decides(_ a: OutreachEvent, over b: OutreachEvent) -> Bool {
        a.date > b.date || (a.date == b.date && rank[Int(a.outcome.rawValue)] < rank[Int(b.outcome.rawValue)])
    }

    /// The deciding event among an entry's events (`decides(_:over:)`; the first
    /// of equals).
    public func deciding<S: Sequence>(_ events: S) -> OutreachEvent? where S.Element == OutreachEvent {
        var best: OutreachEvent?
        for e in events {
            if let b = best, !decides(e, over: b) { continue }
            best = e
        }
        return best
    }

    /// The first run date on which an entry held back by `e` returns (`e + c`);
    /// nil when its outcome never holds an entry back.
    public func until(_ e: OutreachEvent) -> CivilDate? {
        guard let c = cooling[Int(e.outcome.rawValue)], let days = c.days else { return nil }
        return CivilDate(days: e.date + Int32(days))
    }

    /// Whether `e` holds its entry back on the run date: `D - e < c`.
    public func holds(_ e: OutreachEvent, on runDate: CivilDate) -> Bool {
        guard let u = until(e) else { return false }
        return runDate.days < u.days
    }
}

extension OutreachRules {
    /// The deciding event of an entry (person key or 0, policy id) among its
    /// household's events: those with its key, and the household's
    /// `do_not_contact` events whatever their person and policy.
    public func deciding<C: Collection>(among householdEvents: C, person: UInt64, policy: String) -> OutreachEvent?
    where C.Element == OutreachEvent {
        deciding(
            householdEvents.lazy.filter { ($0.person == person && $0.policy == policy) || $0.outcome == .doNotContact })
    }
}

extension RuleSet {
    /// For each list (index), the list its entries are held back into (`held from:`), or -1.
    public var holders: [Int] {
        var out = [Int](repeating: -1, count: lists.count)
        for l in lists { if let source = l.heldFrom { out[source] = l.index } }
        return out
    }

    /// The loaded household's entries, each moved to the list that holds its
    /// list's entries back when its deciding outreach event holds it on the run
    /// date (outreach.md). `deciding(person key or 0, policy index)`: the entry's
    /// deciding event among the household's events.
    public func hold(
        _ positions: inout [EntryPosition], ctx: EvalContext, holders: [Int],
        deciding: (UInt64, Int) -> OutreachEvent?
    ) {
        for i in positions.indices {
            let p = positions[i]
            let into = holders[Int(p.list)]
            guard into >= 0, p.policy >= 0 else { continue }
            let person = p.slot >= 0 ? ctx.personID(slot: Int(p.slot)).key : 0
            if let e = deciding(person, Int(p.policy)), outreach.holds(e, on: runDate) {
                positions[i].list = Int32(into)
            }
        }
    }
}
