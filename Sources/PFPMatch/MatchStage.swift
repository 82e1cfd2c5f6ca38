import Foundation
import PFPCore
import PFPSchema
import PFPFormats
import PFPIngest
import PFPRules
import PFPProfile

/// The match stage: every policy and list for every household, in parallel chunks.
///
/// Two passes, each over chunks in parallel. The first decides every household's
/// entries (positions only) and what the next run remembers. The second takes
/// the lists in the file's order and, chunk by chunk, explains their entries
/// (each household loaded again for each list it is on): every chunk's text is
/// written as soon as the chunks before it are, so the file is written once, in
/// order, hashed as it is written, and never all in memory.
public struct MatchStage {
    /// Whether explain.jsonl is written. A what-if needs the entries only: no file
    /// is written, and the entries are made in one pass (`entriesInOnePass`).
    public var writesExplanations = true

    public init(writesExplanations: Bool = true) { self.writesExplanations = writesExplanations }

    /// Households per chunk of either pass.
    static let chunk = 2048

    /// An entry found by the first pass: its household, policy (-1: none) and
    /// member slot (-1: the household); its list is the run of positions it is in.
    struct Found { var household: Int32; var policy: Int16; var slot: Int16 }

    /// What the first pass found, per chunk.
    struct Decided {
        /// The chunk's entries, list by list (rule order), each list in its file's
        /// order (households come in byte order).
        var found: [[Found]]
        /// Where each list's run begins in `found[chunk]` (listCount + 1 bounds).
        var foundStart: [[Int]]
        /// The remembered households, encoded (RunState), and how many.
        var remembered: [(bytes: [UInt8], count: Int)]
        /// Households with a living member.
        var living: [Int]

        func entries(chunk c: Int, list l: Int) -> ArraySlice<Found> {
            found[c][foundStart[c][l]..<foundStart[c][l + 1]]
        }
    }

    /// The second pass's tasks: one per (list, chunk) with entries, lists in the
    /// file's order (list id, byte order), chunks in order; and where each task's
    /// entries go in the result (lists in rule order, chunks in order).
    struct ExplainTasks {
        var tasks: [(list: Int, chunk: Int)] = []
        var size: [Int] = []
        var at: [Int] = []
        var total = 0

        init(_ decided: Decided, rules: RuleSet, chunks: Int) {
            let fileOrder = rules.lists.indices.sorted {
                rules.lists[$0].id.utf8.lexicographicallyPrecedes(rules.lists[$1].id.utf8)
            }
            for l in fileOrder {
                for c in 0..<chunks where !decided.entries(chunk: c, list: l).isEmpty { tasks.append((l, c)) }
            }
            size = tasks.map { decided.entries(chunk: $0.chunk, list: $0.list).count }
            at = [Int](repeating: 0, count: tasks.count)
            var taskOf = [Int: Int]()
            for (t, x) in tasks.enumerated() { taskOf[x.list * chunks + x.chunk] = t }
            for l in 0..<rules.lists.count {
                for c in 0..<chunks {
                    if let t = taskOf[l * chunks + c] { at[t] = total; total += size[t] }
                }
            }
        }
    }

    /// One evaluator, tracer and set of explanation fragments per worker, with
    /// rules of its own (no shared reference counts between cores), for both
    /// passes (a context finds its place again when the households jump back).
    struct Workers {
        let contexts: [EvalContext]
        let tracers: [Tracer]
        let fragments: [ExplainFragments]

        init(
            data: IngestResult, rules: RuleSet, profiles: HouseholdProfilesView?, previous: RunState?, tasks: Int,
            shared: Shared? = nil
        ) throws {
            let workerRules = try rules.replicas(Parallel.workers(for: tasks))
            let lookup = previous == nil ? nil : shared?.lookup ?? ColumnIndex(keys: data.personID)
            let households = data.households
            let presence = shared?.presence ?? TagPresence(data: households)
            contexts = workerRules.map { rules in
                let ctx = EvalContext(rules: rules, data: households, presence: presence)
                if let lookup { ctx.setPersonLookup { lookup.find($0) } }
                ctx.stored = profiles?.replica()
                return ctx
            }
            tracers = workerRules.map { _ in Tracer() }
            fragments = workerRules.map { ExplainFragments(rules: $0, runDate: data.runDate) }
        }
    }

    /// What the evaluators of every run on the same households share: the person
    /// lookup (former members: a `ColumnIndex`, as it is read now and then) and
    /// which tags each household has rows for.
    public struct Shared {
        public let lookup: ColumnIndex
        public let presence: TagPresence?
        /// The run's outreach events found per household, for a caller that runs
        /// the match several times (nil: none, or not found once for all).
        public let outreach: OutreachLookup.Found?
        /// `dropBehind`: lets the pages of the columns read in place go, as they are
        /// done with (the stored ingest result a what-if reads).
        /// `outreachOnce`: the outreach events found here, once for every match run with it.
        public init(data: IngestResult, outreachOnce: Bool = false, dropBehind: (() -> Void)? = nil) {
            outreach = outreachOnce ? OutreachLookup.Found(data: data) : nil
            lookup = ColumnIndex(keys: data.personID)
            dropBehind?()
            presence = TagPresence(data: data.households, dropBehind: dropBehind)
            dropBehind?()
        }
    }

    /// Evaluates every household, then streams the explanations to `explainPath`
    /// (a temporary name, renamed when complete) in the file's order. Without
    /// explanations (`writesExplanations` false) no file is made: `explainPath` is
    /// not used.
    ///
    /// `households`: only these (indexes in increasing order) are decided, as
    /// `pfp whatif` does for the households a reform may change; nil: every one.
    ///
    /// `dropBehind` (without explanations): called between rounds of chunks, when
    /// every household before the next round is decided: the caller lets go of
    /// the pages of what it reads in place (the next rounds read later households'
    /// pages, further on in the same files).
    public func run(
        data: IngestResult, rules: RuleSet, profiles: HouseholdProfilesView?, previous: RunState?,
        explainPath: String, console: Console, households subset: [Int32]? = nil, shared: Shared? = nil,
        dropBehind: (() -> Void)? = nil
    ) throws -> MatchResult {
        let started = FileIO.now()
        guard rules.policies.count <= Int(Int16.max) else {
            throw PipelineError.badInput(
                stage: "match", "\(rules.policies.count) policies: at most \(Int16.max) are supported")
        }
        let decidedCount = subset?.count ?? data.householdCount
        let chunks = (decidedCount + MatchStage.chunk - 1) / MatchStage.chunk
        // As many workers as the second pass's tasks can use: up to one per list and chunk.
        let workers = try Workers(
            data: data, rules: rules, profiles: profiles, previous: previous, tasks: chunks * max(1, rules.lists.count),
            shared: shared)
        let outreach: OutreachLookup?
        if let found = shared?.outreach {
            outreach = try OutreachLookup(found, data: data, rules: rules)
        } else {
            outreach = try OutreachLookup(data: data, rules: rules)
        }
        if !writesExplanations {
            let made = try entriesInOnePass(
                data: data, rules: rules, previous: previous, outreach: outreach, workers: workers, chunks: chunks,
                subset: subset, dropBehind: dropBehind)
            console.detail(String(format: "    households decided, entries made: %.2f s", FileIO.now() - started))
            // No outreach summary: it feeds the nightly report's take-up table, which
            // a what-if does not publish.
            return MatchResult(
                entries: made.entries, listIDs: rules.lists.map(\.id), householdIDs: data.householdIDs,
                policyIDs: rules.policies.map(\.id), codes: made.codes, state: RunState(runDate: data.runDate),
                households: made.living, people: data.member.reduce(0) { $0 + Int($1) })
        }
        let decided = try decide(
            data: data, rules: rules, previous: previous, outreach: outreach, workers: workers, chunks: chunks,
            subset: subset)
        console.detail(String(format: "    households decided: %.2f s", FileIO.now() - started))
        let outreachSummary =
            outreach.map { OutreachSummary(data.outreach, $0, ctx: workers.contexts[0]) } ?? OutreachSummary()

        let tasks = ExplainTasks(decided, rules: rules, chunks: chunks)
        var explained = try explain(
            decided, tasks, data: data, previous: previous, outreach: outreach, workers: workers,
            explainPath: explainPath)
        console.detail(
            String(format: "    households evaluated, explanations written: %.2f s", FileIO.now() - started))
        let (codes, pushKeys) = try gather(&explained, tasks)

        var state = RunState(runDate: data.runDate)
        state.setRemembered(decided.remembered.map(\.bytes), count: decided.remembered.reduce(0) { $0 + $1.count })
        // Keys of lists with a status column, for the next run's new/repeat.
        // (One explanation per entry: each task checks it before placing its entries.)
        state.pushKeys = pushKeys
        console.detail(String(format: "    keyed: %.2f s", FileIO.now() - started))
        var result = MatchResult(
            entries: explained.entries, listIDs: rules.lists.map(\.id), householdIDs: data.householdIDs,
            policyIDs: rules.policies.map(\.id),
            codes: codes, explainPath: explainPath, explainRows: explained.file.rows,
            explainSHA: explained.file.sha, explainBytes: explained.file.bytes, state: state,
            households: decided.living.reduce(0, +), people: data.member.reduce(0) { $0 + Int($1) })
        result.outreach = outreachSummary
        return result
    }

    /// The first pass: every household's entries as positions, in published order
    /// (list, then person ID, then policy), and what the next run remembers.
    func decide(
        data: IngestResult, rules: RuleSet, previous: RunState?, outreach: OutreachLookup?, workers: Workers,
        chunks: Int, subset: [Int32]? = nil
    ) throws -> Decided {
        let hCount = subset?.count ?? data.householdCount, listCount = rules.lists.count
        let policyRank = MatchStage.policyRanks(rules)
        let target = rules.rememberedList.flatMap { id in rules.lists.firstIndex { $0.id == id } }
        var decided = Decided(
            found: .init(repeating: [], count: chunks), foundStart: .init(repeating: [], count: chunks),
            remembered: .init(repeating: ([], 0), count: chunks), living: .init(repeating: 0, count: chunks))
        let tooManyMembers = NSLock()
        var memberFailure: PipelineError?
        Meter.shared.start("deciding households", unit: "households", total: hCount)
        decided.found.withUnsafeMutableBufferPointer { foundBuf in
            decided.foundStart.withUnsafeMutableBufferPointer { startBuf in
                decided.remembered.withUnsafeMutableBufferPointer { remBuf in
                    decided.living.withUnsafeMutableBufferPointer { livBuf in
                        Parallel.forEach(chunks) { (worker: Int, c: Int) in
                            let range = (c * MatchStage.chunk)..<min(hCount, (c + 1) * MatchStage.chunk)
                            defer { Meter.shared.add(range.count) }
                            do {
                                let x = try decide(
                                    subset.map { s in range.map { Int(s[$0]) } } ?? Array(range),
                                    ctx: workers.contexts[worker], data: data, listCount: listCount,
                                    previous: previous, outreach: outreach, remembering: target,
                                    policyRank: policyRank)
                                foundBuf[c] = x.found
                                startBuf[c] = x.starts
                                remBuf[c] = x.remembered
                                livBuf[c] = x.living
                            } catch {
                                tooManyMembers.lock()
                                memberFailure = error as? PipelineError
                                tooManyMembers.unlock()
                            }
                        }
                    }
                }
            }
        }
        if let memberFailure { throw memberFailure }
        return decided
    }

    /// One chunk of the first pass: its households' entries, list by list, in
    /// published order (list, then person ID, then policy); the households it
    /// remembers for the next run; how many have a living member.
    func decide(
        _ households: [Int], ctx: EvalContext, data: IngestResult, listCount: Int, previous: RunState?,
        outreach: OutreachLookup?, remembering target: Int?, policyRank: [Int]
    ) throws -> (found: [Found], starts: [Int], remembered: (bytes: [UInt8], count: Int), living: Int) {
        var byList = [[Found]](repeating: [], count: listCount)
        var rem: [UInt8] = []
        var remCount = 0
        var n = 0
        var positions: [EntryPosition] = []
        var failure: PipelineError?
        for h in households {
            let hid = data.householdIDs[h]
            let prev = previous?.remembered(hid)
            guard ctx.load(household: h, previous: prev) else { continue }
            n += 1
            positions.removeAll(keepingCapacity: true)
            ctx.entryPositions(wasOnAfterList: prev != nil, into: &positions)
            if let target, positions.contains(where: { $0.list == target }) {
                RunState.encode(id: hid, remembering: ctx, into: &rem)
                remCount += 1
            }
            if positions.isEmpty { continue }
            do {
                for e in try MatchStage.published(
                    &positions, household: h, ctx: ctx, data: data, outreach: outreach, policyRank: policyRank)
                {
                    byList[Int(e.list)].append(Found(household: Int32(h), policy: Int16(e.policy), slot: Int16(e.slot)))
                }
            } catch let e as PipelineError {
                failure = e
            }
        }
        if let failure { throw failure }
        var starts = [0]
        for l in byList { starts.append(starts.last! + l.count) }
        return (byList.flatMap { $0 }, starts, (rem, remCount), n)
    }

    /// Each policy's place in the published order within a household and person
    /// (policy ids in byte order).
    static func policyRanks(_ rules: RuleSet) -> [Int] {
        var rank = [Int](repeating: 0, count: rules.policies.count)
        for (r, p) in rules.policies.indices.sorted(by: {
            rules.policies[$0].id.utf8.lexicographicallyPrecedes(rules.policies[$1].id.utf8)
        }).enumerated() {
            rank[p] = r
        }
        return rank
    }

    /// The loaded household h's positions (`entryPositions`, not empty) held back
    /// where an outreach event decides so, in published order: list, then person ID,
    /// then policy. Throws for a household with more members than a position holds.
    static func published(
        _ positions: inout [EntryPosition], household h: Int, ctx: EvalContext, data: IngestResult,
        outreach: OutreachLookup?, policyRank: [Int]
    ) throws -> [EntryPosition] {
        if let outreach, outreach.hasEvents(household: h) {
            ctx.rules.hold(&positions, ctx: ctx, holders: outreach.holder) { person, policy in
                outreach.deciding(household: h, person: person, policy: policy)
            }
        }
        if ctx.memberCount > Int(Int16.max) {
            throw PipelineError.badInput(
                stage: "match",
                "household \(data.householdIDs[h]) has \(ctx.memberCount) members: at most \(Int16.max) are supported")
        }
        return positions.map { e in
            (
                list: Int(e.list), person: e.slot >= 0 ? data.personID[Int(ctx.member(Int(e.slot)))] : 0,
                policy: e.policy >= 0 ? policyRank[Int(e.policy)] : -1, entry: e
            )
        }
        .sorted { ($0.list, $0.person, $0.policy) < ($1.list, $1.person, $1.policy) }.map(\.entry)
    }

    /// What the second pass made: the entries in their places, each task's codes
    /// and keys (code ranges relative to the task's own codes), and the file.
    struct Explained {
        var entries: [PublishedEntry]
        var taskCodes: [[String]]
        var taskKeys: [[String]]
        var file: (rows: Int, sha: String, bytes: Int)
    }

    /// The second pass: every task's entries explained, in parallel, each written
    /// once into its place in the result and its text into the file in order.
    func explain(
        _ decided: Decided, _ plan: ExplainTasks, data: IngestResult, previous: RunState?,
        outreach: OutreachLookup?, workers: Workers, explainPath: String
    ) throws -> Explained {
        let sink = try ExplainSink(path: explainPath)
        let tasks = plan.tasks
        let readsPrevious = workers.contexts[0].rules.lists.map { $0.after != nil }
        final class Scratch { var entries: [PublishedEntry] = [] }
        let scratch = workers.contexts.map { _ in Scratch() }
        var taskCodes = [[String]](repeating: [], count: tasks.count)
        var taskKeys = [[String]](repeating: [], count: tasks.count)
        let entries = [PublishedEntry](unsafeUninitializedCapacity: plan.total) { buf, n in
            let base = buf.baseAddress  // nil when there are no entries
            taskCodes.withUnsafeMutableBufferPointer { codeBuf in
                taskKeys.withUnsafeMutableBufferPointer { keyBuf in
                    Parallel.forEach(tasks.count) { (worker: Int, t: Int) in
                        let (l, c) = tasks[t]
                        let ctx = workers.contexts[worker], tracer = workers.tracers[worker]
                        let mine = scratch[worker]
                        mine.entries.removeAll(keepingCapacity: true)
                        var codeStore: [String] = []
                        var keys: [String] = []
                        let text = sink.buffer()
                        let run = decided.entries(chunk: c, list: l)
                        var i = run.startIndex
                        var positions: [EntryPosition] = []
                        while i < run.endIndex {
                            let h = Int(run[i].household)
                            positions.removeAll(keepingCapacity: true)
                            while i < run.endIndex && Int(run[i].household) == h {
                                positions.append(
                                    EntryPosition(
                                        list: Int32(l), policy: Int32(run[i].policy), slot: Int32(run[i].slot)))
                                i += 1
                            }
                            // Only a list with `after` reads the previous run (previous(...),
                            // previous_members): the others load without it.
                            ctx.load(
                                household: h,
                                previous: readsPrevious[l] ? previous?.remembered(data.householdIDs[h]) : nil)
                            explain(
                                list: l, positions, ctx: ctx, data: data, outreach: outreach, tracer: tracer,
                                previousState: previous,
                                fragments: workers.fragments[worker],
                                entries: &mine.entries, codes: &codeStore, text: text, keys: &keys)
                        }
                        mine.entries.withUnsafeBufferPointer { e in
                            precondition(e.count == run.count, "one entry per position found")
                            if let src = e.baseAddress, let base {
                                (base + plan.at[t]).initialize(from: src, count: e.count)
                            }
                        }
                        codeBuf[t] = codeStore
                        keyBuf[t] = keys
                        sink.deliver(task: t, text, rows: run.count)
                    }
                }
            }
            n = plan.total
        }
        let file = try sink.finish()
        return Explained(entries: entries, taskCodes: taskCodes, taskKeys: taskKeys, file: file)
    }

    /// The tasks' codes and keys joined in task order; each task's entries' code
    /// ranges move by as much as the codes before it. Moved into place in
    /// parallel, each task's own arrays let go there too (at city scale, tens of
    /// millions of strings: joined and released on one core they cost seconds).
    func gather(_ x: inout Explained, _ plan: ExplainTasks) throws -> (codes: [String], keys: [String]) {
        let count = plan.tasks.count
        var codeBase = [Int](repeating: 0, count: count), keyBase = [Int](repeating: 0, count: count)
        var codeTotal = 0, keyTotal = 0
        for t in 0..<count {
            codeBase[t] = codeTotal; codeTotal += x.taskCodes[t].count
            keyBase[t] = keyTotal; keyTotal += x.taskKeys[t].count
        }
        guard codeTotal <= Int(Int32.max) else {
            throw PipelineError.badInput(
                stage: "match", "\(codeTotal) codes in the lists: at most \(Int32.max) are supported")
        }
        /// `a`'s elements copied into `dst` from `at`.
        func place(_ a: [String], _ dst: UnsafeMutableBufferPointer<String>, at: Int) {
            a.withUnsafeBufferPointer {
                if $0.count > 0 { (dst.baseAddress! + at).initialize(from: $0.baseAddress!, count: $0.count) }
            }
        }
        var keys: [String] = []
        let codes = [String](unsafeUninitializedCapacity: codeTotal) { codeBuf, codeCount in
            keys = [String](unsafeUninitializedCapacity: keyTotal) { keyBuf, keyCount in
                x.entries.withUnsafeMutableBufferPointer { entries in
                    x.taskCodes.withUnsafeMutableBufferPointer { cb in
                        x.taskKeys.withUnsafeMutableBufferPointer { kb in
                            Parallel.forEach(count) { t in
                                let shift = Int32(codeBase[t])
                                for i in plan.at[t]..<(plan.at[t] + plan.size[t]) { entries[i].codeStart += shift }
                                place(cb[t], codeBuf, at: codeBase[t])
                                place(kb[t], keyBuf, at: keyBase[t])
                                cb[t] = []
                                kb[t] = []
                            }
                        }
                    }
                }
                keyCount = keyTotal
            }
            codeCount = codeTotal
        }
        return (codes, keys)
    }

    /// Re-evaluates each entry with a fresh trace: its amount, codes and explanation,
    /// appended to its list's entries and explanation text. `keepingCaches` (the
    /// one pass, which traces nothing but to-verify entries): the household's values
    /// and eligibilities worked out so far are reused, not evaluated again.
    func explain(
        list l: Int, _ fast: [EntryPosition], ctx: EvalContext, data: IngestResult, outreach: OutreachLookup?,
        tracer: Tracer, previousState: RunState?,
        fragments: ExplainFragments,
        entries out: inout [PublishedEntry], codes codeStore: inout [String], text: ByteWriter, keys: inout [String],
        keepingCaches: Bool = false
    ) {
        let rules = ctx.rules
        let h = ctx.household
        let head = Int(ctx.headPerson)
        let hid = data.householdIDs[h]
        for e in fast {
            tracer.reset()
            // The unknown facts of a to-verify entry come from the trace; without
            // explanations only such an entry is traced (decided again with it).
            ctx.tracer = writesExplanations ? tracer : nil
            // The one pass (no explanations) reuses what finding the positions worked out.
            if keepingCaches { ctx.forgetPosition() } else { ctx.resetCaches() }
            let slot = e.slot >= 0 ? Int(e.slot) : nil
            let personKey = slot.map { data.personID[Int(ctx.member($0))] } ?? 0
            let list = rules.lists[l]
            let policy = e.policy >= 0 ? rules.policies[Int(e.policy)] : nil
            var d = ctx.decide(at: e)
            if !writesExplanations && d.certainty == .toVerify {
                ctx.tracer = tracer
                ctx.resetCaches()
                d = ctx.decide(at: e)
            }
            ctx.tracer = nil
            let personID = slot == nil ? "" : IDNumber(key: personKey).description
            // The deciding outreach event of an entry of a list that is held back, or holds back.
            var event: OutreachEvent?
            if let outreach, let policy, outreach.holder[l] >= 0 || list.heldFrom != nil {
                event = outreach.deciding(household: h, person: personKey, policy: policy.index)
            }
            let note = event.map { OutreachNote(event: $0, heldBack: list.heldFrom != nil, rules: outreach!.rules) }
            var status = PublishedEntry.EntryStatus.none
            if list.columns.contains(.status) {
                let key = RunState.pushKey(list: list.id, household: hid, person: personID, policy: policy?.id ?? "")
                status = previousState?.pushKeyLookup.contains(key) == true ? .repeat : .new
                keys.append(key)
            }
            if writesExplanations {
                Explanation.bytes(
                    listJSON: fragments.listName(l), triggers: list.columns.contains(.triggers), householdID: hid,
                    personID: personID,
                    policyJSON: e.policy >= 0 ? fragments.policyName(Int(e.policy)) : nil,
                    certainty: d.certainty, amount: d.amount, codes: d.codes, status: status.text,
                    criteria: d.criteria, reasons: d.reasons, outreach: note, tracer: tracer, ctx: ctx,
                    fragments: fragments,
                    into: text)
                text.byte(UInt8(ascii: "\n"))
            }
            let codeStart = Int32(codeStore.count)
            codeStore.append(contentsOf: d.codes)
            var entry = PublishedEntry(
                list: Int32(l), household: Int32(h), policy: e.policy,
                certainty: d.certainty, status: status,
                personKey: personKey, amountValue: d.amount.map { Int64($0) } ?? Int64.min,
                codeStart: codeStart, codeCount: Int32(d.codes.count),
                district: data.district[head], street: data.street[head], community: data.community[head])
            if let note {
                entry.outcome = note.event.outcome.rawValue
                entry.outcomeDate = note.event.date
                entry.until = note.until?.days ?? 0
            }
            out.append(entry)
        }
        if !keepingCaches { ctx.resetCaches() }
    }
}
