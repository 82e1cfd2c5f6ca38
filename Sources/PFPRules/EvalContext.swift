import Foundation
import PFPCore
import PFPSchema

/// What the previous successful run remembered about one household (for
/// `previous(...)` and `previous_members`).
public struct PreviousHousehold: Sendable {
    /// Remembered household-level expressions, by RememberedInfo.index.
    public var values: [Int: Val]
    /// Members of the previous run (ID keys), with their remembered person-level expressions.
    public var members: [UInt64: [Int: Val]]
    public init(values: [Int: Val], members: [UInt64: [Int: Val]]) { self.values = values; self.members = members }
}

/// Records what an evaluation read, for explanations (only when explaining:
/// the fast path allocates nothing). Compact structs, no strings.
public final class Tracer {
    public struct Fact: Hashable, Sendable { public var person: UInt64; public var tag: Int }
    /// How a tag read was answered; explanations spell it `as_of` (a date), `absent`, `conflict` or `unavailable`.
    public enum ReadState: UInt8, Sendable { case delivered, absent, conflict, unavailable }
    public struct TagRead: Sendable {
        public var person: UInt64
        public var tag: Int32
        public var state: ReadState
        public var asOf: Int32
        public var value: Val
    }
    public struct ValueRead: Sendable {
        /// A value definition's index, or -1 - k for the k-th remembered expression (previous(...)).
        public var value: Int32
        public var person: UInt64  // 0: the household
        public var result: Val
    }
    /// Sets of facts, each a run of `factStore` (no array per set).
    var factStore: [Fact] = []
    var factSets: [(start: Int32, count: Int32)] = []
    public private(set) var tagReads: [TagRead] = []
    /// Parameters read, as ranks in RuleSet.parameterIDs.
    public private(set) var parameters: [Int32] = []
    public private(set) var valuesRead: [ValueRead] = []

    public init() { seenGen.initialize(repeating: 0, count: seenMask + 1) }
    deinit { seenGen.deallocate(); seenRead.deallocate() }

    /// Sorts the values read in place (a reader that needs them in an order makes
    /// no copy of them) by their names' order, then person (ID
    /// numbers' integer order): `valueRank[v]` is the place of definition v's name,
    /// `rememberedRank[k]` that of the k-th previous(...) (value -1 - k). A stable
    /// insertion sort for the few values a decision reads (no comparison called
    /// through a closure), the standard sort for many.
    public func sortValuesRead(valueRank: [Int32], rememberedRank: [Int32]) {
        let n = valuesRead.count
        guard n > 1 else { return }
        @inline(__always) func rank(_ v: Int32) -> Int32 {
            v >= 0 ? valueRank[Int(v)] : rememberedRank[Int(-1 - v)]
        }
        guard n <= 32 else {
            valuesRead.sort {
                let (x, y) = (rank($0.value), rank($1.value))
                return x != y ? x < y : $0.person < $1.person
            }
            return
        }
        valuesRead.withUnsafeMutableBufferPointer { b in
            for i in 1..<n {
                let x = b[i], rx = rank(x.value)
                var j = i
                while j > 0 {
                    let ry = rank(b[j - 1].value)
                    if ry < rx || (ry == rx && b[j - 1].person <= x.person) { break }
                    b[j] = b[j - 1]
                    j -= 1
                }
                if j != i { b[j] = x }
            }
        }
    }

    /// Sorts the parameters read in place.
    public func sortParameters() { parameters.sort() }

    /// Values worked out for the household, kept for its next traced decisions (nil: none kept).
    public var memo: ValueMemo?

    /// Before a decision: what the last one read goes (the facts stay while a memo
    /// holds the household: its kept results name them).
    public func reset() {
        generation &+= 1
        if generation == 0 { seenGen.update(repeating: 0, count: seenMask + 1); generation = 1 }
        if memo == nil { forgetFacts() }
        tagReads.removeAll(keepingCapacity: true)
        parameters.removeAll(keepingCapacity: true)
        valuesRead.removeAll(keepingCapacity: true)
    }

    /// Every fact set goes.
    func forgetFacts() {
        factStore.removeAll(keepingCapacity: true)
        factSets.removeAll(keepingCapacity: true)
    }

    func fact(_ f: Fact) -> Int32 {
        factSets.append((Int32(factStore.count), 1))
        factStore.append(f)
        return Int32(factSets.count - 1)
    }

    /// The facts of a, then those of b that a does not have.
    func union(_ a: Int32, _ b: Int32) -> Int32 {
        if a < 0 { return b }
        if b < 0 || a == b { return a }
        let ra = factSets[Int(a)], rb = factSets[Int(b)]
        let start = factStore.count
        for i in Int(ra.start)..<Int(ra.start + ra.count) { factStore.append(factStore[i]) }
        for i in Int(rb.start)..<Int(rb.start + rb.count) {
            let f = factStore[i]
            var seen = false
            for k in start..<factStore.count where factStore[k] == f { seen = true; break }
            if !seen { factStore.append(f) }
        }
        factSets.append((Int32(start), Int32(factStore.count - start)))
        return Int32(factSets.count - 1)
    }

    public func facts(_ id: Int32) -> ArraySlice<Fact> {
        guard id >= 0 else { return [] }
        let r = factSets[Int(id)]
        return factStore[Int(r.start)..<Int(r.start + r.count)]
    }

    /// Whether tag reads are kept (`tagReads`); a what-if's explanations compare
    /// values and parameters only.
    public var recordsTagReads = true

    func readTag(_ r: TagRead) {
        guard recordsTagReads else { return }
        // A decision can read a tag of every member several times over (aggregates,
        // lets): a small open-addressing set of the (person, tag) pairs seen since
        // the last reset, emptied by moving to the next generation.
        var h = slot(r)
        while seenGen[h] == generation {
            let x = tagReads[Int(seenRead[h])]
            if x.person == r.person && x.tag == r.tag { return }
            h = (h + 1) & seenMask
        }
        seenGen[h] = generation
        seenRead[h] = Int32(tagReads.count)
        tagReads.append(r)
        if tagReads.count * 2 > seenMask { growSeen() }
    }

    /// Where a read's search starts in the set.
    @inline(__always) private func slot(_ r: TagRead) -> Int {
        let key = (r.person &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(UInt32(bitPattern: r.tag))
        return Int(truncatingIfNeeded: ((key ^ (key >> 29)) &* 0xBF58_476D_1CE4_E5B9) >> 40) & seenMask
    }

    /// Twice the room (kept at most half full): the reads so far set again.
    private func growSeen() {
        seenGen.deallocate(); seenRead.deallocate()
        seenMask = seenMask * 2 + 1
        seenGen = .allocate(capacity: seenMask + 1)
        seenGen.initialize(repeating: 0, count: seenMask + 1)
        seenRead = .allocate(capacity: seenMask + 1)
        generation = 1
        for (i, x) in tagReads.enumerated() {
            var h = slot(x)
            while seenGen[h] == generation { h = (h + 1) & seenMask }
            seenGen[h] = generation
            seenRead[h] = Int32(i)
        }
    }

    private var seenMask = 1023
    private var seenGen = UnsafeMutablePointer<UInt32>.allocate(capacity: 1024)
    private var seenRead = UnsafeMutablePointer<Int32>.allocate(capacity: 1024)
    private var generation: UInt32 = 1
    /// A parameter read by the evaluation (and by the value the memo sees worked out, if any).
    func readParameter(_ rank: Int32) {
        memo?.readParameter(rank)
        addParameter(rank)
    }
    func addParameter(_ rank: Int32) { if !parameters.contains(rank) { parameters.append(rank) } }
    func readValue(_ index: Int32, person: UInt64, value: Val) {
        for x in valuesRead where x.value == index && x.person == person { return }
        valuesRead.append(ValueRead(value: index, person: person, result: value))
    }
}

/// Which tags have rows for each household's people: one bit per tag (at most
/// 64 tags), built once per run and shared by every evaluator. Loading a
/// household then passes over the tags it has no rows for (most of the
/// `receiving.*` tags, for most households) instead of looking for them.
public final class TagPresence: @unchecked Sendable {
    let masks: [UInt64]
    /// Per tag, the first row of each block of `1 << skipShift` households (the
    /// first of its rows at or after the block's first person): a cursor placed
    /// again after a jump backwards starts there and searches forward a little,
    /// instead of searching the whole column (whose probes, on a column read in
    /// place, each bring pages in).
    let skips: [[Int32]]
    static let skipShift = 12

    /// nil when the catalogue has more than 64 tags (every tag is looked for).
    /// `dropBehind`: called every eighth piece of households and tag done (they come
    /// in order): a caller whose columns are read in place lets their pages go.
    public init?(data: Households, dropBehind: (() -> Void)? = nil) {
        let tagCount = data.tags.count
        guard tagCount <= 64 else { return nil }
        let hCount = data.householdCount
        var masks = [UInt64](repeating: 0, count: hCount)
        let pieces = max(1, min(64, hCount / 16_384))
        let behind = dropBehind.map { EveryNth(8, $0) }
        masks.withUnsafeMutableBufferPointer { out in
            Parallel.forEach(pieces) { k in
                defer { behind?.tick() }
                let lo = hCount * k / pieces, hi = hCount * (k + 1) / pieces
                guard lo < hi else { return }
                let pLo = data.householdStart[lo], pHi = data.householdStart[hi]
                for t in 0..<tagCount {
                    data.tags[t].person.withUnsafeBufferPointer { persons in
                        var a = EvalContext.lowerBound(persons, pLo)
                        let bit = UInt64(1) << UInt64(t)
                        while a < persons.count && persons[a] < pHi {
                            out[Int(data.household[Int(persons[a])])] |= bit
                            a += 1
                        }
                    }
                }
            }
        }
        self.masks = masks
        let blocks = (hCount + (1 << TagPresence.skipShift) - 1) >> TagPresence.skipShift
        var skips = [[Int32]](repeating: [], count: tagCount)
        skips.withUnsafeMutableBufferPointer { out in
            Parallel.forEach(tagCount) { t in
                defer { behind?.tick() }
                out[t] = data.tags[t].person.withUnsafeBufferPointer { persons in
                    (0..<blocks).map { k in
                        Int32(EvalContext.lowerBound(persons, data.householdStart[k << TagPresence.skipShift]))
                    }
                }
            }
        }
        self.skips = skips
    }
}

/// Whose facts an expression reads: a living member (index and slot), a former
/// member (index, slot -1), or the household itself (both -1).
struct CurrentPerson {
    /// The person's index in the household data (-1: the household).
    var index: Int32
    /// The member's slot in the loaded household (-1: not a living member).
    var slot: Int

    static let household = CurrentPerson(index: -1, slot: -1)

    /// The slot when the current person is a living member.
    var member: Int? { slot >= 0 ? slot : nil }
}

/// Evaluates compiled rules for one household at a time. One per worker thread;
/// it keeps its buffers between households.
public final class EvalContext {
    public let rules: RuleSet
    /// The households evaluated; it also keeps alive the buffers read through pointers below.
    public let data: Households
    let tagCount: Int
    // The hot arrays are cells of this evaluator's own (Cells: no bounds or
    // uniqueness checks in a release build; freed in deinit).
    let tagKinds: Cells<TagValueKind>
    let tagAbsent: Cells<AbsentValue>
    let tagUnavailable: Cells<Bool>

    public private(set) var household = -1
    /// Living members' person indices, in ID order.
    var members = Cells<Int32>()
    /// The person index of the member in `slot` (0 ..< memberCount).
    public func member(_ slot: Int) -> Int32 {
        precondition(slot >= 0 && slot < members.count, "no member \(slot)"); return members[slot]
    }
    var slots = Cells<Int32>()
    public private(set) var headSlot = 0
    /// Per tag: where its row search starts (Int.max: search from scratch).
    var cursors: Cells<Int>
    /// Per tag: the load whose slots it holds (`loadGeneration`: resolved).
    var tagReady: Cells<UInt32>
    var loadGeneration: UInt32 = 0
    /// The tags the loaded household has rows for (TagPresence; all without it).
    var present: UInt64 = ~0
    let presence: TagPresence?
    var lastStart: Int32 = -1

    /// Whose facts the expression being evaluated reads (`asMember`, `asHousehold`).
    var current = CurrentPerson.household

    var householdValues = Cells<Val?>()
    var memberValues = Cells<Val?>()
    var householdEligibility = Cells<Val?>()
    var memberEligibility = Cells<Val?>()
    var letCache = Cells<Val?>()

    /// The policy a `per policy` list is being evaluated for.
    var listPolicy = -1

    public var previous: PreviousHousehold?
    var previousPeople: [Int32] = []
    var previousLookup: ((UInt64) -> Int32)?

    public var tracer: Tracer? {
        didSet { readsMemo = tracer != nil && tracer === memoTracer?.takeUnretainedValue() }
    }
    /// Which values a traced decision may take from (and give to) the tracer's
    /// memo (`ValueMemo`): those defined alike by every evaluator sharing it. Empty:
    /// none (the memo, if any, is not read).
    var memoable = Cells<Bool>()
    /// The tracer whose memo is read, and its memo (`shareValues`): held by whoever
    /// made them (a what-if's explanations, for the whole pass), read here without
    /// a reference count per value.
    private var memoTracer: Unmanaged<Tracer>?
    private var memo: Unmanaged<ValueMemo>?
    /// Stored values, read when nothing is traced (the match stage: the profiles).
    /// One per worker: a shared object's reference count would bounce between cores.
    public var stored: StoredValues?

    // The person columns, read through pointers (no bounds checks in a release
    // build, no reference counts); `data` keeps their buffers alive, and nothing
    // changes them while they are evaluated.
    let personIDs: UnsafeBufferPointer<UInt64>
    let birth: UnsafeBufferPointer<Int32>
    let male: UnsafeBufferPointer<UInt8>
    let relation: UnsafeBufferPointer<UInt8>
    let hukou: UnsafeBufferPointer<UInt8>
    let living: UnsafeBufferPointer<UInt8>
    let householdStart: UnsafeBufferPointer<Int32>
    // A tag's columns are arrays inside an array: reading one takes a reference
    // count on its buffer, and the workers of the match share these buffers, so the
    // count's cache line went back and forth between the cores for every tag of
    // every household. They are read through pointers instead (`data` keeps the
    // buffers alive).
    let tagPerson: Cells<UnsafeBufferPointer<Int32>>
    let tagValue: Cells<UnsafeBufferPointer<Int64>>
    let tagAsOf: Cells<UnsafeBufferPointer<Int32>>
    let tagConflict: Cells<UnsafeBufferPointer<UInt8>>

    // The rules as plain arrays, for the same reason; laid out once per rule set.
    let program: Program
    /// The arrays of `program` every evaluation reads, checked once and read unchecked.
    let code: ProgramCells
    let valueCount: Int
    let policyCount: Int

    /// `presence`: which tags each household has rows for (TagPresence), shared
    /// by the evaluators of a run; nil looks for every tag.
    public init(rules: RuleSet, data: Households, presence: TagPresence? = nil) {
        self.rules = rules
        self.data = data
        self.presence = presence
        personIDs = data.personID.withUnsafeBufferPointer { $0 }
        birth = data.birth.withUnsafeBufferPointer { $0 }
        male = data.male.withUnsafeBufferPointer { $0 }
        relation = data.relation.withUnsafeBufferPointer { $0 }
        hukou = data.hukou.withUnsafeBufferPointer { $0 }
        living = data.living.withUnsafeBufferPointer { $0 }
        householdStart = data.householdStart.withUnsafeBufferPointer { $0 }
        tagPerson = Cells(data.tags.map { $0.person.withUnsafeBufferPointer { $0 } })
        tagValue = Cells(data.tags.map { $0.value.withUnsafeBufferPointer { $0 } })
        tagAsOf = Cells(data.tags.map { $0.asOf.withUnsafeBufferPointer { $0 } })
        tagConflict = Cells(data.tags.map { $0.conflict.withUnsafeBufferPointer { $0 } })
        tagCount = rules.catalogue.tags.count
        tagKinds = Cells(rules.catalogue.tags.map(\.type.kind))
        tagAbsent = Cells(rules.catalogue.tags.map(\.absent))
        tagUnavailable = Cells(
            rules.catalogue.tags.indices.map { i in
                i < data.tagUnavailable.count && data.tagUnavailable[i] != 0
            })
        precondition(data.tags.count >= tagCount, "households with fewer tag columns than the catalogue has tags")
        cursors = Cells([Int](repeating: Int.max, count: rules.catalogue.tags.count))
        tagReady = Cells([UInt32](repeating: 0, count: rules.catalogue.tags.count))
        program = rules.program
        valueCount = rules.values.count
        policyCount = rules.policies.count
        code = ProgramCells(program, tags: tagCount, values: valueCount, policies: policyCount, lets: rules.letCount)
    }

    /// The values a traced decision takes from `tracer`'s memo (`ValueMemo`) when
    /// another decision of the household worked them out: `alike[v]` where every
    /// evaluator sharing the tracer defines value v alike (`RuleSet.valuesDefinedAlike`).
    /// The memo is read while `tracer` is this context's tracer; the caller keeps
    /// the tracer (and its memo) for as long as this context decides.
    public func shareValues(alike: [Bool], tracer t: Tracer) {
        precondition(alike.count == valueCount, "one flag per value")
        precondition(t.memo != nil, "a tracer with a memo")
        memoable = Cells(alike)
        memoTracer = Unmanaged.passUnretained(t)
        memo = Unmanaged.passUnretained(t.memo!)
        readsMemo = tracer != nil && tracer === t
    }

    /// Whether the memo is read now: the tracer it belongs to traces (set with the tracer).
    private(set) var readsMemo = false

    /// A function that finds the current person index of an ID key (for former members).
    public func setPersonLookup(_ f: @escaping (UInt64) -> Int32) { previousLookup = f }

    /// Makes household h current: its living members, the head, the tag slots.
    /// Returns false when the household has no living member (no entry anywhere).
    @discardableResult
    public func load(household h: Int, previous: PreviousHousehold? = nil) -> Bool {
        precondition(h >= 0 && h + 1 < householdStart.count, "no household \(h)")
        household = h
        let start = householdStart[h], end = householdStart[h + 1]
        members.removeAll()
        for p in start..<end where living[Int(p)] != 0 { members.append(p) }
        let m = members.count
        // Tag slots: each tag's rows for this household are one run of its sorted
        // array, found when the tag is first read (`resolve`): an evaluation reads
        // only some tags (an explanation, one policy's), and a tag never read costs
        // nothing. After a jump backwards every cursor is placed again.
        slots.reset(count: m * tagCount, to: -1)
        loadGeneration &+= 1
        if loadGeneration == 0 { tagReady.fill(0); loadGeneration = 1 }
        if lastStart >= 0 && start < lastStart { cursors.fill(Int.max) }
        present = presence?.masks[h] ?? ~0
        lastStart = start
        // The head: the one member whose relation is head, else the smallest ID (members are in ID order).
        var heads = 0, headAt = 0
        for i in 0..<m where relation[Int(members[i])] == Relation.head.rawValue { heads += 1; headAt = i }
        headSlot = heads == 1 ? headAt : 0
        householdValues.reset(count: valueCount, to: nil)
        memberValues.reset(count: m * valueCount, to: nil)
        householdEligibility.reset(count: policyCount, to: nil)
        memberEligibility.reset(count: m * policyCount, to: nil)
        letCache.reset(count: rules.letCount, to: nil)
        current = .household
        listPolicy = -1
        if readsMemo { startMemo() }
        self.previous = previous
        previousPeople.removeAll(keepingCapacity: true)
        if let previous, let look = previousLookup {
            for key in previous.members.keys.sorted() {
                let p = look(key)
                if p >= 0 { previousPeople.append(p) }
            }
        }
        return m > 0
    }

    /// Makes the household current again with its values and eligibilities kept:
    /// the next decision reuses what the household's evaluation so far worked out
    /// (the same results: they depend on the household alone). Not for tracing: a
    /// trace records only what is evaluated (`resetCaches`).
    public func forgetPosition() {
        letCache.fill(nil)
        current = .household
        listPolicy = -1
    }

    /// Clears the caches of the loaded household (its members and tag slots stay):
    /// the next evaluation reads everything again, as explaining needs.
    public func resetCaches() {
        householdValues.fill(nil)
        memberValues.fill(nil)
        householdEligibility.fill(nil)
        memberEligibility.fill(nil)
        letCache.fill(nil)
        current = .household
        listPolicy = -1
        if readsMemo { startMemo() }
    }

    /// The first index of sorted `a` whose element is not below `x`.
    static func lowerBound(_ a: UnsafeBufferPointer<Int32>, _ x: Int32) -> Int {
        var lo = 0, hi = a.count
        while lo < hi { let mid = (lo + hi) / 2; if a[mid] < x { lo = mid + 1 } else { hi = mid } }
        return lo
    }

    public var householdID: String { data.householdIDs[household] }
    public var memberCount: Int { members.count }
    public func personID(slot: Int) -> IDNumber { IDNumber(key: data.personID[Int(member(slot))]) }
    public var headPerson: Int32 { member(headSlot) }

    // MARK: facts and tags

    @inline(__always)
    func unknown(person p: Int32, tag t: Int) -> Val {
        guard let tracer else { return .unknownNoFacts }
        return .unknown(tracer.fact(Tracer.Fact(person: personIDs[Int(p)], tag: t)))
    }

    @inline(__always)
    func union(_ a: Val, _ b: Val) -> Val {
        guard tracer != nil else { return .unknownNoFacts }
        if case .unknown(let x) = a, case .unknown(let y) = b { return .unknown(tracer!.union(x, y)) }
        if case .unknown = a { return a }
        return b
    }

    /// Finds tag t's rows for the loaded household's members (their slots).
    @inline(never)
    func resolve(tag t: Int) {
        tagReady[t] = loadGeneration
        let m = members.count
        // Tags without rows for this household are passed over; their cursors
        // catch up (forward steps, then strides) when a household has them.
        guard m > 0, t >= 64 || present >> UInt64(t) & 1 != 0 else { return }
        let start = householdStart[household], end = householdStart[household + 1]
        let persons = tagPerson[t]
        var c = cursors[t]
        // A fresh context or a jump backwards: binary search; within a chunk the
        // households come in order and the cursor only moves forward a little.
        if c > persons.count {
            c =
                presence.map { Int($0.skips[t][household >> TagPresence.skipShift]) }
                ?? EvalContext.lowerBound(persons, start)
        }
        // Forward a step at a time, then in doubling strides when the
        // households skipped have many rows (the explanations' pass loads
        // only the households on one list).
        var step = 1
        while c < persons.count && persons[c] < start {
            if step > 8 {
                // persons[c] < start: search (c, c + step] for the first row at or past start.
                var lo = c + 1, hi = min(persons.count, c + step)
                while hi < persons.count && persons[hi] < start {
                    lo = hi + 1; step *= 2; hi = min(persons.count, lo + step)
                }
                while lo < hi { let mid = (lo + hi) / 2; if persons[mid] < start { lo = mid + 1 } else { hi = mid } }
                c = lo
                break
            }
            c += 1
            step += 1
        }
        cursors[t] = c
        var k = c, slot = 0
        while k < persons.count && persons[k] < end {
            let p = persons[k]
            while slot < m && members[slot] < p { slot += 1 }
            if slot < m && members[slot] == p { slots[slot * tagCount + t] = Int32(k) }
            k += 1
        }
    }

    /// Every tag's slots found (tests: what a load makes of the tags).
    func resolveAllTags() { for t in 0..<tagCount where tagReady[t] != loadGeneration { resolve(tag: t) } }

    func tag(_ t: Int, person p: Int32, slot m: Int) -> Val {
        // The read is recorded (and its person and date looked up) only where the trace keeps tag reads.
        let tracer = self.tracer.flatMap { $0.recordsTagReads ? $0 : nil }
        if tagUnavailable[t] {
            let v = unknown(person: p, tag: t)
            tracer?.readTag(.init(person: personIDs[Int(p)], tag: Int32(t), state: .unavailable, asOf: 0, value: v))
            return v
        }
        let idx: Int
        if m >= 0 {
            if tagReady[t] != loadGeneration { resolve(tag: t) }
            idx = Int(slots[m * tagCount + t])
        } else {
            idx = data.tags[t].find(p) ?? -1
        }
        if idx < 0 {
            let v: Val
            switch tagAbsent[t] {
            case .unknown: v = unknown(person: p, tag: t)
            case .none: v = .none
            case .value(let x): v = convert(t, x)
            }
            tracer?.readTag(.init(person: personIDs[Int(p)], tag: Int32(t), state: .absent, asOf: 0, value: v))
            return v
        }
        if tagConflict[t][idx] != 0 {
            let v = unknown(person: p, tag: t)
            tracer?.readTag(
                .init(person: personIDs[Int(p)], tag: Int32(t), state: .conflict, asOf: tagAsOf[t][idx], value: v))
            return v
        }
        let v = convert(t, tagValue[t][idx])
        tracer?.readTag(
            .init(person: personIDs[Int(p)], tag: Int32(t), state: .delivered, asOf: tagAsOf[t][idx], value: v))
        return v
    }

    @inline(__always)
    func convert(_ t: Int, _ x: Int64) -> Val {
        switch tagKinds[t] {
        case .money: return .num(Q.fen(x))
        case .int: return .num(Q(small: x, 1))
        case .bool: return .bool(x != 0)
        case .date: return .date(Int32(x))
        case .enumeration: return .word(Int32(x))
        }
    }

    public func describe(_ v: Val, tag t: Int? = nil, words: [String]? = nil) -> String {
        switch v {
        case .unknown: return "unknown"
        case .none: return "none"
        case .bool(let b): return b ? "true" : "false"
        case .num(let q): return q.description
        case .date(let d): return CivilDate(days: d).description
        case .word(let w):
            if let t, case .enumeration(let ws) = rules.catalogue.tags[t].type, Int(w) < ws.count { return ws[Int(w)] }
            if let words, Int(w) < words.count { return words[Int(w)] }
            return String(w)
        }
    }

    // MARK: values and policies with caching

    func value(_ v: ValueInfo) -> Val { value(index: v.index) }

    func value(index vi: Int) -> Val {
        if readsMemo { return memoValue(vi) }
        if code.valueOfHousehold[vi] {
            if let c = householdValues[vi] { return c }
            if tracer == nil, let s = stored, let x = s.householdValue(vi, household) {
                householdValues[vi] = x; return x
            }
            let r = keepingCurrent { eval(code.valueNode[vi]) }
            householdValues[vi] = r
            tracer?.readValue(Int32(vi), person: 0, value: r)
            return r
        }
        if current.slot >= 0 {
            let k = current.slot * valueCount + vi
            if let c = memberValues[k] { return c }
            if tracer == nil, let s = stored, let x = s.personValue(vi, current.index) { memberValues[k] = x; return x }
            let r = eval(code.valueNode[vi])
            memberValues[k] = r
            tracer?.readValue(Int32(vi), person: personIDs[Int(current.index)], value: r)
            return r
        }
        return eval(code.valueNode[vi])  // a former member: not cached
    }

    /// A value read while tracing with a memo: from this decision's caches, else
    /// from the memo (recording what it read), else worked out and kept there.
    /// The same results and the same reads recorded as `value(index:)` without a memo.
    @inline(never)
    func memoValue(_ vi: Int) -> Val {
        let (memo, tracer) = (memo!, memoTracer!)
        return memo._withUnsafeGuaranteedRef { m in tracer._withUnsafeGuaranteedRef { t in memoValue(vi, m, t) } }
    }

    /// A traced decision of the loaded household starts: the memo learns which.
    func startMemo() {
        let (memo, tracer) = (memo!, memoTracer!)
        memo._withUnsafeGuaranteedRef { m in
            tracer._withUnsafeGuaranteedRef { t in
                m.start(household: household, memberCount: members.count, valueCount: valueCount, tracer: t)
            }
        }
    }

    @inline(__always)
    private func memoValue(_ vi: Int, _ m: ValueMemo, _ t: Tracer) -> Val {
        let ofHousehold = code.valueOfHousehold[vi]
        let slot = ofHousehold ? -1 : current.slot
        guard ofHousehold || slot >= 0 else {
            m.impure()
            return eval(code.valueNode[vi])  // a former member: not cached
        }
        let k = ofHousehold ? vi : slot * valueCount + vi
        if let c = ofHousehold ? householdValues[k] : memberValues[k] {
            m.read(m.entry(vi, slot: slot))
            return c
        }
        let keep = memoable[vi]
        if keep, let e = m.entry(vi, slot: slot) {
            let r = m.result(e)
            if ofHousehold { householdValues[k] = r } else { memberValues[k] = r }
            m.record(e, into: t)
            m.read(e)
            return r
        }
        m.begin()
        let r = ofHousehold ? keepingCurrent { eval(code.valueNode[vi]) } : eval(code.valueNode[vi])
        if ofHousehold { householdValues[k] = r } else { memberValues[k] = r }
        let person = ofHousehold ? 0 : personIDs[Int(current.index)]
        t.readValue(Int32(vi), person: person, value: r)
        m.end(vi, slot: slot, person: person, result: r, keep: keep)
        return r
    }

    /// What is being evaluated reads something a `ValueMemo` does not keep (a policy,
    /// a list's, the previous run, former members).
    @inline(__always)
    func readsUnkept() { if readsMemo { memo!._withUnsafeGuaranteedRef { $0.impure() } } }

    /// Runs `body` and then makes the current person again the one before it:
    /// the one place where the current person is saved and restored.
    @inline(__always)
    func keepingCurrent<T>(_ body: () -> T) -> T {
        let saved = current
        defer { current = saved }
        return body()
    }

    /// Runs `body` with the given member as the current person.
    @inline(__always)
    func asMember<T>(_ slot: Int, _ body: () -> T) -> T {
        keepingCurrent {
            current = CurrentPerson(index: members[slot], slot: slot)
            return body()
        }
    }

    /// Runs `body` for the household itself (no current person).
    @inline(__always)
    func asHousehold<T>(_ body: () -> T) -> T {
        keepingCurrent {
            current = .household
            return body()
        }
    }

    /// Eligibility of a policy: for a household policy the household's, for a person
    /// policy the given member's (the current person when slot is nil).
    public func eligible(_ p: PolicyInfo, slot: Int? = nil) -> Val {
        eligible(policy: p.index, slot: slot ?? current.slot)
    }

    /// `slot`: the member for a person policy (-1: none); a household policy ignores it.
    func eligible(policy pi: Int, slot s: Int) -> Val {
        if code.policyOfHousehold[pi] {
            if let c = householdEligibility[pi] { return c }
            let r = asHousehold { evaluateEligibility(pi) }
            householdEligibility[pi] = r
            return r
        }
        guard s >= 0 else { return .unknownNoFacts }
        let k = s * policyCount + pi
        if let c = memberEligibility[k] { return c }
        let r = asMember(s) { evaluateEligibility(pi) }
        memberEligibility[k] = r
        return r
    }

    func evaluateEligibility(_ pi: Int) -> Val {
        var acc: Val = .bool(true)
        for i in code.criterionStart[pi]..<code.criterionStart[pi + 1] {
            let v = eval(code.criterionNodes[i])
            acc = kleeneAnd(acc, v)
            if case .bool(false) = acc { return acc }
        }
        let branches = code.branchStart[pi]..<code.branchStart[pi + 1]
        if !branches.isEmpty {
            var any: Val = .bool(false)
            for i in branches {
                any = kleeneOr(any, eval(code.branchNodes[i]))
                if case .bool(true) = any { break }
            }
            acc = kleeneAnd(acc, any)
        }
        return acc
    }

    /// Whether the household (any member) or the person carries receiving.<policy> = true.
    public func receiving(_ p: PolicyInfo, slot: Int? = nil) -> Val {
        receiving(policy: p.index, slot: slot ?? current.slot)
    }

    func receiving(policy pi: Int, slot s: Int) -> Val {
        let t = code.receivingTag[pi]
        guard t >= 0 else { return .bool(false) }
        if !code.policyOfHousehold[pi] {
            guard s >= 0 else { return .unknownNoFacts }
            return tag(t, person: members[s], slot: s)
        }
        var acc: Val = .bool(false)
        for m in 0..<members.count {
            acc = kleeneOr(acc, tag(t, person: members[m], slot: m))
            if case .bool(true) = acc { return acc }
        }
        return acc
    }

    public func has(_ p: PolicyInfo, slot: Int? = nil) -> Val { has(policy: p.index, slot: slot ?? current.slot) }

    func has(policy pi: Int, slot s: Int) -> Val {
        let r = receiving(policy: pi, slot: s)
        if case .bool(true) = r { return r }
        return kleeneOr(r, eligible(policy: pi, slot: s))
    }

    /// Each criterion's result, for explanations and failed_criteria.
    public func criteria(_ p: PolicyInfo, slot: Int? = nil) -> [(code: String, value: Val)] {
        // Typed as the result is (labelled): an unlabelled array would be cast
        // element by element at run time.
        let run: () -> [(code: String, value: Val)] = {
            var out: [(code: String, value: Val)] = p.criteria.map { ($0.code, $0.fn(self)) }
            if !p.branches.isEmpty {
                var any: Val = .bool(false)
                for b in p.branches { any = self.kleeneOr(any, b.fn(self)) }
                out.append(("branches", any))
            }
            return out
        }
        if p.level == .person, let s = slot ?? current.member { return asMember(s, run) }
        return asHousehold(run)
    }

    /// The amount in whole yuan (half-up), nil when the policy has none or it is unknown.
    public func amount(_ p: PolicyInfo, slot: Int? = nil) -> Int? {
        let run: () -> Val = {
            if let a = p.amount { return a(self) }
            var firstUnknown: Fn?
            for b in p.branches {
                let v = b.fn(self)
                if case .bool(true) = v { return b.amount.map { $0(self) } ?? .none }
                if v.isUnknown && firstUnknown == nil { firstUnknown = b.amount ?? Fn(node: Program.noneNode) }
            }
            return firstUnknown.map { $0(self) } ?? .none
        }
        let v: Val
        if p.level == .person, let s = slot ?? current.member {
            v = asMember(s, run)
        } else {
            v = asHousehold(run)
        }
        guard case .num(let q) = v else { return nil }
        let r = q.roundedHalfUp
        guard r >= Int128(Int.min), r <= Int128(Int.max) else { return nil }
        return Int(r)
    }

    /// The loaded household's list entries as positions only (what `RuleSet.entries`
    /// finds, without codes, amounts or text): in list order, then policy, then member.
    public func entryPositions(wasOnAfterList: Bool, into out: inout [EntryPosition]) {
        guard !members.isEmpty else { return }
        for l in 0..<code.listPerPolicy.count {
            if code.listPerPolicy[l] {
                let when = code.listWhen[l]
                guard when >= 0 else { continue }
                for p in 0..<policyCount where code.policyRuns[p] {
                    listPolicy = p
                    if code.policyOfHousehold[p] {
                        if case .bool(true) = eval(when) {
                            out.append(EntryPosition(list: Int32(l), policy: Int32(p), slot: -1))
                        }
                    } else {
                        for s in 0..<members.count {
                            if case .bool(true) = asMember(s, { eval(when) }) {
                                out.append(EntryPosition(list: Int32(l), policy: Int32(p), slot: Int32(s)))
                            }
                        }
                    }
                    listPolicy = -1
                }
            } else {
                if code.listAfter[l] && !wasOnAfterList { continue }
                let holds = asHousehold {
                    (code.reasonStart[l]..<code.reasonStart[l + 1]).contains { i in
                        if case .bool(true) = eval(code.reasonNodes[i]) { return true }
                        return false
                    }
                }
                if holds { out.append(EntryPosition(list: Int32(l), policy: -1, slot: -1)) }
            }
        }
    }

    /// Every reason's value, for explanations.
    public func listReasonValues(_ l: ListInfo) -> [(code: String, value: Val)] {
        asHousehold { l.reasons.map { ($0.code, $0.fn(self)) } }
    }

    /// Evaluates the remembered expressions for the current household (end of a run).
    public func remember() -> PreviousHousehold {
        var values: [Int: Val] = [:]
        var people: [UInt64: [Int: Val]] = [:]
        var current: UInt64 = 0
        remember(
            household: { values[$0] = $1 },
            member: {
                current = $0; people[$0] = [:]
            }, personValue: { people[current]![$0] = $1 })
        return PreviousHousehold(values: values, members: people)
    }

    /// The remembered expressions of the current household one by one, in the
    /// order a run's state keeps them: the household's (by index), then for each
    /// living member in ID order its ID key and the person's (by index). No
    /// dictionaries: the match stage writes them straight into the state.
    public func remember(household: (Int, Val) -> Void, member: (UInt64) -> Void, personValue: (Int, Val) -> Void) {
        asHousehold {
            for r in rules.remembered where r.level == .household { household(r.index, r.fn(self)) }  // index order
            for s in 0..<members.count {
                member(personIDs[Int(members[s])])
                asMember(s) { for r in rules.remembered where r.level == .person { personValue(r.index, r.fn(self)) } }
            }
        }
    }

    /// The value of a value definition for the household or a member (profile stage).
    public func evaluate(_ v: ValueInfo, slot: Int? = nil) -> Val {
        if v.level == .person, let s = slot { return asMember(s) { value(v) } }
        return asHousehold { value(v) }
    }

    // MARK: three-valued logic

    @inline(__always)
    func kleeneNot(_ v: Val) -> Val {
        if case .bool(let b) = v { return .bool(!b) }
        return v
    }

    @inline(__always)
    func kleeneAnd(_ a: Val, _ b: Val) -> Val {
        if case .bool(false) = a { return a }
        if case .bool(false) = b { return b }
        if case .bool(true) = a { return b.isUnknown || b.truth != nil ? b : .unknownNoFacts }
        if case .bool(true) = b { return a }
        return union(a, b)
    }

    @inline(__always)
    func kleeneOr(_ a: Val, _ b: Val) -> Val {
        if case .bool(true) = a { return a }
        if case .bool(true) = b { return b }
        if case .bool(false) = a { return b.isUnknown || b.truth != nil ? b : .unknownNoFacts }
        if case .bool(false) = b { return a }
        return union(a, b)
    }
}
