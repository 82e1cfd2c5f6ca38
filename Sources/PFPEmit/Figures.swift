import Foundation
import PFPCore
import PFPSchema
import PFPRules
import PFPMatch

/// Every count and sum the manifest's `counts` and report.html are drawn from,
/// and nothing else: no household id, no ID number. Counted once from a run's
/// entries; the figures of shards add up to those of the whole run (`pfp merge`
/// draws the merged run's report and counts from their sum), so a shard publishes
/// them as `figures.json`.
package struct RunFigures: Sendable, Equatable {
    package struct List: Sendable, Equatable {
        package var total = 0
        /// Per-policy lists: entries, confirmed, to verify and the sum of amounts per policy id.
        package var byPolicy: [String: Int] = [:]
        package var confirmed: [String: Int] = [:]
        package var toVerify: [String: Int] = [:]
        package var cost: [String: Int] = [:]
        /// Entries per certainty word and per deciding outcome's code.
        package var byCertainty: [String: Int] = [:]
        package var byOutcome: [String: Int] = [:]
        /// Household lists: entries giving each of the list's reason or trigger codes.
        package var byCode: [String: Int] = [:]
        package var byDistrict: [Int: Int] = [:]
        /// Entries without any outreach event, per district (the advisers' backlog).
        package var noEventByDistrict: [Int: Int] = [:]
        package init() {}
    }

    package var households = 0
    package var people = 0
    package var rejects = 0
    package var lists: [String: List] = [:]
    /// The outreach feed's distinct events per policy ("" household-wide) and outcome.
    package var outreachEvents: [String: [Int]] = [:]
    package var grantedReceiving: [String: Int] = [:]

    package init() {}

    package static let fileName = "figures.json"

    /// The figures of a run's entries, one pass per list.
    /// `countsOnly`: only what `counts` reads (totals, per policy, certainty,
    /// outcome and reason), not the districts, costs and backlog (a what-if's
    /// manifest counts, made for every reform).
    package init(
        rules: RuleSet, match m: MatchResult, byList: [String: ArraySlice<PublishedEntry>], rejects: Int,
        countsOnly: Bool = false
    ) {
        households = m.households
        people = m.people
        self.rejects = rejects
        outreachEvents = m.outreach.events
        grantedReceiving = m.outreach.grantedReceiving
        let policies = m.policyIDs.count
        for l in rules.lists {
            let entries = byList[l.id] ?? []
            var f = List()
            f.total = entries.count
            var total = [Int](repeating: 0, count: policies), confirmed = total, verify = total, cost = total
            var certainty = [Int](repeating: 0, count: 256)
            var outcome = [Int](repeating: 0, count: Outcome.allCases.count)
            let reasonCodes = l.reasonCodes  // made per call: once per list, not per entry
            var codes = [Int](repeating: 0, count: reasonCodes.count)
            // A district's counts found once per run of entries in the same district.
            var last: Int32? = nil, lastCount = 0, lastNoEvent = 0
            var districts: [Int32: Int] = [:], noEvent: [Int32: Int] = [:]
            for e in entries {
                if countsOnly {
                    if l.perPolicy {
                        if e.policy >= 0 { total[Int(e.policy)] += 1 }
                        if e.certainty != .none { certainty[Int(e.certainty.rawValue)] += 1 }
                        if let o = Outcome(rawValue: e.outcome) { outcome[Int(o.rawValue)] += 1 }
                    } else {
                        for c in m.codes(e) { if let i = reasonCodes.firstIndex(of: c) { codes[i] += 1 } }
                    }
                    continue
                }
                if e.district != last {
                    if let last {
                        districts[last, default: 0] += lastCount
                        if lastNoEvent > 0 { noEvent[last, default: 0] += lastNoEvent }
                    }
                    last = e.district
                    lastCount = 0
                    lastNoEvent = 0
                }
                lastCount += 1
                if l.perPolicy {
                    if e.policy >= 0 {
                        let p = Int(e.policy)
                        total[p] += 1
                        if e.certainty == .confirmed { confirmed[p] += 1 } else { verify[p] += 1 }
                        cost[p] += e.amount ?? 0
                    }
                    if e.certainty != .none { certainty[Int(e.certainty.rawValue)] += 1 }
                    if let o = Outcome(rawValue: e.outcome) {
                        outcome[Int(o.rawValue)] += 1
                    } else {
                        lastNoEvent += 1
                    }
                } else {
                    for c in m.codes(e) { if let i = reasonCodes.firstIndex(of: c) { codes[i] += 1 } }
                }
            }
            if let last {
                districts[last, default: 0] += lastCount
                if lastNoEvent > 0 { noEvent[last, default: 0] += lastNoEvent }
            }
            for (i, id) in m.policyIDs.enumerated() where total[i] > 0 {
                f.byPolicy[id, default: 0] += total[i]
                f.confirmed[id, default: 0] += confirmed[i]
                f.toVerify[id, default: 0] += verify[i]
                f.cost[id, default: 0] += cost[i]
            }
            for (raw, n) in certainty.enumerated() where n > 0 {
                f.byCertainty[Certainty(rawValue: UInt8(raw))!.text, default: 0] += n
            }
            for o in Outcome.allCases where outcome[Int(o.rawValue)] > 0 {
                f.byOutcome[o.code] = outcome[Int(o.rawValue)]
            }
            for (i, c) in reasonCodes.enumerated() where codes[i] > 0 { f.byCode[c, default: 0] += codes[i] }
            f.byDistrict = Dictionary(uniqueKeysWithValues: districts.map { (Int($0.key), $0.value) })
            f.noEventByDistrict = Dictionary(uniqueKeysWithValues: noEvent.map { (Int($0.key), $0.value) })
            lists[l.id] = f
        }
    }

    /// The sum of several runs' figures (the shards of one run).
    package static func sum(_ parts: [RunFigures]) -> RunFigures {
        func add<K>(_ a: inout [K: Int], _ b: [K: Int]) { for (k, v) in b { a[k, default: 0] += v } }
        var out = RunFigures()
        for p in parts {
            out.households += p.households
            out.people += p.people
            out.rejects += p.rejects
            for (id, l) in p.lists {
                var f = out.lists[id] ?? List()
                f.total += l.total
                add(&f.byPolicy, l.byPolicy); add(&f.confirmed, l.confirmed); add(&f.toVerify, l.toVerify)
                add(&f.cost, l.cost); add(&f.byCertainty, l.byCertainty); add(&f.byOutcome, l.byOutcome)
                add(&f.byCode, l.byCode); add(&f.byDistrict, l.byDistrict)
                add(&f.noEventByDistrict, l.noEventByDistrict)
                out.lists[id] = f
            }
            for (policy, counts) in p.outreachEvents {
                var c = out.outreachEvents[policy] ?? [Int](repeating: 0, count: counts.count)
                for (i, n) in counts.enumerated() where i < c.count { c[i] += n }
                out.outreachEvents[policy] = c
            }
            add(&out.grantedReceiving, p.grantedReceiving)
        }
        return out
    }

    // MARK: figures.json

    package var json: JSON {
        func ints(_ d: [String: Int]) -> JSON { .object(d.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) }) }
        func byInt(_ d: [Int: Int]) -> JSON {
            .object(d.sorted { $0.key < $1.key }.map { (String($0.key), .int($0.value)) })
        }
        return .object([
            ("households", .int(households)), ("people", .int(people)), ("rejects", .int(rejects)),
            (
                "lists",
                .object(
                    lists.sorted { $0.key < $1.key }.map { id, l in
                        (
                            id,
                            .object([
                                ("total", .int(l.total)), ("by_policy", ints(l.byPolicy)),
                                ("confirmed", ints(l.confirmed)),
                                ("to_verify", ints(l.toVerify)), ("cost", ints(l.cost)),
                                ("by_certainty", ints(l.byCertainty)), ("by_outcome", ints(l.byOutcome)),
                                ("by_code", ints(l.byCode)), ("by_district", byInt(l.byDistrict)),
                                ("no_event_by_district", byInt(l.noEventByDistrict)),
                            ])
                        )
                    })
            ),
            (
                "outreach_events",
                .object(
                    outreachEvents.sorted { $0.key < $1.key }.map { ($0.key, .array($0.value.map { .int($0) })) })
            ),
            ("granted_receiving", ints(grantedReceiving)),
        ])
    }

    /// Figures read back from figures.json; nil when the text is not that.
    package init?(json bytes: [UInt8]) {
        guard let o = JSON.parseObject(bytes), let h = o["households"] as? Int, let p = o["people"] as? Int,
            let r = o["rejects"] as? Int, let lists = o["lists"] as? [String: Any],
            let events = o["outreach_events"] as? [String: [Int]],
            let granted = o["granted_receiving"] as? [String: Int]
        else { return nil }
        households = h
        people = p
        rejects = r
        outreachEvents = events
        grantedReceiving = granted
        for (id, any) in lists {
            guard let l = any as? [String: Any], let total = l["total"] as? Int else { return nil }
            func ints(_ k: String) -> [String: Int]? { l[k] as? [String: Int] }
            func byInt(_ k: String) -> [Int: Int]? {
                guard let d = l[k] as? [String: Int] else { return nil }
                var out: [Int: Int] = [:]
                for (key, v) in d {
                    guard let n = Int(key) else { return nil }
                    out[n] = v
                }
                return out
            }
            guard let byPolicy = ints("by_policy"), let confirmed = ints("confirmed"), let verify = ints("to_verify"),
                let cost = ints("cost"), let cert = ints("by_certainty"), let outcome = ints("by_outcome"),
                let code = ints("by_code"), let district = byInt("by_district"),
                let noEvent = byInt("no_event_by_district")
            else { return nil }
            var f = List()
            f.total = total
            f.byPolicy = byPolicy; f.confirmed = confirmed; f.toVerify = verify; f.cost = cost
            f.byCertainty = cert; f.byOutcome = outcome; f.byCode = code; f.byDistrict = district
            f.noEventByDistrict = noEvent
            self.lists[id] = f
        }
    }

    // MARK: the manifest's counts

    /// Counts per list and, for per-policy lists, per policy, certainty and
    /// deciding outcome; for household lists, per reason or trigger.
    package func counts(_ rules: RuleSet) -> JSON {
        .object(
            rules.lists.map { l in
                let f = lists[l.id] ?? List()
                var pairs: [(String, JSON)] = [("total", .int(f.total))]
                if l.perPolicy {
                    pairs.append(("by_policy", .object(rules.policies.map { ($0.id, .int(f.byPolicy[$0.id] ?? 0)) })))
                    if l.columns.contains(.certainty) {
                        pairs.append(
                            (
                                "by_certainty",
                                .object(f.byCertainty.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })
                            ))
                    }
                    if l.heldFrom != nil {
                        pairs.append(
                            ("by_outcome", .object(Outcome.allCases.map { ($0.code, .int(f.byOutcome[$0.code] ?? 0)) }))
                        )
                    }
                } else {
                    pairs.append(("by_reason", .object(l.reasonCodes.map { ($0, .int(f.byCode[$0] ?? 0)) })))
                }
                return (l.id, .object(pairs))
            })
    }
}
