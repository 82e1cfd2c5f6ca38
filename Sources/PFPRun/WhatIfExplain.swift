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
        /// The household loaded (and whether with the previous run's record), and
        /// whether it has a living member: the next row of the same household
        /// clears the caches instead of loading it again.
        var loaded: (household: Int, previous: Bool, living: Bool)?
        /// Each parameter (by rank) as explanations show it: id, value on the run date, from.
        let parameters: [(id: String, value: String, from: String)]
        /// Each value's name (definitions by index, then previous(...)'s by number)
        /// and its place in the names' order.
        let valueNames: [String], rememberedNames: [String]
        let valueRank: [Int32], rememberedRank: [Int32]
        init(rules: RuleSet, data: IngestResult, lookup: ColumnIndex, presence: TagPresence?) {
            self.rules = rules
            ctx = EvalContext(rules: rules, data: data.households, presence: presence)
            ctx.setPersonLookup { lookup.find($0) }
            tracer.recordsTagReads = false
            valueNames = rules.values.map(\.id)
            rememberedNames = rules.remembered.map(\.label)
            var rank = [String: Int32]()
            for (k, name) in Set(valueNames + rememberedNames).sorted().enumerated() { rank[name] = Int32(k) }
            valueRank = valueNames.map { rank[$0]! }
            rememberedRank = rememberedNames.map { rank[$0]! }
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
    /// Both sides name the same values (and previous(...)s) and the same parameters,
    /// in the same order (a reform of numbers): their reads are ordered by rank alone.
    let sameNames: Bool
    /// With `sameNames`: each parameter (by rank) has the same value and start on both sides.
    let sameParameter: [Bool]

    init(
        data: IngestResult, previous: RunState?, base: RuleSet, reform: RuleSet, workers: Int, lookup: ColumnIndex,
        presence: TagPresence?
    ) throws {
        self.data = data
        self.previous = previous
        before = try base.replicas(workers).map { Side(rules: $0, data: data, lookup: lookup, presence: presence) }
        after = try reform.replicas(workers).map { Side(rules: $0, data: data, lookup: lookup, presence: presence) }
        sameNames =
            before[0].valueNames == after[0].valueNames && before[0].rememberedNames == after[0].rememberedNames
            && base.parameterIDs == reform.parameterIDs
        sameParameter =
            sameNames
            ? zip(before[0].parameters, after[0].parameters).map { $0.value == $1.value && $0.from == $1.from } : []
    }

    /// Every row's line, in order, made in parallel pieces and handed to `put` a
    /// batch of pieces at a time (two batches in memory, never the whole file): the
    /// next batch is made on a thread of its own while this one is handed over.
    ///
    /// The rows are explained in household order — each household's rows of every
    /// list together, the households in the stored order — not list by list: the
    /// people's pages are read once, front to back (each list read them all again),
    /// and every sixteenth piece made, those read so far are let go for good (the
    /// kernel maps 64 KiB around each page read, or the whole large folio it lies
    /// in); a household's second row finds its data in the CPU's caches. The first
    /// list's lines go to the file as they come; each other list's to a part file
    /// of its own in `scratch` (a folder of the unpublished run), handed over
    /// after, in list order: the file is the same, list by list.
    func lines(
        _ changes: WhatIfChanges.Changes, scratch: String, put: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let piece = Maker.piece, batch = 32
        let pieces = (changes.count + piece - 1) / piece
        final class Maker: @unchecked Sendable {
            static let piece = 256
            let explain: WhatIfExplain, changes: WhatIfChanges.Changes
            /// The rows' indexes in household order.
            let order: [Int32]
            /// Every sixteenth piece made, the pages read so far go.
            let behind: EveryNth
            init(_ e: WhatIfExplain, _ c: WhatIfChanges.Changes) {
                (explain, changes) = (e, c)
                order = WhatIfExplain.householdOrder(c.rows)
                behind = EveryNth(16) {
                    e.data.dropResidentPages()
                    e.previous?.dropResidentPages()
                }
            }
            /// Pieces first ..< first + count, made in parallel: each piece's lines
            /// (written from where they were made) and where each line ends.
            func make(_ first: Int, _ count: Int) -> [(lines: ByteWriter, ends: [Int])] {
                var parts = [(lines: ByteWriter, ends: [Int])?](repeating: nil, count: count)
                parts.withUnsafeMutableBufferPointer { out in
                    Parallel.forEach(count) { (worker: Int, i: Int) in
                        let k = first + i, piece = Maker.piece
                        let w = ByteWriter(capacity: piece * 512)
                        var ends: [Int] = []
                        ends.reserveCapacity(piece)
                        let rows = changes.rows
                        for j in order[(k * piece)..<min(order.count, (k + 1) * piece)] {
                            explain.line(
                                rows[Int(j)], changes, before: explain.before[worker], after: explain.after[worker],
                                into: w)
                            w.byte(UInt8(ascii: "\n"))
                            ends.append(w.count)
                        }
                        out[i] = (w, ends)
                        behind.tick()
                    }
                }
                return parts.map { $0! }
            }
        }
        let maker = Maker(self, changes)
        func start(_ first: Int) -> Background<[(lines: ByteWriter, ends: [Int])]>? {
            guard first < pieces else { return nil }
            let count = min(batch, pieces - first)
            return Background("pfp-whatif-explain") { maker.make(first, count) }
        }
        let rows = changes.rows, order = maker.order
        let firstList = rows.first?.list ?? 0
        var parts: [Int32: FileIO.Writer] = [:]
        defer { for w in parts.values { try? FileIO.remove(w.path) } }
        var first = 0
        var next = start(first)
        // Nothing returns (or throws) while a batch is still being made.
        defer { _ = try? next?.value() }
        while let made = next {
            let pieces = try made.value()
            let row0 = first * piece
            first += batch
            next = start(first)
            for (p, (lines, ends)) in pieces.enumerated() {
                // Each run of lines of one list, to the file or to the list's part.
                let base = row0 + p * piece
                var from = 0, j = 0
                while j < ends.count {
                    let list = rows[Int(order[base + j])].list
                    while j + 1 < ends.count && rows[Int(order[base + j + 1])].list == list { j += 1 }
                    let run = UnsafeRawBufferPointer(rebasing: lines.bytes[from..<ends[j]])
                    if list == firstList {
                        try put(run)
                    } else {
                        if parts[list] == nil {
                            parts[list] = try FileIO.Writer(
                                path: (scratch as NSString).appendingPathComponent(".changes-\(list).part"),
                                check: .none)
                        }
                        try parts[list]!.write(run)
                    }
                    from = ends[j]
                    j += 1
                }
            }
        }
        for list in parts.keys.sorted() {
            let part = parts[list]!
            _ = try part.finish(sync: false)
            // Handed over from where the page cache holds it (no copy read out), a
            // window at a time, each window's pages let go once written.
            let mapped = try MappedFile(path: part.path, populate: false)
            let window = 8 << 20
            for at in stride(from: 0, to: mapped.bytes.count, by: window) {
                try put(UnsafeRawBufferPointer(rebasing: mapped.bytes[at..<min(mapped.bytes.count, at + window)]))
                mapped.dropResidentPages(from: at, upTo: at + window)
            }
            mapped.dropResidentPages()
        }
    }

    /// Row indexes ordered by household, then as the rows come (each list's rows
    /// stay in their order).
    static func householdOrder(_ rows: [WhatIfChanges.Row]) -> [Int32] {
        var keys = [UInt64](unsafeUninitializedCapacity: rows.count) { out, count in
            for (i, r) in rows.enumerated() { out[i] = UInt64(UInt32(bitPattern: r.householdIndex)) << 32 | UInt64(i) }
            count = rows.count
        }
        keys.sort()
        return keys.map { Int32(truncatingIfNeeded: $0) }
    }

    /// One decision (its reads in the side's tracer), or nil where the side has no
    /// such policy or list.
    func decide(_ side: Side, _ row: WhatIfChanges.Row, _ changes: WhatIfChanges.Changes) -> EntryDecision? {
        let h = Int(row.householdIndex)
        guard h >= 0 && h < data.householdCount else { return nil }
        let ctx = side.ctx
        side.tracer.reset()
        ctx.tracer = side.tracer
        defer { ctx.tracer = nil }
        let list = changes.list(row), policy = changes.policy(row)
        // Only a list with `after` reads the previous run.
        let after = policy.isEmpty && side.rules.list(list)?.after != nil
        if let l = side.loaded, l.household == h, l.previous == after {
            ctx.resetCaches()
        } else {
            let living = ctx.load(
                household: h, previous: after ? previous?.remembered(changes.household(row)) : nil)
            side.loaded = (h, after, living)
        }
        guard side.loaded!.living else { return nil }
        if !policy.isEmpty {
            guard let p = side.rules.policy(policy), p.skipped == nil else { return nil }
            var slot: Int?
            if row.personKey != 0 {
                slot = (0..<ctx.memberCount).first { data.personID[Int(ctx.member($0))] == row.personKey }
                guard slot != nil else { return nil }
            }
            return ctx.decide(policy: p, slot: slot)
        }
        guard let l = side.rules.list(list) else { return nil }
        return ctx.decide(list: l)
    }

    /// The values a side's decision read, by name (their order), then person (ID
    /// numbers' integer order is their text's): (value, person, result), the value
    /// an index into the definitions or -1 - k for the k-th previous(...).
    func valuesRead(_ side: Side, _ decided: Bool) -> [Tracer.ValueRead] {
        guard decided else { return [] }
        func rank(_ v: Int32) -> Int32 { v >= 0 ? side.valueRank[Int(v)] : side.rememberedRank[Int(-1 - v)] }
        return side.tracer.valuesRead.sorted {
            let (x, y) = (rank($0.value), rank($1.value))
            return x != y ? x < y : $0.person < $1.person
        }
    }

    /// A value's place in the order of the side's names.
    func rank(_ side: Side, _ v: Int32) -> Int32 {
        v >= 0 ? side.valueRank[Int(v)] : side.rememberedRank[Int(-1 - v)]
    }

    func name(_ side: Side, _ v: Int32) -> String {
        v >= 0 ? side.valueNames[Int(v)] : side.rememberedNames[Int(-1 - v)]
    }

    /// Whether two values read show the same text (unknown is unknown, whatever its facts).
    func sameText(_ a: Val, _ b: Val, _ ctx: EvalContext) -> Bool {
        if a.isUnknown && b.isUnknown { return true }
        return a == b || ctx.describe(a) == ctx.describe(b)
    }

    func line(_ row: WhatIfChanges.Row, _ changes: WhatIfChanges.Changes, before: Side, after: Side, into w: ByteWriter)
    {
        let b = decide(before, row, changes), a = decide(after, row, changes)
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
        w.string(changes.list(row))
        w.raw(",\"household_id\":")
        w.string(changes.household(row))
        w.raw(",\"person_id\":")
        if row.personKey != 0 { w.id(row.personKey) } else { w.raw("null") }
        w.raw(",\"policy\":")
        let policy = changes.policy(row)
        optional(policy.isEmpty ? nil : policy)
        w.raw(",\"change\":")
        w.string(row.change.word)
        w.raw(",\"before\":")
        decision(b)
        w.raw(",\"after\":")
        decision(a)
        // Criteria (policies) or reasons (household lists) whose result differs: the
        // codes of both sides in order, each once (the same codes in the same order
        // unless the reform's rules have others).
        let rb = b.map { $0.policy != nil ? $0.criteria : $0.reasons } ?? []
        let ra = a.map { $0.policy != nil ? $0.criteria : $0.reasons } ?? []
        w.raw(",\"flipped\":[")
        var first = true
        func flipped(_ code: String, _ x: Val?, _ y: Val?) {
            guard x?.truth != y?.truth || (x == nil) != (y == nil) else { return }
            if !first { w.byte(UInt8(ascii: ",")) }
            first = false
            w.byte(UInt8(ascii: "["))
            w.string(code)
            w.byte(UInt8(ascii: ","))
            optional(x?.truthWord)
            w.byte(UInt8(ascii: ","))
            optional(y?.truthWord)
            w.byte(UInt8(ascii: "]"))
        }
        if rb.count == ra.count && zip(rb, ra).allSatisfy({ $0.code == $1.code }) {
            for (x, y) in zip(rb, ra) { flipped(x.code, x.value, y.value) }
        } else {
            for code in (rb.map(\.code) + ra.map(\.code)).uniqued() {
                flipped(code, rb.first { $0.code == code }?.value, ra.first { $0.code == code }?.value)
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
                if sameNames {
                    // The same names: their ranks are in the names' order.
                    let (rx, ry) = (rank(before, x.value), rank(before, y.value))
                    order = rx != ry ? (rx < ry ? -1 : 1) : (x.person == y.person ? 0 : (x.person < y.person ? -1 : 1))
                } else {
                    let (nx, ny) = (name(before, x.value), name(after, y.value))
                    order = nx != ny ? (nx < ny ? -1 : 1) : (x.person == y.person ? 0 : (x.person < y.person ? -1 : 1))
                }
            } else {
                order = x != nil ? -1 : 1
            }
            let left = order <= 0 ? x : nil, right = order >= 0 ? y : nil
            if order <= 0 { i += 1 }
            if order >= 0 { j += 1 }
            if let left, let right, sameText(left.result, right.result, before.ctx) { continue }
            if !first { w.byte(UInt8(ascii: ",")) }
            first = false
            w.byte(UInt8(ascii: "["))
            w.string(left.map { name(before, $0.value) } ?? name(after, right!.value))
            w.byte(UInt8(ascii: ","))
            let person = (left ?? right)!.person
            if person == 0 { w.raw("null") } else { w.id(person) }
            w.byte(UInt8(ascii: ","))
            // As `describe` spells them, quoted (numbers and dates without a String between).
            if let left { w.value(left.result, ctx: before.ctx, tag: nil) } else { w.raw("null") }
            w.byte(UInt8(ascii: ","))
            if let right { w.value(right.result, ctx: after.ctx, tag: nil) } else { w.raw("null") }
            w.byte(UInt8(ascii: "]"))
        }
        // Parameters read on either side whose value or start differs, by id.
        if sameNames {
            // The same parameters on both sides: merged by rank, those the same on
            // both sides (`sameParameter`) passed over without their text.
            let rb = b != nil ? before.tracer.parameters.sorted() : []
            let ra = a != nil ? after.tracer.parameters.sorted() : []
            w.raw("],\"parameters\":[")
            first = true
            var i = 0, j = 0
            while i < rb.count || j < ra.count {
                let x = i < rb.count ? rb[i] : Int32.max, y = j < ra.count ? ra[j] : Int32.max
                let r = min(x, y)
                let left = x == r, right = y == r
                if left { i += 1 }
                if right { j += 1 }
                if left && right && sameParameter[Int(r)] { continue }
                if !first { w.byte(UInt8(ascii: ",")) }
                first = false
                w.byte(UInt8(ascii: "["))
                w.string(before.parameters[Int(r)].id)
                let (l, rt) = (before.parameters[Int(r)], after.parameters[Int(r)])
                for f in [left ? l.value : nil, right ? rt.value : nil, left ? l.from : nil, right ? rt.from : nil] {
                    w.byte(UInt8(ascii: ","))
                    optional(f)
                }
                w.byte(UInt8(ascii: "]"))
            }
            w.raw("]}")
            return
        }
        func parameters(_ side: Side, _ decided: Bool) -> [(id: String, value: String, from: String)] {
            // A parameter's rank is its id's place in byte order.
            decided ? side.tracer.parameters.sorted().map { side.parameters[Int($0)] } : []
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
