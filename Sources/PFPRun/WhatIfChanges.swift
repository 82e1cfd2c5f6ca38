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
        /// The household's index in the stored ingest result (its order is the ids'
        /// byte order), the person's ID key (the same for its text), the policy's id.
        var householdIndex: Int32 = 0
        var personKey: UInt64 = 0
        var change: String
        var before: Shown?, after: Shown?
    }

    typealias TextKey = (household: String, person: String, policy: String)

    /// What the list's file shows of an entry: its certainty, amount and codes only
    /// where the list has those columns (a review entry's amount is not published).
    static func shown(_ e: PublishedEntry, _ m: MatchResult, _ l: ListInfo?) -> Shown {
        let columns = l?.columns ?? []  // a few: looked through, no set made per entry
        let codes: Bool
        if columns.contains(.unknownFacts) {
            codes = e.certainty == .toVerify
        } else {
            codes = columns.contains { $0 == .failedCriteria || $0 == .reasons || $0 == .triggers }
        }
        return Shown(
            certainty: columns.contains(.certainty) && e.certainty != .none ? e.certainty.text : "",
            amount: columns.contains(.amount) ? e.amount.map(String.init) ?? "" : "",
            codes: codes ? m.codes(e).joined(separator: ";") : "", district: e.district, street: e.street,
            community: e.community)
    }

    /// Whether two entries of the same key show the same columns, without making
    /// their text (most entries do not change).
    static func sameColumns(
        _ a: PublishedEntry, _ ma: MatchResult, _ b: PublishedEntry, _ mb: MatchResult, _ l: ListInfo?
    ) -> Bool {
        guard a.certainty == b.certainty, a.amountValue == b.amountValue, a.district == b.district,
            a.street == b.street, a.community == b.community
        else { return false }
        return ma.codes(a).elementsEqual(mb.codes(b))
    }

    static func key(_ e: PublishedEntry, _ m: MatchResult) -> TextKey {
        (m.householdID(e), e.personKey == 0 ? "" : m.personID(e), m.policy(e))
    }

    /// Every difference, sorted by list id, then household, person and policy (byte order).
    /// An entry's identity on both sides: the household's index (both sides come
    /// from the same stored ingest result), the person, and the policy's index in
    /// `policyIDs` (both sides' policies together).
    struct Key: Hashable {
        var household: Int32
        var person: UInt64
        var policy: Int32
    }

    /// Every policy id of either side, and each side's policy index mapped into it.
    var policyIDs: (ids: [String], before: [Int32], after: [Int32]) {
        var ids = published.policyIDs
        for p in match.policyIDs where !ids.contains(p) { ids.append(p) }
        let index = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($0.element, Int32($0.offset)) })
        return (ids, published.policyIDs.map { index[$0]! }, match.policyIDs.map { index[$0]! })
    }

    static func key(_ e: PublishedEntry, _ map: [Int32]) -> Key {
        Key(household: e.household, person: e.personKey, policy: e.policy < 0 ? -1 : map[Int(e.policy)])
    }

    /// Every difference, sorted by list id, then household, person and policy (byte
    /// order). Entries are matched by integer keys; text is made for differences only.
    ///
    /// `before` and `after`: the entries that may differ, by list (all of them
    /// unless said otherwise; `pfp whatif` passes those of the households decided again).
    func rows(
        before: [String: ArraySlice<PublishedEntry>]? = nil, after: [String: ArraySlice<PublishedEntry>]? = nil
    ) -> [Row] {
        let (before, after) = (before ?? self.before, after ?? self.after)
        let (_, mapBefore, mapAfter) = policyIDs
        let listIDs = Set(before.keys).union(after.keys).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        // Each list in pieces of households (both sides are in household order), in parallel.
        let households = max(1, match.householdIDs.count)
        let pieces = 16
        func bound(_ side: ArraySlice<PublishedEntry>, _ h: Int) -> Int {
            var lo = side.startIndex, hi = side.endIndex
            while lo < hi {
                let mid = (lo + hi) / 2; if Int(side[mid].household) < h { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
        var parts = [[Row]](repeating: [], count: listIDs.count * pieces)
        parts.withUnsafeMutableBufferPointer { out in
            Parallel.forEach(listIDs.count * pieces) { t in
                let l = listIDs[t / pieces], k = t % pieces
                let lo = households * k / pieces, hi = households * (k + 1) / pieces
                let allOld = before[l] ?? [], allNew = after[l] ?? []
                out[t] = rows(
                    list: l, old: allOld[bound(allOld, lo)..<bound(allOld, hi)],
                    new: allNew[bound(allNew, lo)..<bound(allNew, hi)], mapBefore: mapBefore, mapAfter: mapAfter)
            }
        }
        var all: [Row] = []
        all.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for p in parts { all.append(contentsOf: p) }
        return all
    }

    /// The differences of one list's entries (both sides in household order).
    func rows(
        list l: String, old: ArraySlice<PublishedEntry>, new: ArraySlice<PublishedEntry>, mapBefore: [Int32],
        mapAfter: [Int32]
    ) -> [Row] {
        let info = rules.list(l)
        var index: [Key: Int] = [:]
        index.reserveCapacity(old.count)
        for i in old.indices { index[WhatIfChanges.key(old[i], mapBefore)] = i }
        var rowsOfList: [Row] = []
        // At most one row per entry of either side: room made once (the part never
        // written to is never touched).
        rowsOfList.reserveCapacity(old.count + new.count)
        func row(_ e: PublishedEntry, fromPublished: Bool, _ change: String, _ was: Shown?, _ now: Shown?) -> Row {
            let m = fromPublished ? published : match
            let k = WhatIfChanges.key(e, m)
            return Row(
                list: l, household: k.household, person: k.person, policy: k.policy, householdIndex: e.household,
                personKey: e.personKey,
                change: change, before: was, after: now)
        }
        for e in new {
            if let i = index.removeValue(forKey: WhatIfChanges.key(e, mapAfter)) {
                if WhatIfChanges.sameColumns(old[i], published, e, match, info) { continue }
                let was = WhatIfChanges.shown(old[i], published, info), now = WhatIfChanges.shown(e, match, info)
                if was != now { rowsOfList.append(row(e, fromPublished: false, "changed", was, now)) }
            } else {
                rowsOfList.append(row(e, fromPublished: false, "added", nil, WhatIfChanges.shown(e, match, info)))
            }
        }
        for i in index.values.sorted() {
            rowsOfList.append(
                row(old[i], fromPublished: true, "removed", WhatIfChanges.shown(old[i], published, info), nil))
        }
        // The files' order: household (index order is the ids' byte order), person
        // (ID keys' order is their text's), policy id (byte order).
        rowsOfList.sort {
            if $0.householdIndex != $1.householdIndex { return $0.householdIndex < $1.householdIndex }
            if $0.personKey != $1.personKey { return $0.personKey < $1.personKey }
            return $0.policy.utf8.lexicographicallyPrecedes($1.policy.utf8)
        }
        return rowsOfList
    }

    static let header =
        "list,household_id,person_id,policy,change,certainty_before,certainty_after,amount_before,amount_after,"
        + "codes_before,codes_after,district,street,community\n"

    /// changes.csv's bytes: the header, then one line per row, written field by
    /// field (no text made per row), in pieces made on every core.
    func csv(_ rows: [Row]) -> [ByteWriter] {
        let piece = 8192
        var out = [ByteWriter?](repeating: nil, count: (rows.count + piece - 1) / piece + 1)
        let header = ByteWriter(capacity: 256)
        header.rawString(WhatIfChanges.header)
        out[0] = header
        out.withUnsafeMutableBufferPointer { buf in
            Parallel.forEach(buf.count - 1) { k in
                buf[k + 1] = csv(rows[(k * piece)..<min(rows.count, (k + 1) * piece)])
            }
        }
        return out.map { $0! }
    }

    /// The lines of some rows.
    func csv(_ rows: ArraySlice<Row>) -> ByteWriter {
        let w = ByteWriter(capacity: rows.count * 160)
        for r in rows {
            let place = r.after ?? r.before!
            for (i, f) in [r.list, r.household, r.person, r.policy, r.change].enumerated() {
                if i > 0 { w.byte(UInt8(ascii: ",")) }
                w.csvField(f)
            }
            for f in [\Shown.certainty, \Shown.amount, \Shown.codes] {
                w.byte(UInt8(ascii: ","))
                w.csvField(r.before?[keyPath: f] ?? "")
                w.byte(UInt8(ascii: ","))
                w.csvField(r.after?[keyPath: f] ?? "")
            }
            w.byte(UInt8(ascii: ","))
            w.int(Int(place.district))
            w.byte(UInt8(ascii: ","))
            w.int(Int(place.street))
            w.byte(UInt8(ascii: ","))
            w.int(Int(place.community))
            w.byte(UInt8(ascii: "\n"))
        }
        return w
    }

    /// summary.csv: for the push list, per policy and district (and per policy over
    /// all districts, district `all`), entries confirmed and to verify before and
    /// after, gained and lost, and the cost before and after: the confirmed entries'
    /// amounts, and with the to-verify entries' known amounts as the upper end.
    /// Monthly and one-off (`amount once`) policies are told apart by `amount_kind`.
    struct Cell {
        /// [before, after]
        var confirmed = Pair(), toVerify = Pair(), cost = Pair(), upper = Pair()
        var gained = 0, lost = 0
        mutating func count(side: Int, confirmed isConfirmed: Bool, amount: Int) {
            if isConfirmed {
                confirmed[side] += 1
                cost[side] += amount
            } else {
                toVerify[side] += 1
            }
            upper[side] += amount
        }
        /// Another cell's counts added to these.
        mutating func add(_ c: Cell) {
            for side in 0..<2 {
                confirmed[side] += c.confirmed[side]
                toVerify[side] += c.toVerify[side]
                cost[side] += c.cost[side]
                upper[side] += c.upper[side]
            }
            gained += c.gained
            lost += c.lost
        }
    }
    /// Two counts, before ([0]) and after ([1]), kept in place (no array per cell).
    struct Pair {
        var before = 0, after = 0
        subscript(_ side: Int) -> Int {
            get { side == 0 ? before : after }
            set { if side == 0 { before = newValue } else { after = newValue } }
        }
    }
    /// A row of summary.csv: a policy in a district (nil: every district).
    struct SummaryRow {
        var policy: PolicyInfo
        var district: Int32?
        var cell: Cell
    }

    /// The push list, the list whose entries the costs count.
    var pushList: ListInfo? { rules.lists.first { $0.perPolicy && $0.columns.contains(.certainty) } }

    ///
    /// `mayDiffer`: the entries of both sides that can differ, by list (nil: all of
    /// them); an entry gained or lost is one of them.
    func summary(
        mayDiffer: (before: [String: ArraySlice<PublishedEntry>], after: [String: ArraySlice<PublishedEntry>])? = nil
    ) -> [SummaryRow] {
        guard let push = pushList else { return [] }
        let (ids, mapBefore, mapAfter) = policyIDs
        // cells[policy][district's index]: nil where no entry counted; every
        // district's cell (the row "all") is their sum, made after.
        var cells = [[Cell?]](repeating: [], count: ids.count)
        var districtIndex: [Int32: Int] = [:], districts: [Int32] = []
        /// The index of policy p's cell of district d, the cell made where it was not.
        func cell(_ p: Int, _ d: Int32) -> Int {
            let i: Int
            if let k = districtIndex[d] {
                i = k
            } else {
                i = districts.count
                districtIndex[d] = i
                districts.append(d)
            }
            if cells[p].count <= i { cells[p].append(contentsOf: repeatElement(nil, count: i + 1 - cells[p].count)) }
            if cells[p][i] == nil { cells[p][i] = Cell() }
            return i
        }
        let sides = [(before[push.id] ?? [], mapBefore), (after[push.id] ?? [], mapAfter)]
        let differ = [mayDiffer?.before[push.id] ?? sides[0].0, mayDiffer?.after[push.id] ?? sides[1].0]
        // Keys of the entries that may differ, each side's found on the other.
        var keys: [Set<Key>] = [[], []]
        for side in 0..<2 {
            keys[side].reserveCapacity(differ[side].count)
            for e in differ[side] { keys[side].insert(WhatIfChanges.key(e, sides[side].1)) }
        }
        for side in 0..<2 {
            for e in differ[side] where !keys[1 - side].contains(WhatIfChanges.key(e, sides[side].1)) {
                let p = Int(WhatIfChanges.key(e, sides[side].1).policy)
                let i = cell(p, e.district)
                if side == 0 { cells[p][i]!.lost += 1 } else { cells[p][i]!.gained += 1 }
            }
        }
        for (side, (entries, map)) in sides.enumerated() {
            for e in entries {
                let p = Int(map[Int(e.policy)])  // a push entry names its policy
                let i = cell(p, e.district)
                cells[p][i]!.count(side: side, confirmed: e.certainty == .confirmed, amount: e.amount ?? 0)
            }
        }
        var out: [SummaryRow] = []
        for p in rules.policies {
            guard let i = ids.firstIndex(of: p.id) else { continue }
            let held = cells[i].indices.filter { cells[i][$0] != nil }.sorted { districts[$0] < districts[$1] }
            guard !held.isEmpty else { continue }
            var all = Cell()
            for k in held {
                let c = cells[i][k]!
                out.append(SummaryRow(policy: p, district: districts[k], cell: c))
                all.add(c)
            }
            out.append(SummaryRow(policy: p, district: nil, cell: all))
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
