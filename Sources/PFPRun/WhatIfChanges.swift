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

    /// One entry of changes.csv: its list, change and keys, and where its entry lies
    /// on each side (`Changes.before` / `after`, the list's entries; -1: none).
    /// Numbers only: the text is made as the files are written.
    struct Row {
        var personKey: UInt64
        /// The household's index in the stored ingest result (its order is the ids' byte order).
        var householdIndex: Int32
        /// Index into `Changes.listIDs`.
        var list: Int32
        /// Index into `Changes.policyIDs` (both sides' policies), -1 for none.
        var policy: Int32
        var before: Int32, after: Int32
        var change: Change
    }

    enum Change: UInt8 {
        case added, removed, changed
        var word: String { self == .added ? "added" : self == .removed ? "removed" : "changed" }
    }

    /// The rows, and what their numbers refer to.
    struct Changes {
        var rows: [Row] = []
        /// The lists' ids, sorted (byte order).
        var listIDs: [String] = []
        /// Each list's entries on each side (the rows' `before` and `after` index them).
        var before: [ArraySlice<PublishedEntry>] = [], after: [ArraySlice<PublishedEntry>] = []
        var policyIDs: [String] = []
        var householdIDs: [String] = []
        let published: MatchResult, match: MatchResult

        var count: Int { rows.count }
        func list(_ r: Row) -> String { listIDs[Int(r.list)] }
        func household(_ r: Row) -> String { householdIDs[Int(r.householdIndex)] }
        func policy(_ r: Row) -> String { r.policy < 0 ? "" : policyIDs[Int(r.policy)] }
        func before(_ r: Row) -> PublishedEntry? { r.before < 0 ? nil : before[Int(r.list)][Int(r.before)] }
        func after(_ r: Row) -> PublishedEntry? { r.after < 0 ? nil : after[Int(r.list)][Int(r.after)] }
        /// Where the entry is: its place on the side after, else before.
        func place(_ r: Row) -> PublishedEntry { after(r) ?? before(r)! }
    }

    /// Whether a list's file shows an entry's codes.
    static func showsCodes(_ e: PublishedEntry, _ l: ListInfo?) -> Bool {
        let columns = l?.columns ?? []  // a few: looked through, no set made per entry
        if columns.contains(.unknownFacts) { return e.certainty == .toVerify }
        return columns.contains { $0 == .failedCriteria || $0 == .reasons || $0 == .triggers }
    }

    /// Whether two entries of the same key show the same text in the list's file:
    /// certainty and amount where the list has those columns, the codes where it
    /// shows them (a review entry's amount is not published), and the place.
    static func sameShown(
        _ a: PublishedEntry, _ ma: MatchResult, _ b: PublishedEntry, _ mb: MatchResult, _ l: ListInfo?
    ) -> Bool {
        let columns = l?.columns ?? []
        guard a.district == b.district, a.street == b.street, a.community == b.community else { return false }
        if columns.contains(.certainty) {
            let x = a.certainty != .none ? a.certainty.text : "", y = b.certainty != .none ? b.certainty.text : ""
            if x != y { return false }
        }
        if columns.contains(.amount) && a.amount != b.amount { return false }
        let ca = showsCodes(a, l) ? ma.codes(a) : [], cb = showsCodes(b, l) ? mb.codes(b) : []
        // The same codes show the same text; other codes are compared as the text they show.
        return ca.elementsEqual(cb) || ca.joined(separator: ";") == cb.joined(separator: ";")
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

    /// An entry's identity on both sides: the household's index (both sides come
    /// from the same stored ingest result), the person, and the policy's index in
    /// `policyIDs` (both sides' policies together).
    struct Key: Equatable {
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
    /// order). Entries are matched by integer keys; no text is made.
    ///
    /// `mayDiffer`: the households whose entries may differ (nil: every household;
    /// `pfp whatif` passes those decided again or with amounts made again): the
    /// others' entries are passed over, not compared.
    func rows(mayDiffer: [Bool]? = nil) -> Changes {
        let (ids, mapBefore, mapAfter) = policyIDs
        // Each policy id's place in byte order (rows of a household and person sort by it).
        var policyRank = [Int32](repeating: 0, count: ids.count)
        for (r, i) in ids.indices.sorted(by: { ids[$0].utf8.lexicographicallyPrecedes(ids[$1].utf8) }).enumerated() {
            policyRank[i] = Int32(r)
        }
        var out = Changes(published: published, match: match)
        out.listIDs = Set(before.keys).union(after.keys).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        out.before = out.listIDs.map { before[$0] ?? [] }
        out.after = out.listIDs.map { after[$0] ?? [] }
        out.policyIDs = ids
        out.householdIDs = match.householdIDs
        // Each list in pieces of households (both sides are in household order), in parallel.
        let households = max(1, match.householdIDs.count)
        let pieces = 16
        func bound(_ side: ArraySlice<PublishedEntry>, _ h: Int) -> Int {
            side.firstIndex(ofHouseholdFrom: Int32(clamping: h))
        }
        var parts = [[Row]](repeating: [], count: out.listIDs.count * pieces)
        parts.withUnsafeMutableBufferPointer { buf in
            Parallel.forEach(out.listIDs.count * pieces) { t in
                let l = t / pieces, k = t % pieces
                let lo = households * k / pieces, hi = households * (k + 1) / pieces
                let allOld = out.before[l], allNew = out.after[l]
                buf[t] = rows(
                    list: l, id: out.listIDs[l], old: allOld[bound(allOld, lo)..<bound(allOld, hi)],
                    new: allNew[bound(allNew, lo)..<bound(allNew, hi)], mapBefore: mapBefore, mapAfter: mapAfter,
                    policyRank: policyRank, mayDiffer: mayDiffer)
            }
        }
        out.rows.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for p in parts { out.rows.append(contentsOf: p) }
        return out
    }

    /// The differences of one list's entries (both sides in household order).
    func rows(
        list l: Int, id: String, old: ArraySlice<PublishedEntry>, new: ArraySlice<PublishedEntry>,
        mapBefore: [Int32], mapAfter: [Int32], policyRank: [Int32], mayDiffer: [Bool]? = nil
    ) -> [Row] {
        let info = rules.list(id)
        var rowsOfList: [Row] = []
        func row(_ e: PublishedEntry, _ map: [Int32], _ change: Change, before: Int, after: Int) -> Row {
            Row(
                personKey: e.personKey, householdIndex: e.household, list: Int32(l),
                policy: e.policy < 0 ? -1 : map[Int(e.policy)], before: Int32(before), after: Int32(after),
                change: change)
        }
        // Household by household (both sides are in household order): each entry
        // after is looked for among the household's entries before (a few), no
        // table of keys made.
        var matched: [Bool] = []
        var i = old.startIndex, j = new.startIndex
        while i < old.endIndex || j < new.endIndex {
            let h = min(
                i < old.endIndex ? old[i].household : Int32.max, j < new.endIndex ? new[j].household : Int32.max)
            let i0 = i, j0 = j
            while i < old.endIndex && old[i].household == h { i += 1 }
            while j < new.endIndex && new[j].household == h { j += 1 }
            if let m = mayDiffer, !m[Int(h)] { continue }
            matched.removeAll(keepingCapacity: true)
            matched.append(contentsOf: repeatElement(false, count: i - i0))
            for jj in j0..<j {
                let e = new[jj], key = WhatIfChanges.key(e, mapAfter)
                var found = -1
                for ii in i0..<i where !matched[ii - i0] && WhatIfChanges.key(old[ii], mapBefore) == key {
                    found = ii
                    break
                }
                if found >= 0 {
                    matched[found - i0] = true
                    if WhatIfChanges.sameColumns(old[found], published, e, match, info) { continue }
                    if !WhatIfChanges.sameShown(old[found], published, e, match, info) {
                        rowsOfList.append(row(e, mapAfter, .changed, before: found, after: jj))
                    }
                } else {
                    rowsOfList.append(row(e, mapAfter, .added, before: -1, after: jj))
                }
            }
            for ii in i0..<i where !matched[ii - i0] {
                rowsOfList.append(row(old[ii], mapBefore, .removed, before: ii, after: -1))
            }
        }
        // The files' order: household (index order is the ids' byte order), person
        // (ID keys' order is their text's), policy id (byte order).
        rowsOfList.sort {
            if $0.householdIndex != $1.householdIndex { return $0.householdIndex < $1.householdIndex }
            if $0.personKey != $1.personKey { return $0.personKey < $1.personKey }
            return ($0.policy < 0 ? -1 : policyRank[Int($0.policy)]) < ($1.policy < 0 ? -1 : policyRank[Int($1.policy)])
        }
        return rowsOfList
    }

    static let header =
        "list,household_id,person_id,policy,change,certainty_before,certainty_after,amount_before,amount_after,"
        + "codes_before,codes_after,district,street,community\n"

    /// changes.csv's bytes, handed to `put` in order: the header, then one line per
    /// row, written field by field (no text made per row), in pieces made on every
    /// core a batch at a time (never the whole file in memory).
    func csv(_ changes: Changes, put: (UnsafeRawBufferPointer) throws -> Void) throws {
        let piece = 2048, batch = 16, rows = changes.rows
        let header = ByteWriter(capacity: 256)
        header.rawString(WhatIfChanges.header)
        try put(header.bytes)
        let shown = changes.listIDs.map { Shown(rules.list($0)) }
        let pieces = (rows.count + piece - 1) / piece
        for first in stride(from: 0, to: pieces, by: batch) {
            var out = [ByteWriter?](repeating: nil, count: min(batch, pieces - first))
            out.withUnsafeMutableBufferPointer { buf in
                Parallel.forEach(buf.count) { i in
                    let k = first + i
                    let w = ByteWriter(capacity: piece * 192)
                    // Each list's entries taken once per run of its rows (rows come list by list).
                    var list: Int32 = -1
                    var before: ArraySlice<PublishedEntry> = [], after: ArraySlice<PublishedEntry> = []
                    for r in rows[(k * piece)..<min(rows.count, (k + 1) * piece)] {
                        if r.list != list {
                            list = r.list
                            (before, after) = (changes.before[Int(list)], changes.after[Int(list)])
                        }
                        csv(
                            r, before: r.before < 0 ? nil : before[Int(r.before)],
                            after: r.after < 0 ? nil : after[Int(r.after)], changes, shown[Int(r.list)], into: w)
                    }
                    buf[i] = w
                }
            }
            for w in out { try put(w!.bytes) }
        }
    }

    /// What a list's file shows of an entry, as changes.csv repeats it.
    struct Shown {
        let info: ListInfo?
        let certainty: Bool, amount: Bool
        init(_ info: ListInfo?) {
            self.info = info
            let columns = info?.columns ?? []
            (certainty, amount) = (columns.contains(.certainty), columns.contains(.amount))
        }
    }

    /// One row's line: keys, change, each side's certainty, amount and codes as the
    /// list's file shows them (empty for a side without the entry), the place.
    func csv(
        _ r: Row, before: PublishedEntry?, after: PublishedEntry?, _ changes: Changes, _ shown: Shown,
        into w: ByteWriter
    ) {
        let comma = UInt8(ascii: ",")
        w.csvField(changes.list(r))
        w.byte(comma)
        w.csvField(changes.household(r))
        w.byte(comma)
        if r.personKey != 0 { w.idDigits(r.personKey) }
        w.byte(comma)
        w.csvField(changes.policy(r))
        w.byte(comma)
        w.rawString(r.change.word)
        // Each side's fields in turn (no array of the two sides made per row).
        func certainty(_ e: PublishedEntry?) {
            w.byte(comma)
            if shown.certainty, let e, e.certainty != .none { w.rawString(e.certainty.text) }
        }
        func amount(_ e: PublishedEntry?) {
            w.byte(comma)
            if shown.amount, let e, let a = e.amount { w.int(a) }
        }
        certainty(before)
        certainty(after)
        amount(before)
        amount(after)
        w.byte(comma)
        if let e = before, WhatIfChanges.showsCodes(e, shown.info) { w.csvCodes(published.codes(e)) }
        w.byte(comma)
        if let e = after, WhatIfChanges.showsCodes(e, shown.info) { w.csvCodes(match.codes(e)) }
        let place = after ?? before!
        w.byte(comma)
        w.int(Int(place.district))
        w.byte(comma)
        w.int(Int(place.street))
        w.byte(comma)
        w.int(Int(place.community))
        w.byte(UInt8(ascii: "\n"))
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
    /// The entries gained and lost are `changes`' rows of the push list added and
    /// removed (counted from them: no keys of the entries made again).
    func summary(_ changes: Changes) -> [SummaryRow] {
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
        if let l = changes.listIDs.firstIndex(of: push.id) {
            for r in changes.rows where r.list == Int32(l) && r.change != .changed {
                // A row's policy indexes both sides' policies (`policyIDs`).
                let p = Int(r.policy)
                if r.change == .added {
                    cells[p][cell(p, changes.after(r)!.district)]!.gained += 1
                } else {
                    cells[p][cell(p, changes.before(r)!.district)]!.lost += 1
                }
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
