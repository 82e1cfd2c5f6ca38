import Foundation
import PFPCore
import PFPFormats
import PFPRules
import PFPMatch

/// What a reform changes against the published run: every entry of any list that
/// appears, disappears or changes (certainty, amount or codes), and per policy and
/// district the push list's counts and costs before and after.
struct WhatIfChanges {
    let rules: RuleSet
    let published: MatchResult
    let before: [String: ArraySlice<PublishedEntry>]
    let match: MatchResult
    let after: [String: ArraySlice<PublishedEntry>]

    init(
        rules: RuleSet, published: MatchResult, before: [String: ArraySlice<PublishedEntry>], match: MatchResult,
        after: [String: ArraySlice<PublishedEntry>]
    ) {
        self.rules = rules; self.published = published; self.before = before; self.match = match; self.after = after
    }

    /// An entry as the published files show it.
    struct Shown: Equatable {
        var certainty: String
        var amount: String
        var codes: String
        var district: Int32, street: Int32, community: Int64
    }

    struct Row {
        var list: String, household: String, person: String, policy: String
        var change: String
        var before: Shown?, after: Shown?
    }

    typealias Key = (household: String, person: String, policy: String)

    /// What the list's file shows of an entry: its certainty, amount and codes only
    /// where the list has those columns (a review entry's amount is not published).
    static func shown(_ e: PublishedEntry, _ m: MatchResult, _ l: ListInfo?) -> Shown {
        let columns = Set(l?.columns ?? [])
        let codes: Bool
        if columns.contains(.unknownFacts) {
            codes = e.certainty == .toVerify
        } else {
            codes = !columns.isDisjoint(with: [.failedCriteria, .reasons, .triggers])
        }
        return Shown(
            certainty: columns.contains(.certainty) && e.certainty != .none ? e.certainty.text : "",
            amount: columns.contains(.amount) ? e.amount.map(String.init) ?? "" : "",
            codes: codes ? m.codes(e).joined(separator: ";") : "", district: e.district, street: e.street,
            community: e.community)
    }

    static func key(_ e: PublishedEntry, _ m: MatchResult) -> Key {
        (m.householdID(e), e.personKey == 0 ? "" : m.personID(e), m.policy(e))
    }

    static func less(_ a: Key, _ b: Key) -> Bool {
        if a.household != b.household { return a.household.utf8.lexicographicallyPrecedes(b.household.utf8) }
        if a.person != b.person { return a.person.utf8.lexicographicallyPrecedes(b.person.utf8) }
        return a.policy.utf8.lexicographicallyPrecedes(b.policy.utf8)
    }

    /// Every difference, sorted by list id, then household, person and policy (byte order).
    func rows() -> [Row] {
        var out: [Row] = []
        let listIDs = Set(before.keys).union(after.keys).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for l in listIDs {
            let info = rules.list(l)
            var old: [String: (Key, Shown)] = [:]
            for e in before[l] ?? [] {
                let k = WhatIfChanges.key(e, published)
                old[k.household + "\u{1}" + k.person + "\u{1}" + k.policy] = (
                    k, WhatIfChanges.shown(e, published, info)
                )
            }
            var rowsOfList: [Row] = []
            for e in after[l] ?? [] {
                let k = WhatIfChanges.key(e, match)
                let id = k.household + "\u{1}" + k.person + "\u{1}" + k.policy
                let now = WhatIfChanges.shown(e, match, info)
                if let (_, was) = old.removeValue(forKey: id) {
                    if was != now {
                        rowsOfList.append(
                            Row(
                                list: l, household: k.household, person: k.person, policy: k.policy,
                                change: "changed", before: was, after: now))
                    }
                } else {
                    rowsOfList.append(
                        Row(
                            list: l, household: k.household, person: k.person, policy: k.policy,
                            change: "added", before: nil, after: now))
                }
            }
            for (k, was) in old.values {
                rowsOfList.append(
                    Row(
                        list: l, household: k.household, person: k.person, policy: k.policy,
                        change: "removed", before: was, after: nil))
            }
            rowsOfList.sort {
                WhatIfChanges.less(($0.household, $0.person, $0.policy), ($1.household, $1.person, $1.policy))
            }
            out += rowsOfList
        }
        return out
    }

    static let header =
        "list,household_id,person_id,policy,change,certainty_before,certainty_after,amount_before,amount_after,"
        + "codes_before,codes_after,district,street,community\n"

    func csv(_ rows: [Row]) -> String {
        let w = ByteWriter(capacity: 64 + rows.count * 120)
        w.rawString(WhatIfChanges.header)
        for r in rows {
            let place = r.after ?? r.before!
            for (i, f) in [
                r.list, r.household, r.person, r.policy, r.change, r.before?.certainty ?? "", r.after?.certainty ?? "",
                r.before?.amount ?? "", r.after?.amount ?? "", r.before?.codes ?? "", r.after?.codes ?? "",
                "\(place.district)", "\(place.street)", "\(place.community)",
            ].enumerated() {
                if i > 0 { w.byte(UInt8(ascii: ",")) }
                w.csvField(f)
            }
            w.byte(UInt8(ascii: "\n"))
        }
        return String(decoding: w.out, as: UTF8.self)
    }

    /// summary.csv: for the push list, per policy and district (and per policy over
    /// all districts, district `all`), entries confirmed and to verify before and
    /// after, gained and lost, and the cost before and after: the confirmed entries'
    /// amounts, and with the to-verify entries' known amounts as the upper end.
    /// Monthly and one-off (`amount once`) policies are told apart by `amount_kind`.
    struct Cell {
        /// [before, after]
        var confirmed = [0, 0], toVerify = [0, 0], cost = [0, 0], upper = [0, 0], gained = 0, lost = 0
    }
    /// A row of summary.csv: a policy in a district (nil: every district).
    struct SummaryRow {
        var policy: PolicyInfo
        var district: Int32?
        var cell: Cell
    }

    /// The push list, the list whose entries the costs count.
    var pushList: ListInfo? { rules.lists.first { $0.perPolicy && $0.columns.contains(.certainty) } }

    func summary() -> [SummaryRow] {
        guard let push = pushList else { return [] }
        var cells: [String: [Int32: Cell]] = [:]
        var keys: [String: [Int32: Set<String>]] = [:]
        for (side, (m, entries)) in [(published, before[push.id] ?? []), (match, after[push.id] ?? [])].enumerated() {
            for e in entries {
                let p = m.policy(e), k = WhatIfChanges.key(e, m)
                for d in [e.district, -1] {
                    var c = cells[p, default: [:]][d, default: Cell()]
                    if e.certainty == .confirmed {
                        c.confirmed[side] += 1
                        c.cost[side] += e.amount ?? 0
                    } else {
                        c.toVerify[side] += 1
                    }
                    c.upper[side] += e.amount ?? 0
                    cells[p, default: [:]][d] = c
                    let id = "\(side)\u{1}\(k.household)\u{1}\(k.person)"
                    keys[p, default: [:]][d, default: []].insert(id)
                }
            }
        }
        for (p, byDistrict) in keys {
            for (d, ids) in byDistrict {
                var b = Set<String>(), a = Set<String>()
                for id in ids {
                    let rest = String(id.dropFirst(2))
                    if id.hasPrefix("0") { b.insert(rest) } else { a.insert(rest) }
                }
                cells[p]![d]!.gained = a.subtracting(b).count
                cells[p]![d]!.lost = b.subtracting(a).count
            }
        }
        var out: [SummaryRow] = []
        for p in rules.policies where cells[p.id] != nil {
            for (d, c) in cells[p.id]!.sorted(by: {
                ($0.key < 0 ? Int32.max : $0.key) < ($1.key < 0 ? Int32.max : $1.key)
            }) {
                out.append(SummaryRow(policy: p, district: d < 0 ? nil : d, cell: c))
            }
        }
        return out
    }

    static func summaryCSV(_ rows: [SummaryRow]) -> String {
        var out = WhatIfChanges.summaryHeader
        for r in rows {
            let p = r.policy, c = r.cell
            let fields: [String] = [
                p.id, r.district.map { "\($0)" } ?? "all", p.oneOff ? "one_off" : "monthly",
                "\(c.confirmed[0])", "\(c.toVerify[0])", "\(c.confirmed[1])", "\(c.toVerify[1])",
                "\(c.gained)", "\(c.lost)", "\(c.cost[0])", "\(c.upper[0])", "\(c.cost[1])", "\(c.upper[1])",
                "\(c.cost[1] - c.cost[0])", "\(c.upper[1] - c.upper[0])",
            ]
            out += fields.joined(separator: ",") + "\n"
        }
        return out
    }

    static let summaryHeader =
        "policy,district,amount_kind,confirmed_before,to_verify_before,confirmed_after,to_verify_after,gained,lost,"
        + "cost_before,cost_before_upper,cost_after,cost_after_upper,cost_change,cost_change_upper\n"
}
