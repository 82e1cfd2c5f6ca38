import Foundation
import PFPCore

/// The values of one household worked out while tracing, kept with what each of
/// them read, for the other traced decisions of the same household: those of
/// the same evaluator and those of the other evaluators sharing the tracer (a
/// what-if's explanations decide each changed entry under the published rules
/// and under every reform; a value that no reform defines otherwise gives the
/// same on every side and is worked out once).
///
/// A traced decision records every value it reads, once, with its result (and
/// the parameters read). Taking a value from the memo records the same as
/// working it out would: the value, then (`record`) everything its evaluation
/// read — the values it read directly, each with what it read in turn, and the
/// parameters it read. What is kept is only what a value's definition alone
/// decides: a value whose evaluation read a policy (`eligible`, `has`,
/// `receiving`, a per-policy list's), the previous run, former members or a
/// `let` is not kept, nor is one that read such a value (`impure`).
///
/// Unknown results carry the tracer's fact sets: the tracer keeps its facts
/// while the memo holds the household (`Tracer.reset` leaves them), and both
/// are emptied when another household's decision starts (`start`).
public final class ValueMemo {
    /// The household whose values are kept (-1: none).
    private(set) var household = -1
    private var valueCount = 0
    // Cells (no reference counts, no checks in a release build): every index is
    // one the memo made itself, or a value and member slot of the loaded household.
    /// Per (member slot + 1) * valueCount + value: the entry's number + 1, 0 for none.
    private var index = Cells<Int32>()
    struct Entry {
        var value: Int32
        var person: UInt64
        var result: Val
        /// What it read directly: `reads[start ..< end]`, an entry's number, or
        /// -1 - rank for a parameter.
        var start: Int32, end: Int32
        /// The decision that last recorded it (`record` passes over it then).
        var seen: UInt32
    }
    private var entries = Cells<Entry>()
    private var reads = Cells<Int32>()
    /// The values being worked out, innermost last: where their reads start in
    /// `scratch`, and whether each can still be kept.
    struct Frame {
        var start: Int32
        var pure: Bool
    }
    private var frames = Cells<Frame>()
    private var scratch = Cells<Int32>()
    private var decision: UInt32 = 0

    /// How many results were taken from the memo (tests).
    package private(set) var taken = 0

    public init() {}

    /// A traced decision starts for household h (members `memberCount`): another
    /// household's values (and the tracer's facts) go.
    func start(household h: Int, memberCount: Int, valueCount n: Int, tracer: Tracer) {
        decision &+= 1
        if decision == 0 {
            for i in 0..<entries.count { entries[i].seen = 0 }
            decision = 1
        }
        frames.removeAll()
        scratch.removeAll()
        guard h != household || n != valueCount || index.count != n * (memberCount + 1) else { return }
        household = h
        valueCount = n
        index.reset(count: n * (memberCount + 1), to: 0)
        entries.removeAll()
        reads.removeAll()
        tracer.forgetFacts()
    }

    /// The entry of value v for member `slot` (-1: a household value), nil when none is kept.
    @inline(__always)
    func entry(_ v: Int, slot: Int) -> Int32? {
        let k = index[(slot + 1) * valueCount + v]
        return k == 0 ? nil : k - 1
    }

    /// Entry e's result, taken for a decision (counted in `taken`).
    @inline(__always)
    func result(_ e: Int32) -> Val {
        taken &+= 1
        return entries[Int(e)].result
    }

    /// Records entry e and everything its evaluation read into the tracer (each
    /// once per decision).
    func record(_ e: Int32, into t: Tracer) {
        guard entries[Int(e)].seen != decision else { return }
        entries[Int(e)].seen = decision
        let x = entries[Int(e)]
        t.readValue(x.value, person: x.person, value: x.result)
        for i in Int(x.start)..<Int(x.end) {
            let r = reads[i]
            if r >= 0 { record(r, into: t) } else { t.addParameter(-1 - r) }
        }
    }

    /// A value is read inside the evaluation of another (its entry, nil: not kept).
    @inline(__always)
    func read(_ e: Int32?) {
        guard frames.count > 0 else { return }
        if let e { scratch.append(e) } else { frames[frames.count - 1].pure = false }
    }

    /// A parameter is read inside a value's evaluation.
    @inline(__always)
    func readParameter(_ rank: Int32) {
        guard frames.count > 0 else { return }
        scratch.append(-1 - rank)
    }

    /// What the value being worked out read cannot be kept with it.
    @inline(__always)
    func impure() {
        guard frames.count > 0 else { return }
        frames[frames.count - 1].pure = false
    }

    /// A value's evaluation begins.
    func begin() { frames.append(Frame(start: Int32(scratch.count), pure: true)) }

    /// The value begun last was worked out: kept (when `keep` and nothing it read
    /// forbids it) and read by the value being worked out around it, if any.
    func end(_ v: Int, slot: Int, person: UInt64, result: Val, keep: Bool) {
        let f = frames[frames.count - 1]
        frames.truncate(to: frames.count - 1)
        var made: Int32?
        if keep && f.pure {
            let start = Int32(reads.count)
            for i in Int(f.start)..<scratch.count { reads.append(scratch[i]) }
            let e = Int32(entries.count)
            entries.append(
                Entry(
                    value: Int32(v), person: person, result: result, start: start, end: Int32(reads.count),
                    seen: decision))
            index[(slot + 1) * valueCount + v] = e + 1
            made = e
        }
        scratch.truncate(to: Int(f.start))
        read(made)
    }
}

extension RuleSet {
    /// For each of this rule set's values: whether `other` defines it alike — the
    /// same name at the same place, read from the same tags, parameters of the
    /// same value and values defined alike, and nothing that is not kept in a
    /// `ValueMemo` (policies, lists, the previous run). A value defined alike
    /// gives the same result for a household under both rule sets, with the same
    /// reads. All false when the two name their values or parameters otherwise
    /// or read other tags.
    package func valuesDefinedAlike(_ other: RuleSet) -> [Bool] {
        let a = program, b = other.program
        guard values.map(\.id) == other.values.map(\.id), parameterIDs == other.parameterIDs,
            catalogue.tags.map(\.name) == other.catalogue.tags.map(\.name),
            a.valueNode.count == values.count, b.valueNode.count == values.count
        else { return [Bool](repeating: false, count: values.count) }
        var memo = [UInt8](repeating: 0, count: values.count)  // 0: not yet, 1: alike, 2: not, 3: being checked
        func alikeValue(_ v: Int) -> Bool {
            switch memo[v] {
            case 1: return true
            case 2, 3: return false
            default: break
            }
            memo[v] = 3
            let r =
                a.valueOfHousehold[v] == b.valueOfHousehold[v] && alike(a.valueNode[v], b.valueNode[v])
            memo[v] = r ? 1 : 2
            return r
        }
        func alike(_ x: Int32, _ y: Int32) -> Bool {
            if x < 0 || y < 0 { return x == y }
            let m = a.nodes[Int(x)], n = b.nodes[Int(y)]
            guard m.op == n.op, m.detail == n.detail else { return false }
            switch m.op {
            case .constant:
                return a.constants[Int(m.a)] == b.constants[Int(n.a)]
            case .parameter:
                return m.b == n.b && a.constants[Int(m.a)] == b.constants[Int(n.a)]
            case .not, .negate, .head, .hasValue, .truthTest:
                return alike(m.a, n.a)
            case .and, .or, .bothAnd, .compare, .arithmetic, .years:
                return alike(m.a, n.a) && alike(m.b, n.b)
            case .ifThen:
                return alike(m.a, n.a) && alike(m.b, n.b) && alike(m.c, n.c)
            case .tag:
                return m.a == n.a
            case .builtin:
                return true
            case .value:
                return m.a == n.a && alikeValue(Int(m.a))
            case .band:
                let s = a.tables[Int(m.b)], t = b.tables[Int(n.b)]
                return m.c == n.c && alike(m.a, n.a) && s.count == t.count
                    && zip(s, t).allSatisfy { $0.key == $1.key && $0.value == $1.value }
            case .aggregate:
                return m.c == 0 && n.c == 0 && alike(m.a, n.a) && alike(m.b, n.b)
            case .cachedLet, .listEligible, .listReceiving, .listHas, .eligible, .receiving, .has,
                .previousHousehold, .previousPerson:
                return false
            }
        }
        return values.indices.map(alikeValue)
    }
}
