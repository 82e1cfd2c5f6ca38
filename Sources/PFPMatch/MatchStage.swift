import Foundation
import PFPCore
import PFPIngest
import PFPRules
import PFPProfile

/// A list entry ready for publication. Plain numbers only (no text, no reference
/// counts): at city scale there are millions, and they are copied, stored and
/// grouped; `MatchResult` turns them into text. Its explanation is in the match
/// stage's `explain.jsonl`.
public struct PublishedEntry: Sendable {
    /// The list's index in the rule files' order.
    public var list: Int32
    /// Index into `MatchResult.householdIDs`.
    public var household: Int32
    /// Index into `MatchResult.policyIDs`; -1 for a household list.
    public var policy: Int32
    public var certainty: Certainty
    public var status: EntryStatus
    /// The person's ID key; 0 for an entry of the household.
    public var personKey: UInt64
    /// Whole yuan; `Int64.min` for none.
    public var amountValue: Int64
    /// The entry's codes: `MatchResult.codes[codeStart ..< codeStart + codeCount]`
    /// (unknown_facts, failed_criteria, reasons or triggers).
    public var codeStart: Int32
    public var codeCount: Int32
    public var district: Int32
    public var street: Int32
    public var community: Int64

    public var amount: Int? { amountValue == Int64.min ? nil : Int(amountValue) }

    /// The words of `certainty` and `status` as UTF-8, by raw value (made once: the
    /// lists and the stored result write them for every entry).
    public static let certaintyUTF8: [[UInt8]] = (0...UInt8.max).map {
        Array((Certainty(rawValue: $0)?.text ?? "").utf8)
    }
    public static let statusUTF8: [[UInt8]] = (0...UInt8.max).map {
        Array((EntryStatus(rawValue: $0)?.text ?? "").utf8)
    }

    public enum EntryStatus: UInt8, Sendable {
        case none, new, `repeat`
        public var text: String {
            switch self {
            case .none: return ""
            case .new: return "new"
            case .repeat: return "repeat"
            }
        }
        public init(text: String) { self = text == "new" ? .new : (text == "repeat" ? .repeat : .none) }
    }
}

public struct MatchResult {
    /// List by list (rule order), each in its file's order.
    public var entries: [PublishedEntry]
    /// Names the entries' numbers stand for.
    public var listIDs: [String]
    public var householdIDs: [String]
    public var policyIDs: [String]
    public var codes: [String]
    /// explain.jsonl, written by the match stage while it evaluates, in the order of the entries.
    public var explainPath: String? = nil
    public var explainRows = 0
    /// The file's sha256 and size.
    public var explainSHA = ""
    public var explainBytes = 0
    public var state: RunState
    public var households: Int
    public var people: Int

    public func list(_ e: PublishedEntry) -> String { listIDs[Int(e.list)] }
    public func householdID(_ e: PublishedEntry) -> String { householdIDs[Int(e.household)] }
    public func personID(_ e: PublishedEntry) -> String {
        e.personKey == 0 ? "" : IDNumber(key: e.personKey).description
    }
    public func policy(_ e: PublishedEntry) -> String { e.policy < 0 ? "" : policyIDs[Int(e.policy)] }
    public func codes(_ e: PublishedEntry) -> ArraySlice<String> {
        codes[Int(e.codeStart)..<Int(e.codeStart + e.codeCount)]
    }
}

/// The match stage: every policy and list for every household, in parallel chunks.
public struct MatchStage {
    public init() {}

    /// An entry found by the first pass: its household, policy (-1: none) and
    /// member slot (-1: the household); its list is the run of positions it is in.
    struct Found { var household: Int32; var policy: Int16; var slot: Int16 }

    /// Evaluates every household, then streams the explanations to `explainPath`
    /// (a temporary name, renamed when complete) in the file's order.
    ///
    /// Two passes, each over chunks in parallel. The first decides every household's
    /// entries (positions only) and what the next run remembers. The second takes
    /// the lists in the file's order and, chunk by chunk, explains their entries
    /// (each household loaded again for each list it is on): every chunk's text is
    /// written as soon as the chunks before it are, so the file is written once, in
    /// order, hashed as it is written, and never all in memory.
    public func run(
        data: IngestResult, rules: RuleSet, profiles: HouseholdProfilesView?, previous: RunState?,
        explainPath: String, console: Console
    ) throws -> MatchResult {
        let started = FileIO.now()
        let hCount = data.householdCount
        let chunk = 2048
        let chunks = (hCount + chunk - 1) / chunk
        let listCount = rules.lists.count
        // Published order within a household: person ID, then policy (byte order).
        var policyRank = [Int](repeating: 0, count: rules.policies.count)
        for (rank, p) in rules.policies.indices.sorted(by: {
            rules.policies[$0].id.utf8.lexicographicallyPrecedes(rules.policies[$1].id.utf8)
        }).enumerated() {
            policyRank[p] = rank
        }
        guard rules.policies.count <= Int(Int16.max) else {
            throw PipelineError.badInput(
                stage: "match", "\(rules.policies.count) policies: at most \(Int16.max) are supported")
        }
        // found[chunk]: the chunk's entries, list by list (rule order), each list in
        // its file's order (households come in byte order); foundStart[chunk][list]
        // where each list's run begins (listCount + 1 bounds).
        var found = [[Found]](repeating: [], count: chunks)
        var foundStart = [[Int]](repeating: [], count: chunks)
        var remembered = [(bytes: [UInt8], count: Int)](repeating: ([], 0), count: chunks)
        var living = [Int](repeating: 0, count: chunks)
        let lookup = previous == nil ? nil : IDIndex(keys: data.personID)
        let target = rules.rememberedList.flatMap { id in rules.lists.firstIndex { $0.id == id } }
        // Rules of its own for each worker (no shared reference counts between cores).
        // (As many as the second pass's tasks can use: up to one per list and chunk.)
        let workerRules = try rules.replicas(Parallel.workers(for: chunks * max(1, listCount)))
        let workerFragments = workerRules.map { ExplainFragments(rules: $0, runDate: data.runDate) }
        // One evaluator and one tracer per worker, for both passes (a context finds
        // its place again when the households jump back).
        let presence = TagPresence(data: data)
        let contexts = workerRules.map { rules in
            let ctx = EvalContext(rules: rules, data: data, presence: presence)
            if let lookup { ctx.setPersonLookup { lookup.find($0) } }
            ctx.stored = profiles?.replica()
            return ctx
        }
        let tracers = workerRules.map { _ in Tracer() }
        let tooManyMembers = NSLock()
        var memberFailure: PipelineError?
        found.withUnsafeMutableBufferPointer { foundBuf in
            foundStart.withUnsafeMutableBufferPointer { startBuf in
                remembered.withUnsafeMutableBufferPointer { remBuf in
                    living.withUnsafeMutableBufferPointer { livBuf in
                        Parallel.forEach(chunks) { (worker: Int, c: Int) in
                            let ctx = contexts[worker]
                            var byList = [[Found]](repeating: [], count: listCount)
                            var rem: [UInt8] = []
                            var remCount = 0
                            var n = 0
                            var positions: [EntryPosition] = []
                            for h in (c * chunk)..<min(hCount, (c + 1) * chunk) {
                                let hid = data.householdIDs[h]
                                let prev = previous?.remembered(hid)
                                guard ctx.load(household: h, previous: prev) else { continue }
                                n += 1
                                positions.removeAll(keepingCapacity: true)
                                ctx.entryPositions(wasOnAfterList: prev != nil, into: &positions)
                                if let target, positions.contains(where: { $0.list == target }) {
                                    RunState.encode(id: hid, remembering: ctx, into: &rem); remCount += 1
                                }
                                if positions.isEmpty { continue }
                                if ctx.memberCount > Int(Int16.max) {
                                    tooManyMembers.lock();
                                    memberFailure = PipelineError.badInput(
                                        stage: "match",
                                        "household \(hid) has \(ctx.memberCount) members: at most \(Int16.max) "
                                            + "are supported"
                                    ); tooManyMembers.unlock()
                                    continue
                                }
                                // Published order: list, then person ID, then policy.
                                let keyed = positions.map { e in
                                    (
                                        list: Int(e.list),
                                        person: e.slot >= 0 ? data.personID[Int(ctx.member(Int(e.slot)))] : 0,
                                        policy: e.policy >= 0 ? policyRank[Int(e.policy)] : -1, entry: e
                                    )
                                }
                                .sorted { ($0.list, $0.person, $0.policy) < ($1.list, $1.person, $1.policy) }
                                for k in keyed {
                                    byList[k.list].append(
                                        Found(
                                            household: Int32(h), policy: Int16(k.entry.policy),
                                            slot: Int16(k.entry.slot)))
                                }
                            }
                            var starts = [0]
                            for l in byList { starts.append(starts.last! + l.count) }
                            foundBuf[c] = byList.flatMap { $0 }
                            startBuf[c] = starts
                            remBuf[c] = (rem, remCount)
                            livBuf[c] = n
                        }
                    }
                }
            }
        }
        if let memberFailure { throw memberFailure }
        console.detail(String(format: "    households decided: %.2f s", FileIO.now() - started))

        // The second pass: one task per (list, chunk) with entries, lists in the
        // file's order (list id, byte order), chunks in order.
        let sink = try ExplainSink(path: explainPath)
        let fileOrder = rules.lists.indices.sorted {
            rules.lists[$0].id.utf8.lexicographicallyPrecedes(rules.lists[$1].id.utf8)
        }
        var tasks: [(list: Int, chunk: Int)] = []
        for l in fileOrder {
            for c in 0..<chunks where foundStart[c][l + 1] > foundStart[c][l] { tasks.append((l, c)) }
        }
        // Every position found is one entry: each task's entries have their place
        // in the result (lists in rule order, chunks in order) before they are
        // explained, and are written there once, from a buffer each worker keeps.
        let size = tasks.map { foundStart[$0.chunk][$0.list + 1] - foundStart[$0.chunk][$0.list] }
        var at = [Int](repeating: 0, count: tasks.count)
        var total = 0
        do {
            var taskOf = [Int: Int]()
            for (t, x) in tasks.enumerated() { taskOf[x.list * chunks + x.chunk] = t }
            for l in 0..<listCount {
                for c in 0..<chunks {
                    if let t = taskOf[l * chunks + c] { at[t] = total; total += size[t] }
                }
            }
        }
        final class Scratch { var entries: [PublishedEntry] = [] }
        let scratch = contexts.map { _ in Scratch() }
        var taskCodes = [[String]](repeating: [], count: tasks.count)
        var keys = [[String]](repeating: [], count: tasks.count)
        var codes: [String] = []
        var pushKeys: [String] = []
        var explained = (rows: 0, sha: "", bytes: 0)
        let entries = try [PublishedEntry](unsafeUninitializedCapacity: total) { buf, n in
            let base = buf.baseAddress  // nil when there are no entries
            taskCodes.withUnsafeMutableBufferPointer { codeBuf in
                keys.withUnsafeMutableBufferPointer { keyBuf in
                    Parallel.forEach(tasks.count) { (worker: Int, t: Int) in
                        let (l, c) = tasks[t]
                        let ctx = contexts[worker], tracer = tracers[worker], fragments = workerFragments[worker]
                        let mine = scratch[worker]
                        mine.entries.removeAll(keepingCapacity: true)
                        var codeStore: [String] = []
                        var taskKeys: [String] = []
                        let text = sink.buffer()
                        let run = found[c][foundStart[c][l]..<foundStart[c][l + 1]]
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
                            ctx.load(household: h, previous: previous?.remembered(data.householdIDs[h]))
                            explain(
                                list: l, positions, ctx: ctx, tracer: tracer, previousState: previous,
                                fragments: fragments,
                                entries: &mine.entries, codes: &codeStore, text: text, keys: &taskKeys)
                        }
                        mine.entries.withUnsafeBufferPointer { e in
                            precondition(e.count == run.count, "one entry per position found")
                            if let src = e.baseAddress, let base {
                                (base + at[t]).initialize(from: src, count: e.count)
                            }
                        }
                        codeBuf[t] = codeStore
                        keyBuf[t] = taskKeys
                        sink.deliver(task: t, text, rows: run.count)
                    }
                }
            }
            explained = try sink.finish()
            console.detail(
                String(format: "    households evaluated, explanations written: %.2f s", FileIO.now() - started))
            // Each task's codes follow the tasks' before it, so its entries' code
            // ranges move by as much. Codes and keys are moved into place in
            // parallel, each task's own arrays let go there too (at city scale, tens
            // of millions of strings: joined and released on one core they cost seconds).
            var codeBase = [Int](repeating: 0, count: tasks.count), keyBase = [Int](repeating: 0, count: tasks.count)
            var codeTotal = 0, keyTotal = 0
            for t in 0..<tasks.count {
                codeBase[t] = codeTotal; codeTotal += taskCodes[t].count
                keyBase[t] = keyTotal; keyTotal += keys[t].count
            }
            guard codeTotal <= Int(Int32.max) else {
                throw PipelineError.badInput(
                    stage: "match", "\(codeTotal) codes in the lists: at most \(Int32.max) are supported")
            }
            codes = [String](unsafeUninitializedCapacity: codeTotal) { codeBuf, codeCount in
                pushKeys = [String](unsafeUninitializedCapacity: keyTotal) { keyBuf, keyCount in
                    taskCodes.withUnsafeMutableBufferPointer { cb in
                        keys.withUnsafeMutableBufferPointer { kb in
                            /// `a`'s elements copied into `dst` from `at`.
                            func place(_ a: [String], _ dst: UnsafeMutableBufferPointer<String>, at: Int) {
                                a.withUnsafeBufferPointer {
                                    if $0.count > 0 {
                                        (dst.baseAddress! + at).initialize(from: $0.baseAddress!, count: $0.count)
                                    }
                                }
                            }
                            Parallel.forEach(tasks.count) { t in
                                let shift = Int32(codeBase[t])
                                if let base { for i in at[t]..<(at[t] + size[t]) { base[i].codeStart += shift } }
                                place(cb[t], codeBuf, at: codeBase[t])
                                place(kb[t], keyBuf, at: keyBase[t])
                                cb[t] = []
                                kb[t] = []
                            }
                        }
                    }
                    keyCount = keyTotal
                }
                codeCount = codeTotal
            }
            n = total
        }
        var state = RunState(runDate: data.runDate)
        state.setRemembered(remembered.map(\.bytes), count: remembered.reduce(0) { $0 + $1.count })
        // Keys of lists with a status column, for the next run's new/repeat.
        // (One explanation per entry: each task checks it before placing its entries.)
        state.pushKeys = pushKeys
        console.detail(String(format: "    keyed: %.2f s", FileIO.now() - started))
        return MatchResult(
            entries: entries, listIDs: rules.lists.map(\.id), householdIDs: data.householdIDs,
            policyIDs: rules.policies.map(\.id),
            codes: codes, explainPath: explainPath, explainRows: explained.rows,
            explainSHA: explained.sha, explainBytes: explained.bytes, state: state, households: living.reduce(0, +),
            people: data.member.reduce(0) { $0 + Int($1) })
    }

    /// Re-evaluates each entry with a fresh trace: its amount, codes and explanation,
    /// appended to its list's entries and explanation text.
    func explain(
        list l: Int, _ fast: [EntryPosition], ctx: EvalContext, tracer: Tracer, previousState: RunState?,
        fragments: ExplainFragments,
        entries out: inout [PublishedEntry], codes codeStore: inout [String], text: JSONBytes, keys: inout [String]
    ) {
        let rules = ctx.rules, data = ctx.data
        let h = ctx.household
        let head = Int(ctx.headPerson)
        let hid = data.householdIDs[h]
        for e in fast {
            tracer.reset()
            ctx.tracer = tracer
            ctx.resetCaches()
            let slot = e.slot >= 0 ? Int(e.slot) : nil
            let personKey = slot.map { data.personID[Int(ctx.member($0))] } ?? 0
            let list = rules.lists[l]
            let policy = e.policy >= 0 ? rules.policies[Int(e.policy)] : nil
            let d = ctx.decide(at: e)
            ctx.tracer = nil
            let personID = slot == nil ? "" : IDNumber(key: personKey).description
            var status = PublishedEntry.EntryStatus.none
            if list.columns.contains(.status) {
                let key = RunState.pushKey(list: list.id, household: hid, person: personID, policy: policy?.id ?? "")
                status = previousState?.pushKeyLookup.contains(key) == true ? .repeat : .new
                keys.append(key)
            }
            Explanation.bytes(
                listJSON: fragments.listName(l), triggers: list.columns.contains(.triggers), householdID: hid,
                personID: personID,
                policyJSON: e.policy >= 0 ? fragments.policyName(Int(e.policy)) : nil,
                certainty: d.certainty, amount: d.amount, codes: d.codes, status: status.text,
                criteria: d.criteria, reasons: d.reasons, tracer: tracer, ctx: ctx, fragments: fragments, into: text)
            text.byte(10)
            let codeStart = Int32(codeStore.count)
            codeStore.append(contentsOf: d.codes)
            out.append(
                PublishedEntry(
                    list: Int32(l), household: Int32(h), policy: e.policy,
                    certainty: d.certainty, status: status,
                    personKey: personKey, amountValue: d.amount.map { Int64($0) } ?? Int64.min,
                    codeStart: codeStart, codeCount: Int32(d.codes.count),
                    district: data.district[head], street: data.street[head], community: data.community[head]))
        }
        ctx.resetCaches()
    }
}

/// Where the match stage's explanations go while it runs. Tasks finish in any
/// order; each is written once every task before it is, so the file is written
/// once, in its order (outputs.md: sorted by its key columns, list id in byte
/// order, then the list's keys), and hashed as it is written.
final class ExplainSink: @unchecked Sendable {
    let path: String, tmp: String
    let main: FileIO.Writer
    let lock = NSLock()
    var next = 0
    var pending: [Int: JSONBytes] = [:]
    var rows = 0
    var failure: Error?
    /// Buffers already written, for the next tasks (their pages stay mapped:
    /// no fresh zeroed pages for every task).
    var spare: [JSONBytes] = []

    init(path: String) throws {
        self.path = path
        tmp = path + ".tmp-\(getpid())"
        // Past the page cache: nothing in this run reads it back (emit links it).
        main = try FileIO.Writer(path: tmp, direct: true)
    }

    /// An empty buffer for a task's explanations.
    func buffer() -> JSONBytes {
        lock.lock()
        defer { lock.unlock() }
        return spare.popLast() ?? JSONBytes(capacity: 1 << 16)
    }

    func deliver(task: Int, _ text: JSONBytes, rows n: Int) {
        lock.lock()
        defer { lock.unlock() }
        pending[task] = text
        rows += n
        while let t = pending.removeValue(forKey: next) {
            next += 1
            guard failure == nil else { continue }
            do {
                try main.write(t.bytes)
                t.clear()
                spare.append(t)
            } catch { failure = error }
        }
    }

    /// Its rows, sha256 and size; the file renamed into place.
    func finish() throws -> (rows: Int, sha: String, bytes: Int) {
        do {
            if let failure { throw failure }
            let sha = try main.finish(sync: false)
            if rename(tmp, path) != 0 {
                throw PipelineError.failure(
                    stage: "match", location: path, "cannot store the explanations: \(String(cString: strerror(errno)))"
                )
            }
            return (rows, sha, main.bytesWritten)
        } catch {
            try? FileIO.remove(tmp)
            throw error
        }
    }
}

/// Parts of explanations that are the same for every entry of a run, as JSON
/// bytes in one arena of their own (one per worker: appending them takes no
/// reference count that another core also touches).
public final class ExplainFragments {
    private let arena: UnsafeMutableBufferPointer<UInt8>
    private var ranges: [Range<Int>] = []
    private let listNames: Int, policyNames: Int, tagNames: Int, tagFeeds: Int, valueNames: Int, rememberedLabels: Int,
        parameters: Int, runDate: Int

    public init(rules: RuleSet, runDate: CivilDate) {
        var bytes: [UInt8] = []
        var ranges: [Range<Int>] = []
        func add(_ f: (JSONBytes) -> Void) {
            let w = JSONBytes(capacity: 64); f(w); ranges.append(bytes.count..<bytes.count + w.count); bytes += w.out
        }
        listNames = ranges.count
        for l in rules.lists { add { $0.string(l.id) } }
        policyNames = ranges.count
        for p in rules.policies { add { $0.string(p.id) } }
        tagNames = ranges.count
        for t in rules.catalogue.tags {
            add {
                $0.byte(44); $0.string(t.name); $0.byte(44)
            }
        }
        tagFeeds = ranges.count
        for t in rules.catalogue.tags {
            add {
                $0.byte(44); $0.string(t.feed); $0.byte(44)
            }
        }
        valueNames = ranges.count
        for v in rules.values { add { $0.string(v.id) } }
        rememberedLabels = ranges.count
        for r in rules.remembered { add { $0.string(r.label) } }
        parameters = ranges.count
        for id in rules.parameterIDs {
            let p = rules.parameters[id]!
            add { w in
                w.raw("["); w.string(id); w.byte(44)
                w.string(
                    p.isTable
                        ? p.bands.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
                        : (p.value?.description ?? "none"))
                w.byte(44)
                if let f = p.from { w.date(f.days) } else { w.raw("null") }
                w.raw("]")
            }
        }
        self.runDate = ranges.count
        add { $0.date(runDate.days) }
        arena = .allocate(capacity: max(1, bytes.count))
        _ = arena.initialize(from: bytes)
        self.ranges = ranges
    }

    deinit { arena.deallocate() }

    @inline(__always) private func piece(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: UnsafeBufferPointer(arena)[ranges[i]])
    }
    /// A list's id as a JSON string (by its position in the rules).
    public func listName(_ l: Int) -> UnsafeBufferPointer<UInt8> { piece(listNames + l) }
    /// A policy's id as a JSON string (by its position in the rules).
    public func policyName(_ p: Int) -> UnsafeBufferPointer<UInt8> { piece(policyNames + p) }
    /// A tag's name as a JSON string between commas: `,"income.wage",`.
    func tagName(_ t: Int) -> UnsafeBufferPointer<UInt8> { piece(tagNames + t) }
    /// A tag's feed as a JSON string between commas: `,"hr",`.
    func tagFeed(_ t: Int) -> UnsafeBufferPointer<UInt8> { piece(tagFeeds + t) }
    func valueName(_ v: Int) -> UnsafeBufferPointer<UInt8> { piece(valueNames + v) }
    func rememberedLabel(_ r: Int) -> UnsafeBufferPointer<UInt8> { piece(rememberedLabels + r) }
    func parameter(_ rank: Int32) -> UnsafeBufferPointer<UInt8> { piece(parameters + Int(rank)) }
    var runDateJSON: UnsafeBufferPointer<UInt8> { piece(runDate) }
}

/// Stored profile values, as the match stage's evaluator reads them (StoredValues).
public final class HouseholdProfilesView: StoredValues {
    let profiles: HouseholdProfiles
    let map: [Int]  // rules value index -> profile value index (-1: not stored)

    public init(_ p: HouseholdProfiles, rules: RuleSet) {
        profiles = p
        map = rules.values.map { v in p.valueIDs.firstIndex(of: v.id) ?? -1 }
    }
    init(profiles: HouseholdProfiles, map: [Int]) { self.profiles = profiles; self.map = map }

    /// A view of its own for one worker.
    func replica() -> HouseholdProfilesView { HouseholdProfilesView(profiles: profiles, map: map) }

    public func householdValue(_ v: Int, _ h: Int) -> Val? {
        map[v] >= 0 ? profiles.value(map[v], entity: h) : nil
    }
    public func personValue(_ v: Int, _ p: Int32) -> Val? {
        map[v] >= 0 ? profiles.value(map[v], entity: Int(p)) : nil
    }
}

/// The explanation of one list entry (explain.jsonl and `pfp explain`): enough to
/// reproduce the decision. Compact tuples keep city-scale files small:
///
///     "members":    [person_id, ...]                        (the people read, once)
///     "tags":       [member, tag, value, feed, as_of | "absent" | "conflict" | "unavailable"]
///     "values":     [name, member or null, value]           (derived values of the rule files)
///     "parameters": [id, value, effective_from]
///     "criteria" / "reasons": {code: "true" | "false" | "unknown"}
///
/// Written straight into bytes: at city scale there are millions of them.
public enum Explanation {
    /// The people an explanation names, each once, in the order the trace first
    /// read them (tags, then values); tags and values name them by position.
    public static func members(_ tracer: Tracer) -> [UInt64] {
        var people: [UInt64] = []
        for r in tracer.tagReads where !people.contains(r.person) { people.append(r.person) }
        for v in tracer.valuesRead where v.person != 0 && !people.contains(v.person) { people.append(v.person) }
        return people
    }

    /// `listJSON`, `policyJSON`: the names as JSON strings (ExplainFragments);
    /// `policyJSON` nil for a household list, whose codes are `triggers` or reasons.
    public static func bytes(
        listJSON: UnsafeBufferPointer<UInt8>, triggers: Bool, householdID: String, personID: String,
        policyJSON: UnsafeBufferPointer<UInt8>?, certainty: Certainty, amount: Int?,
        codes: [String], status: String, criteria: [(code: String, value: Val)], reasons: [(code: String, value: Val)],
        tracer: Tracer, ctx: EvalContext, fragments: ExplainFragments, into w: JSONBytes
    ) {
        w.raw("{\"list\":"); w.append(listJSON)
        w.raw(",\"household_id\":"); w.string(householdID)
        if let policyJSON {
            w.raw(",\"person_id\":"); w.string(personID)
            w.raw(",\"policy\":"); w.append(policyJSON)
            w.raw(",\"decision\":{\"certainty\":"); w.string(certainty.text)
            w.raw(",\"amount\":"); if let amount { w.int(amount) } else { w.raw("null") }
            w.raw(certainty == .notEligible ? ",\"failed_criteria\":" : ",\"unknown_facts\":")
            w.strings(codes)
            if !status.isEmpty { w.raw(",\"status\":"); w.string(status) }
            w.raw("},\"criteria\":")
            w.truthMap(criteria)
        } else {
            let name = triggers ? "triggers" : "reasons"
            w.raw(",\"decision\":{\""); w.rawString(name); w.raw("\":"); w.strings(codes)
            w.raw("},\"reasons\":")
            w.truthMap(reasons)
        }
        // People are listed once; tags and values name them by their position.
        let people = Explanation.members(tracer)
        func who(_ key: UInt64) -> Int { people.firstIndex(of: key)! }
        w.raw(",\"members\":[")
        for (k, p) in people.enumerated() { if k > 0 { w.byte(44) }; w.id(p) }
        w.raw("],\"tags\":[")
        for (k, r) in tracer.tagReads.enumerated() {
            if k > 0 { w.byte(44) }
            let t = Int(r.tag)
            w.byte(91); w.int(who(r.person)); w.append(fragments.tagName(t))
            w.value(r.state == .delivered || r.state == .absent ? r.value : .unknownNoFacts, ctx: ctx, tag: t)
            w.append(fragments.tagFeed(t))
            switch r.state {
            case .delivered: w.date(r.asOf)
            case .absent: w.raw("\"absent\"")
            case .conflict: w.raw("\"conflict\"")
            case .unavailable: w.raw("\"unavailable\"")
            }
            w.byte(93)
        }
        w.raw("],\"values\":[")
        for (k, v) in tracer.valuesRead.enumerated() {
            if k > 0 { w.byte(44) }
            w.byte(91)
            w.append(v.value >= 0 ? fragments.valueName(Int(v.value)) : fragments.rememberedLabel(Int(-1 - v.value)))
            w.byte(44)
            if v.person == 0 { w.raw("null") } else { w.int(who(v.person)) }
            w.byte(44)
            w.value(v.result, ctx: ctx, tag: nil)
            w.byte(93)
        }
        w.raw("],\"parameters\":[")
        for (k, rank) in tracer.parameters.sorted().enumerated() {
            if k > 0 { w.byte(44) }
            w.append(fragments.parameter(rank))
        }
        w.raw("],\"run_date\":"); w.append(fragments.runDateJSON)
        w.raw("}")
    }
}

/// What an explanation shows besides its decision, as values: the members it
/// names, every tag read, value computed and parameter used. `pfp explain` prints
/// its text from these; the match stage writes the same content as JSON bytes
/// (`Explanation.bytes`), in the same order.
public struct ExplanationReads {
    /// A tag read: the member's position in `members`, the tag, its value as text,
    /// its feed, and its date (`as of …`) or why it has none (absent, conflict, unavailable).
    public struct TagRead { public var member: Int, tag: String, value: String, feed: String, asOf: String }
    /// A value computed: its name, the member's position (nil: the household), its value as text.
    public struct ValueRead { public var name: String, member: Int?, value: String }
    /// A parameter used: its id, its value on the run date and the date that value took effect.
    public struct ParameterRead { public var id: String, value: String, from: CivilDate? }

    public var members: [UInt64] = []
    public var tags: [TagRead] = []
    public var values: [ValueRead] = []
    public var parameters: [ParameterRead] = []

    public init(tracer: Tracer, ctx: EvalContext) {
        let rules = ctx.rules
        members = Explanation.members(tracer)
        let people = members
        func who(_ key: UInt64) -> Int { people.firstIndex(of: key)! }
        tags = tracer.tagReads.map { r in
            let t = Int(r.tag), def = rules.catalogue.tags[t]
            let value = ctx.describe(r.state == .delivered || r.state == .absent ? r.value : .unknownNoFacts, tag: t)
            let asOf: String
            switch r.state {
            case .delivered: asOf = "as of \(CivilDate(days: r.asOf))"
            case .absent: asOf = "absent"
            case .conflict: asOf = "conflict"
            case .unavailable: asOf = "unavailable"
            }
            return TagRead(member: who(r.person), tag: def.name, value: value, feed: def.feed, asOf: asOf)
        }
        values = tracer.valuesRead.map { v in
            let name = v.value >= 0 ? rules.values[Int(v.value)].id : rules.remembered[Int(-1 - v.value)].label
            return ValueRead(name: name, member: v.person == 0 ? nil : who(v.person), value: ctx.describe(v.result))
        }
        parameters = tracer.parameters.sorted().map { rank in
            let id = rules.parameterIDs[Int(rank)], p = rules.parameters[id]!
            let value =
                p.isTable
                ? p.bands.map { "\($0.key): \($0.value)" }.joined(separator: ", ") : (p.value?.description ?? "none")
            return ParameterRead(id: id, value: value, from: p.from)
        }
    }
}
