import Foundation
import PFPCore

/// The evaluator of compiled expressions: one switch over the rule set's nodes.
/// Every case is the meaning of one construct of the rule language (policies.md),
/// in three-valued logic; the order in which operands are read is the order in
/// which explanations list what was read.
extension EvalContext {
    func eval(_ n: Int32) -> Val {
        let node = code.nodes[Int(n)]
        switch node.op {
        case .constant:
            return code.constants[Int(node.a)]
        case .not:
            return kleeneNot(eval(node.a))
        case .negate:
            let v = eval(node.a)
            if case .num(let q) = v { return .num(-q) }
            return v
        case .and:
            let a = eval(node.a)
            if case .bool(false) = a { return a }
            return kleeneAnd(a, eval(node.b))
        case .or:
            let a = eval(node.a)
            if case .bool(true) = a { return a }
            return kleeneOr(a, eval(node.b))
        case .bothAnd:
            let a = eval(node.a)
            return kleeneAnd(a, eval(node.b))
        case .compare:
            return compare(eval(node.a), eval(node.b), acceptBits: node.detail)
        case .arithmetic:
            let a = eval(node.a), b = eval(node.b)
            if case .num(let x) = a, case .num(let y) = b { return EvalContext.arithmetic(node.arithmetic, x, y) }
            if let u = unknownOperand(a, b) { return u }
            return .none
        case .ifThen:
            let v = eval(node.a)
            switch v {
            case .bool(true): return eval(node.b)
            case .bool(false): return eval(node.c)
            default: return v
            }
        case .cachedLet:
            readsUnkept()
            let slot = Int(node.b)
            if let v = letCache[slot] { return v }
            let v = eval(node.a)
            letCache[slot] = v
            return v
        case .listEligible:
            readsUnkept()
            return eligible(policy: listPolicy, slot: current.slot)
        case .listReceiving:
            readsUnkept()
            return receiving(policy: listPolicy, slot: current.slot)
        case .listHas:
            readsUnkept()
            return has(policy: listPolicy, slot: current.slot)
        case .head:
            guard members.count > 0 else { return .unknownNoFacts }
            return asMember(headSlot) { eval(node.a) }
        case .tag:
            return tag(Int(node.a), person: current.index, slot: current.slot)
        case .builtin:
            let p = Int(current.index)
            switch node.builtin {
            case .birthDate: return .date(birth[p])
            case .sex: return .word(Int32(male[p]))
            case .relation: return .word(Int32(relation[p]))
            case .hukou: return .word(Int32(hukou[p]))
            }
        case .value:
            return value(index: Int(node.a))
        case .parameter:
            tracer?.readParameter(node.b)
            return code.constants[Int(node.a)]
        case .years:
            let a = eval(node.a), b = eval(node.b)
            if case .date(let x) = a, case .date(let y) = b {
                return .num(Q(Int128(CivilDate(days: x).age(on: CivilDate(days: y)))))
            }
            if let u = unknownOperand(a, b) { return u }
            return .none
        case .hasValue:
            return EvalContext.hasValue(eval(node.a))
        case .truthTest:
            return EvalContext.truthTest(node.truthTest, eval(node.a))
        case .eligible:
            readsUnkept()
            return eligible(policy: Int(node.a), slot: current.slot)
        case .receiving:
            readsUnkept()
            return receiving(policy: Int(node.a), slot: current.slot)
        case .has:
            readsUnkept()
            return has(policy: Int(node.a), slot: current.slot)
        case .band:
            tracer?.readParameter(node.c)
            guard node.detail != 0 else { return .unknownNoFacts }
            let v = eval(node.a)
            guard case .num(let x) = v else { return v }
            var found: Q?
            for b in program.tables[Int(node.b)] where b.key <= x { found = b.value }
            return found.map { .num($0) } ?? .none
        case .previousHousehold:
            readsUnkept()
            let idx = Int(node.a)
            let v = previous?.values[idx] ?? .unknownNoFacts
            tracer?.readValue(Int32(-1 - idx), person: 0, value: v)
            return v
        case .previousPerson:
            readsUnkept()
            guard current.index >= 0 else { return .unknownNoFacts }
            let idx = Int(node.a)
            let key = personIDs[Int(current.index)]
            let v = previous?.members[key]?[idx] ?? .unknownNoFacts
            tracer?.readValue(Int32(-1 - idx), person: key, value: v)
            return v
        case .aggregate:
            return aggregate(node)
        }
    }

    /// Once an aggregate is unknown it stays unknown (with the facts of every unknown part).
    @inline(__always)
    func unknownMerge(_ acc: Val, _ v: Val) -> Val {
        if acc.isUnknown { return v.isUnknown ? union(acc, v) : acc }
        return v.isUnknown ? v : .unknownNoFacts
    }

    /// When an operand is unknown, the result is unknown with the facts of both
    /// (nil when both are known).
    @inline(__always)
    func unknownOperand(_ a: Val, _ b: Val) -> Val? {
        guard a.isUnknown || b.isUnknown else { return nil }
        return union(a.isUnknown ? a : .unknownNoFacts, b.isUnknown ? b : .unknownNoFacts)
    }

    /// A comparison in three-valued logic: unknown with an unknown operand; a
    /// known absence (none) is unequal to everything and not ordered.
    /// `acceptBits`: Comparison.acceptBits.
    @inline(__always)
    func compare(_ a: Val, _ b: Val, acceptBits k: UInt8) -> Val {
        guard let order = EvalContext.order(a, b) else {
            if let u = unknownOperand(a, b) { return u }
            return .bool(k & 0b1000 != 0)
        }
        return .bool(k & (1 << UInt8(order + 1)) != 0)
    }

    /// Two values' order (-1, 0, 1; words and truths only equal or not), nil when
    /// they are not of one kind (an unknown or a known absence among them).
    @inline(__always)
    static func order(_ a: Val, _ b: Val) -> Int? {
        switch (a, b) {
        case (.num(let x), .num(let y)): return x < y ? -1 : (x == y ? 0 : 1)
        case (.date(let x), .date(let y)): return x < y ? -1 : (x == y ? 0 : 1)
        case (.word(let x), .word(let y)): return x == y ? 0 : 1
        case (.bool(let x), .bool(let y)): return x == y ? 0 : 1
        default: return nil
        }
    }

    /// has_value(v): unknown stays unknown (with its facts); a known absence is false.
    @inline(__always)
    static func hasValue(_ v: Val) -> Val {
        if v.isUnknown { return v }
        if case .none = v { return .bool(false) }
        return .bool(true)
    }

    /// is_true, is_false, is_unknown, possible: always true or false.
    @inline(__always)
    static func truthTest(_ t: TruthTest, _ v: Val) -> Val {
        switch t {
        case .isTrue: if case .bool(true) = v { return .bool(true) }; return .bool(false)
        case .isFalse: if case .bool(false) = v { return .bool(true) }; return .bool(false)
        case .isUnknown: return .bool(v.isUnknown)
        case .possible: if case .bool(false) = v { return .bool(false) }; return .bool(true)
        }
    }

    /// x op y; a division by zero is unknown.
    @inline(__always)
    static func arithmetic(_ op: Arithmetic, _ x: Q, _ y: Q) -> Val {
        switch op {
        case .add: return .num(x + y)
        case .subtract: return .num(x - y)
        case .multiply: return .num(x * y)
        case .divide:
            guard let z = x / y else { return .unknownNoFacts }  // division by zero
            return .num(z)
        }
    }

    /// count, any, all, sum, max and max_known over the living members (in ID
    /// order) or the former members.
    func aggregate(_ node: Node) -> Val {
        let former = node.c == 1
        if former { readsUnkept() }
        let n = former ? previousPeople.count : members.count
        return keepingCurrent { aggregate(node, kind: node.aggregate, former: former, count: n) }
    }

    @inline(__always)
    private func aggregate(_ node: Node, kind: Aggregate, former: Bool, count n: Int) -> Val {
        var acc: Val
        switch kind {
        case .count, .sum: acc = .num(.zero)
        case .any: acc = .bool(false)
        case .all: acc = .bool(true)
        case .max, .maxKnown: acc = .none
        }
        var unknownSeen: Val? = nil
        var anyKnown = false
        for i in 0..<n {
            if former {
                let p = previousPeople[i]
                current = CurrentPerson(index: p, slot: -1)
                for s in 0..<members.count where members[s] == p { current.slot = s; break }
            } else {
                current = CurrentPerson(index: members[i], slot: i)
            }
            var inSet: Val = .bool(true)
            if node.a >= 0 { inSet = eval(node.a) }
            if case .bool(false) = inSet { continue }
            switch kind {
            case .count:
                if case .bool(true) = inSet {
                    if case .num(let q) = acc { acc = .num(q + Q(small: 1, 1)) }
                } else {
                    acc = unknownMerge(acc, inSet)
                }
            case .any:
                acc = kleeneOr(acc, kleeneAnd(inSet, eval(node.b)))
            case .all:
                acc = kleeneAnd(acc, kleeneOr(kleeneNot(inSet), eval(node.b)))
            case .sum:
                if !(inSet.truth ?? false) { acc = unknownMerge(acc, inSet); continue }
                let v = eval(node.b)
                switch v {
                case .num(let q): if case .num(let a) = acc { acc = .num(a + q) }
                case .none: break
                default: acc = unknownMerge(acc, v)
                }
            case .max:
                if !(inSet.truth ?? false) { acc = unknownMerge(acc, inSet); continue }
                let v = eval(node.b)
                switch v {
                case .num(let q):
                    if case .num(let a) = acc { if a < q { acc = v } } else if case .none = acc { acc = v }
                case .none: break
                default: acc = unknownMerge(acc, v)
                }
            case .maxKnown:  // unknown members are passed over
                if !(inSet.truth ?? false) { unknownSeen = unknownSeen.map { union($0, inSet) } ?? inSet; continue }
                let v = eval(node.b)
                switch v {
                case .num(let q):
                    anyKnown = true
                    if case .num(let a) = acc { if a < q { acc = v } } else { acc = v }
                case .none: break
                default: unknownSeen = unknownSeen.map { union($0, v) } ?? v
                }
            }
        }
        if kind == .maxKnown && !anyKnown, let u = unknownSeen { return u }
        return acc
    }
}
