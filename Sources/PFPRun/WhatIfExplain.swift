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
final class WhatIfExplain {
    final class Side {
        let rules: RuleSet
        let ctx: EvalContext
        /// The worker's tracer, shared by its side before and every target's side
        /// after, with its memo: a value every side defines alike is worked out once
        /// per household (`ValueMemo`).
        let tracer: Tracer
        /// The household loaded (and whether with the previous run's record), and
        /// whether it has a living member: the next row of the same household
        /// clears the caches instead of loading it again.
        var loaded: (household: Int, previous: Bool, living: Bool)?
        /// The side before's decisions of the household explained now (`keptFor`),
        /// each made once for every reform that changes that entry.
        var kept: [(list: String, policy: String, person: UInt64)] = []
        var keptDecided: [Decided] = []
        var keptFor = -1
        /// Each parameter (by rank) as explanations show it: id, value on the run date, from.
        let parameters: [(id: String, value: String, from: String)]
        /// Each value's name (definitions by index, then previous(...)'s by number)
        /// and its place in the names' order.
        let valueNames: [String], rememberedNames: [String]
        let valueRank: [Int32], rememberedRank: [Int32]
        /// The same names, and each parameter's id, value and start, as JSON strings
        /// (made once: every line writes some of them).
        let valueNameJSON: [[UInt8]], rememberedNameJSON: [[UInt8]]
        let parameterJSON: [(id: [UInt8], value: [UInt8], from: [UInt8])]
        /// Its worker (the rules are that worker's replica).
        let worker: Int
        /// `alike`: the values taken from (and given to) the tracer's memo.
        init(
            rules: RuleSet, worker: Int, tracer: Tracer, alike: [Bool], data: IngestResult, lookup: ColumnIndex,
            presence: TagPresence?
        ) {
            self.worker = worker
            self.rules = rules
            self.tracer = tracer
            ctx = EvalContext(rules: rules, data: data.households, presence: presence)
            ctx.setPersonLookup { lookup.find($0) }
            if alike.contains(true) { ctx.shareValues(alike: alike, tracer: tracer) }
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
            valueNameJSON = valueNames.map(WhatIfExplain.json)
            rememberedNameJSON = rememberedNames.map(WhatIfExplain.json)
            parameterJSON = parameters.map {
                (WhatIfExplain.json($0.id), WhatIfExplain.json($0.value), WhatIfExplain.json($0.from))
            }
        }
    }

    /// Byte strings in one block of memory, read without reference counts (freed by
    /// their owner: `free`).
    struct ByteStrings {
        private let bytes: UnsafeMutableBufferPointer<UInt8>
        private let ends: UnsafeMutableBufferPointer<Int>
        init(_ items: [[UInt8]]) {
            bytes = .allocate(capacity: max(1, items.reduce(0) { $0 + $1.count }))
            ends = .allocate(capacity: max(1, items.count))
            var at = 0
            for (i, x) in items.enumerated() {
                for b in x {
                    bytes[at] = b
                    at += 1
                }
                ends[i] = at
            }
            count = items.count
        }
        let count: Int
        subscript(i: Int) -> UnsafeBufferPointer<UInt8> {
            precondition(i >= 0 && i < count, "no string \(i)")
            let start = i == 0 ? 0 : ends[i - 1]
            return UnsafeBufferPointer(rebasing: UnsafeBufferPointer(bytes)[start..<ends[i]])
        }
        func free() {
            bytes.deallocate()
            ends.deallocate()
        }
    }

    /// `s` as a JSON string (quoted and escaped as `ByteWriter.string` writes it).
    static func json(_ s: String) -> [UInt8] {
        let w = ByteWriter(capacity: s.utf8.count + 2)
        w.string(s)
        return w.out
    }

    /// A changed entry as its explanation reads it: 16 bytes (the rows of several
    /// reforms are held until their lines are made, in one pass over the households).
    struct Row {
        var personKey: UInt64
        /// The household's index in the stored ingest result.
        var householdIndex: Int32
        /// Index into the target's `policyIDs`, -1 for none.
        var policy: Int16
        /// Index into the target's `listIDs`.
        var list: UInt8
        var change: WhatIfChanges.Change
    }

    /// One reform's changed entries to explain (changes.csv's rows, in its order), its
    /// evaluators and the file the lines go to.
    final class Target {
        let rows: [Row]
        let listIDs: [String], policyIDs: [String]
        /// The same as JSON strings, in memory of the target's own (every worker
        /// reads them at once: no reference count bounces between the cores).
        let listJSON: ByteStrings, policyJSON: ByteStrings
        /// Each worker's evaluators under the reform's rules.
        let after: [Side]
        /// Each of `policyIDs` and `listIDs` in each worker's replica of the published
        /// rules (the side before) and of the reform's (nil where that side has none,
        /// or skips the policy): a worker reads only objects of its own replica.
        struct Found {
            let policies: [PolicyInfo?], lists: [ListInfo?]
        }
        let foundBefore: [Found], foundAfter: [Found]
        /// Both sides name the same values (and previous(...)s) and the same parameters,
        /// in the same order (a reform of numbers): their reads are ordered by rank alone.
        let sameNames: Bool
        /// With `sameNames`: each parameter (by rank) has the same value and start on
        /// both sides (in memory of the target's own, as `listJSON`).
        let sameParameter: UnsafeMutableBufferPointer<Bool>
        /// The reform's unpublished folder: changes.jsonl is written (and recorded) there.
        let dir: RunDirectory

        init(_ changes: WhatIfChanges.Changes, reform: RuleSet, explain e: WhatIfExplain, dir: RunDirectory) throws {
            guard changes.listIDs.count <= Int(UInt8.max), changes.policyIDs.count <= Int(Int16.max) else {
                throw PipelineError.failure(
                    stage: "whatif", "more than \(UInt8.max) lists or \(Int16.max) policies to explain",
                    hint: "the rules define fewer: report this as a bug")
            }
            rows = changes.rows.map {
                Row(
                    personKey: $0.personKey, householdIndex: $0.householdIndex, policy: Int16($0.policy),
                    list: UInt8($0.list), change: $0.change)
            }
            (listIDs, policyIDs, self.dir) = (changes.listIDs, changes.policyIDs, dir)
            listJSON = ByteStrings(listIDs.map(WhatIfExplain.json))
            policyJSON = ByteStrings(policyIDs.map(WhatIfExplain.json))
            let alike = e.before[0].rules.valuesDefinedAlike(reform)
            after = try reform.replicas(e.before.count).enumerated().map {
                Side(
                    rules: $0.element, worker: $0.offset, tracer: e.before[$0.offset].tracer, alike: alike,
                    data: e.data, lookup: e.lookup, presence: e.presence)
            }
            let b = e.before[0], a = after[0]
            let ids = (policies: changes.policyIDs, lists: changes.listIDs)
            func found(_ side: Side) -> Found {
                Found(
                    policies: ids.policies.map { id in side.rules.policy(id).flatMap { $0.skipped == nil ? $0 : nil } },
                    lists: ids.lists.map { side.rules.list($0) })
            }
            (foundBefore, foundAfter) = (e.before.map(found), after.map(found))
            sameNames =
                b.valueNames == a.valueNames && b.rememberedNames == a.rememberedNames
                && b.rules.parameterIDs == a.rules.parameterIDs
            let same =
                sameNames ? zip(b.parameters, a.parameters).map { $0.value == $1.value && $0.from == $1.from } : []
            sameParameter = .allocate(capacity: max(1, same.count))
            _ = sameParameter.initialize(from: same)
        }

        deinit {
            listJSON.free()
            policyJSON.free()
            sameParameter.deallocate()
        }

        func list(_ r: Row) -> String { listIDs[Int(r.list)] }
        func policy(_ r: Row) -> String { r.policy < 0 ? "" : policyIDs[Int(r.policy)] }
    }

    let data: IngestResult
    let previous: RunState?
    let lookup: ColumnIndex
    let presence: TagPresence?
    /// Each worker's evaluators under the published rules (every target's side before).
    let before: [Side]

    init(
        data: IngestResult, previous: RunState?, base: RuleSet, workers: Int, lookup: ColumnIndex,
        presence: TagPresence?
    ) throws {
        (self.data, self.previous, self.lookup, self.presence) = (data, previous, lookup, presence)
        let every = [Bool](repeating: true, count: base.values.count)
        before = try base.replicas(workers).enumerated().map {
            let tracer = Tracer()
            tracer.recordsTagReads = false
            tracer.memo = ValueMemo()
            return Side(
                rules: $0.element, worker: $0.offset, tracer: tracer, alike: every, data: data, lookup: lookup,
                presence: presence)
        }
    }

    /// Every target's changes.jsonl: each row's line, in its order, the lines made
    /// in parallel pieces and written a batch of pieces at a time (two batches in
    /// memory, never a whole file): the next batch is made on a thread of its own
    /// while this one is written. Each file is recorded in its target's folder.
    ///
    /// The rows of every target are explained in one pass over the households, in
    /// the stored order — each household's rows of every reform and list together,
    /// not reform by reform nor list by list: the people's pages are read once,
    /// front to back, and each household's data, read from memory for its first
    /// decision, is in the CPU's caches for the others (a sweep's ten values
    /// explain mostly the same households). Every sixteenth piece made, the pages
    /// read so far are let go for good (the kernel maps 64 KiB around each page
    /// read, or the whole large folio it lies in). A target's first list's lines go
    /// to its file as they come; each other list's to a part file of its own in the
    /// target's folder, handed over after, in list order: the file is the same, list
    /// by list.
    func lines(_ targets: [Target]) throws {
        let piece = Maker.piece, batch = 32
        final class Maker: @unchecked Sendable {
            static let piece = 256
            let explain: WhatIfExplain, targets: [Target]
            /// Where each target's rows start in the numbering of all of them.
            let offsets: [Int]
            /// Every row of every target (its number in `offsets`' numbering), in household order.
            let order: [UInt32]
            /// Every sixteenth piece made, the pages read so far go.
            let behind: EveryNth
            /// The explainer, each target and its rows, each worker's side before and
            /// each target's side after for each worker (`t * workers + w`), as
            /// references without counts: `explain` and `targets` hold them.
            struct Refs: @unchecked Sendable {
                let explain: Unmanaged<WhatIfExplain>
                let targets: UnsafeMutableBufferPointer<(Unmanaged<Target>, UnsafeBufferPointer<Row>)>
                let before: UnsafeMutableBufferPointer<Unmanaged<Side>>
                let after: UnsafeMutableBufferPointer<Unmanaged<Side>>
            }
            let refs: Refs
            deinit {
                refs.targets.deallocate()
                refs.before.deallocate()
                refs.after.deallocate()
            }
            init(_ e: WhatIfExplain, _ t: [Target]) {
                (explain, targets) = (e, t)
                func buffer<T>(_ a: [T]) -> UnsafeMutableBufferPointer<T> {
                    let b = UnsafeMutableBufferPointer<T>.allocate(capacity: max(1, a.count))
                    _ = b.initialize(from: a)
                    return b
                }
                refs = Refs(
                    explain: .passUnretained(e),
                    targets: buffer(t.map { x in (.passUnretained(x), x.rows.withUnsafeBufferPointer { $0 }) }),
                    before: buffer(e.before.map { .passUnretained($0) }),
                    after: buffer(t.flatMap { x in x.after.map { .passUnretained($0) } }))
                var o = [0]
                for x in t { o.append(o.last! + x.rows.count) }
                offsets = o
                order = WhatIfExplain.householdOrder(t.map(\.rows))
                behind = EveryNth(16) {
                    e.data.dropResidentPages()
                    e.previous?.dropResidentPages()
                }
            }
            /// The target and row of a number.
            func locate(_ g: Int) -> (target: Int, row: Int) {
                var t = 0
                while offsets[t + 1] <= g { t += 1 }
                return (t, g - offsets[t])
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
                        // The objects every row reads, taken without a reference count
                        // each (the maker holds them all for the whole pass).
                        let workers = explain.before.count
                        let before = refs.before[worker]
                        for g in order[(k * piece)..<min(order.count, (k + 1) * piece)] {
                            let (t, r) = locate(Int(g))
                            let (target, rows) = refs.targets[t]
                            refs.explain._withUnsafeGuaranteedRef { e in
                                target._withUnsafeGuaranteedRef { target in
                                    before._withUnsafeGuaranteedRef { before in
                                        refs.after[t * workers + worker]._withUnsafeGuaranteedRef { after in
                                            e.line(rows[r], target, before: before, after: after, into: w)
                                        }
                                    }
                                }
                            }
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
        let maker = Maker(self, targets)
        let order = maker.order
        let pieces = (order.count + piece - 1) / piece
        func start(_ first: Int) -> Background<[(lines: ByteWriter, ends: [Int])]>? {
            guard first < pieces else { return nil }
            let count = min(batch, pieces - first)
            return Background("pfp-whatif-explain") { maker.make(first, count) }
        }
        // Each target's file, and a part file for each of its lists after the first.
        let files = try targets.map { try FileIO.Writer(path: $0.dir.path("changes.jsonl"), direct: true) }
        let firstList = targets.map { $0.rows.first?.list ?? 0 }
        var parts: [[UInt8: FileIO.Writer]] = Array(repeating: [:], count: targets.count)
        defer { for p in parts { for w in p.values { try? FileIO.remove(w.path) } } }
        var first = 0
        var next = start(first)
        // Nothing returns (or throws) while a batch is still being made.
        defer { _ = try? next?.value() }
        while let made = next {
            let pieces = try made.value()
            let key0 = first * piece
            first += batch
            next = start(first)
            for (p, (lines, ends)) in pieces.enumerated() {
                // Each run of lines of one target's list, to its file or to the list's part.
                let base = key0 + p * piece
                var from = 0, j = 0
                while j < ends.count {
                    let (t, r) = maker.locate(Int(order[base + j]))
                    let rows = targets[t].rows, list = rows[r].list
                    let (start, end) = (maker.offsets[t], maker.offsets[t + 1])
                    while j + 1 < ends.count, case let g = Int(order[base + j + 1]), g >= start && g < end,
                        rows[g - start].list == list
                    {
                        j += 1
                    }
                    let run = UnsafeRawBufferPointer(rebasing: lines.bytes[from..<ends[j]])
                    if list == firstList[t] {
                        try files[t].write(run)
                    } else {
                        if parts[t][list] == nil {
                            parts[t][list] = try FileIO.Writer(
                                path: targets[t].dir.path(".changes-\(list).part"), check: .none)
                        }
                        try parts[t][list]!.write(run)
                    }
                    from = ends[j]
                    j += 1
                }
            }
        }
        // Each target's parts handed over to its file, the targets in parallel (each
        // file's bytes and digest made on one thread, in list order).
        let handOver = { (t: Int) throws in
            let (target, file) = (targets[t], files[t])
            for list in parts[t].keys.sorted() {
                let part = parts[t][list]!
                _ = try part.finish(sync: false)
                // Read out of the page cache a block at a time (no page of it mapped:
                // mapped, every page faulted in as the kernel copied it, at half speed).
                try file.append(file: part.path)
            }
            let sha = try file.finish()
            target.dir.add(name: "changes.jsonl", rows: target.rows.count, sha256: sha, bytes: file.bytesWritten)
        }
        var failed = [Error?](repeating: nil, count: targets.count)
        failed.withUnsafeMutableBufferPointer { f in
            Parallel.forEach(targets.count) { t in
                do { try handOver(t) } catch { f[t] = error }
            }
        }
        if let error = failed.lazy.compactMap({ $0 }).first { throw error }
    }

    /// Every target's rows (numbered one after the other) ordered by household,
    /// then as the numbers come (each target's rows in their order, the targets in
    /// theirs).
    static func householdOrder(_ targets: [[Row]]) -> [UInt32] {
        let total = targets.reduce(0) { $0 + $1.count }
        precondition(total <= Int(UInt32.max), "more rows to explain than a what-if holds")
        var keys = [UInt64](unsafeUninitializedCapacity: total) { out, count in
            var g = 0
            for rows in targets {
                for r in rows {
                    out[g] = UInt64(UInt32(bitPattern: r.householdIndex)) << 32 | UInt64(g)
                    g += 1
                }
            }
            count = total
        }
        keys.sort()
        return keys.map { UInt32(truncatingIfNeeded: $0) }
    }

    /// One decision (its reads in the side's tracer), or nil where the side has no
    /// such policy or list.
    /// `isBefore`: `side` is the side before (the published rules), else the target's reform.
    func decide(_ side: Side, _ row: Row, _ target: Target, isBefore: Bool) -> EntryDecision? {
        let h = Int(row.householdIndex)
        guard h >= 0 && h < data.householdCount else { return nil }
        let ctx = side.ctx
        side.tracer.reset()
        ctx.tracer = side.tracer
        defer { ctx.tracer = nil }
        let hasPolicy = row.policy >= 0
        let found = (isBefore ? target.foundBefore : target.foundAfter)[side.worker]
        let list = found.lists[Int(row.list)]
        // Only a list with `after` reads the previous run.
        let after = !hasPolicy && list?.after != nil
        if let l = side.loaded, l.household == h, l.previous == after {
            ctx.resetCaches()
        } else {
            let living = ctx.load(
                household: h, previous: after ? previous?.remembered(data.householdIDs[h]) : nil)
            side.loaded = (h, after, living)
        }
        guard side.loaded!.living else { return nil }
        if hasPolicy {
            guard let p = found.policies[Int(row.policy)] else { return nil }
            var slot: Int?
            if row.personKey != 0 {
                slot = (0..<ctx.memberCount).first { data.personID[Int(ctx.member($0))] == row.personKey }
                guard slot != nil else { return nil }
            }
            return ctx.decide(policy: p, slot: slot)
        }
        guard let l = list else { return nil }
        return ctx.decide(list: l)
    }

    /// What a line reads of one side's decision: the decision, the values it read
    /// (in `valuesRead`'s order) and the parameters it read (by rank).
    struct Decided {
        var decision: EntryDecision?
        var values: [Tracer.ValueRead]
        var parameters: [Int32]
    }

    func decided(_ side: Side, _ row: Row, _ target: Target, isBefore: Bool) -> Decided {
        guard let d = decide(side, row, target, isBefore: isBefore) else {
            return Decided(decision: nil, values: [], parameters: [])
        }
        // Both sorted where the tracer holds them: the arrays are shared, not copied
        // (the tracer's next reset makes new ones only while a copy is kept).
        side.tracer.sortParameters()
        return Decided(decision: d, values: valuesRead(side), parameters: side.tracer.parameters)
    }

    /// The side before's decision of a row, made once per household and entry
    /// (every reform's row of that entry reads the same).
    func decidedBefore(_ side: Side, _ row: Row, _ target: Target) -> Decided {
        let h = Int(row.householdIndex), list = target.list(row), policy = target.policy(row)
        if side.keptFor != h {
            side.kept.removeAll(keepingCapacity: true)
            side.keptDecided.removeAll(keepingCapacity: true)
            side.keptFor = h
        }
        for i in side.kept.indices
        where side.kept[i].person == row.personKey && side.kept[i].list == list && side.kept[i].policy == policy {
            return side.keptDecided[i]
        }
        let d = decided(side, row, target, isBefore: true)
        side.kept.append((list, policy, row.personKey))
        side.keptDecided.append(d)
        return d
    }

    /// The values a side's decision read, by name (their order), then person (ID
    /// numbers' integer order is their text's): (value, person, result), the value
    /// an index into the definitions or -1 - k for the k-th previous(...).
    func valuesRead(_ side: Side) -> [Tracer.ValueRead] {
        side.tracer.sortValuesRead(valueRank: side.valueRank, rememberedRank: side.rememberedRank)
        return side.tracer.valuesRead
    }

    /// A value's place in the order of the side's names.
    func rank(_ side: Side, _ v: Int32) -> Int32 {
        v >= 0 ? side.valueRank[Int(v)] : side.rememberedRank[Int(-1 - v)]
    }

    func name(_ side: Side, _ v: Int32) -> String {
        v >= 0 ? side.valueNames[Int(v)] : side.rememberedNames[Int(-1 - v)]
    }

    func nameJSON(_ side: Side, _ v: Int32) -> [UInt8] {
        v >= 0 ? side.valueNameJSON[Int(v)] : side.rememberedNameJSON[Int(-1 - v)]
    }

    /// Whether two values read show the same text (unknown is unknown, whatever its facts).
    func sameText(_ a: Val, _ b: Val, _ ctx: EvalContext) -> Bool {
        if a.isUnknown && b.isUnknown { return true }
        if a == b { return true }
        // Two values of one kind that differ are spelled apart (numbers by their
        // value, dates, words and truths one way each); values of two kinds may
        // spell alike (a word and a number).
        switch (a, b) {
        case (.num, .num), (.date, .date), (.word, .word), (.bool, .bool): return false
        default: return ctx.describe(a) == ctx.describe(b)
        }
    }

    func line(_ row: Row, _ target: Target, before: Side, after: Side, into w: ByteWriter) {
        let db = decidedBefore(before, row, target), da = decided(after, row, target, isBefore: false)
        let b = db.decision, a = da.decision
        let sameNames = target.sameNames, sameParameter = target.sameParameter
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
        // A result's truth word (`Val.truthWord`), quoted; null without a result.
        func truth(_ v: Val?) {
            guard let v else { w.raw("null"); return }
            switch v.truth {
            case true?: w.raw("\"true\"")
            case false?: w.raw("\"false\"")
            case nil: w.raw("\"unknown\"")
            }
        }
        func bytes(_ b: [UInt8]) { b.withUnsafeBufferPointer { w.append($0) } }
        w.raw("{\"list\":")
        w.append(target.listJSON[Int(row.list)])
        w.raw(",\"household_id\":")
        w.string(data.householdIDs[Int(row.householdIndex)])
        w.raw(",\"person_id\":")
        if row.personKey != 0 { w.id(row.personKey) } else { w.raw("null") }
        w.raw(",\"policy\":")
        if row.policy >= 0 { w.append(target.policyJSON[Int(row.policy)]) } else { w.raw("null") }
        w.raw(",\"change\":")
        switch row.change {
        case .added: w.raw("\"added\"")
        case .removed: w.raw("\"removed\"")
        case .changed: w.raw("\"changed\"")
        }
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
            truth(x)
            w.byte(UInt8(ascii: ","))
            truth(y)
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
        let vb = db.values, va = da.values
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
            if let left { bytes(nameJSON(before, left.value)) } else { bytes(nameJSON(after, right!.value)) }
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
            let rb = db.parameters, ra = da.parameters
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
                let (l, rt) = (before.parameterJSON[Int(r)], after.parameterJSON[Int(r)])
                bytes(l.id)
                w.byte(UInt8(ascii: ","))
                if left { bytes(l.value) } else { w.raw("null") }
                w.byte(UInt8(ascii: ","))
                if right { bytes(rt.value) } else { w.raw("null") }
                w.byte(UInt8(ascii: ","))
                if left { bytes(l.from) } else { w.raw("null") }
                w.byte(UInt8(ascii: ","))
                if right { bytes(rt.from) } else { w.raw("null") }
                w.byte(UInt8(ascii: "]"))
            }
            w.raw("]}")
            return
        }
        // A parameter's rank is its id's place in byte order.
        let pb = db.parameters.map { before.parameters[Int($0)] }, pa = da.parameters.map { after.parameters[Int($0)] }
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
