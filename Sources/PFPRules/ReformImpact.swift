import Foundation
import PFPCore
import PFPSchema

/// Which households a reform can change, found without deciding them: for a
/// reform that changes parameter values only (the rules compile to the same
/// nodes, with other constants or band tables), the changed numbers reach a
/// decision only where a comparison (or has_value, is_unknown, ...) turns a
/// number into a truth value: the *frontier*. A household whose every frontier
/// node gives the same result under the base rules and the reform, for the
/// household and for each of its people, has the same truth values everywhere,
/// so the same entries, certainties and codes (the same branches are taken, the
/// same facts read); only amounts that read a changed number can differ, and
/// only on the entries it already has. `pfp whatif` decides again only the
/// households the frontier or an amount says may change, and keeps the
/// published entries of every other.
///
/// nil (`init`) when the two rule sets are not the same rules with other
/// numbers, or a frontier node reads the policy of a per-policy list (it has no
/// meaning outside one): every household is then decided again.
package final class ReformImpact {
    /// Frontier nodes evaluated for the household, and for each person.
    let householdFrontier: [Int32]
    let personFrontier: [Int32]
    /// Policies (indexes, the same in both rule sets) whose amount reads a changed number.
    package let amountPolicies: [Int]
    /// Values (indexes) that read a changed number: never taken from the stored profiles of the base run.
    package let changedValues: Set<Int>
    /// An outcome's cooling-off changed: every household with an outreach event may change.
    package let outreachChanged: Bool
    /// A frontier node reads the previous run (`previous(...)`, former members).
    package let readsPrevious: Bool
    /// Parameters whose value on the run date differs, in byte order.
    package let changedParameters: [String]

    package var frontierCount: Int { householdFrontier.count + personFrontier.count }
    /// Every frontier node is made of numbers, parameters, arithmetic, comparisons
    /// and values (themselves such, or read as stored) only, and none reads the
    /// previous run: the frontier is then worked out from the stored profile values
    /// without loading the household (`ClosedFrontier`).
    package let closed: Bool
    /// The two rule sets, for a closed frontier's own cells of their programs.
    let base: RuleSet
    let reform: RuleSet

    package init?(base: RuleSet, reform: RuleSet) {
        let a = base.program, b = reform.program
        guard a.nodes.count == b.nodes.count, a.constants.count == b.constants.count,
            a.tables.count == b.tables.count, a.nodes.elementsEqual(b.nodes, by: ReformImpact.sameNode),
            a.valueNode == b.valueNode, a.valueOfHousehold == b.valueOfHousehold,
            a.policyOfHousehold == b.policyOfHousehold, a.policyRuns == b.policyRuns,
            a.receivingTag == b.receivingTag, a.criterionNodes == b.criterionNodes,
            a.criterionStart == b.criterionStart, a.branchNodes == b.branchNodes, a.branchStart == b.branchStart,
            a.listPerPolicy == b.listPerPolicy, a.listWhen == b.listWhen, a.listAfter == b.listAfter,
            a.reasonNodes == b.reasonNodes, a.reasonStart == b.reasonStart,
            base.values.map(\.id) == reform.values.map(\.id), base.policies.map(\.id) == reform.policies.map(\.id),
            base.lists.map(\.id) == reform.lists.map(\.id), base.letCount == reform.letCount,
            zip(base.policies, reform.policies).allSatisfy({ ReformImpact.samePolicy($0, $1) }),
            zip(base.lists, reform.lists).allSatisfy({ ReformImpact.sameList($0, $1) }),
            base.remembered.count == reform.remembered.count
        else { return nil }
        let changedConstants = Set(a.constants.indices.filter { a.constants[$0] != b.constants[$0] })
        let changedTables = Set(
            a.tables.indices.filter { i in
                !a.tables[i].elementsEqual(b.tables[i]) { $0.key == $1.key && $0.value == $1.value }
            })
        // Numerically tainted: a changed number, or a number computed from one. Truth
        // values are never tainted: they change only where a frontier node does.
        var tainted = [UInt8](repeating: 2, count: a.nodes.count)  // 2: not yet known
        func isTainted(_ n: Int32) -> Bool {
            guard n >= 0 else { return false }
            let i = Int(n)
            if tainted[i] != 2 { return tainted[i] == 1 }
            tainted[i] = 0  // the rules have no cycles (checked at load); a guard all the same
            let node = a.nodes[i]
            let t: Bool
            switch node.op {
            case .constant, .parameter: t = changedConstants.contains(Int(node.a))
            case .band: t = changedTables.contains(Int(node.b)) || isTainted(node.a)
            case .negate, .cachedLet, .head: t = isTainted(node.a)
            case .arithmetic: t = isTainted(node.a) || isTainted(node.b)
            case .ifThen: t = isTainted(node.b) || isTainted(node.c)
            case .value: t = isTainted(a.valueNode[Int(node.a)])
            case .aggregate:
                switch node.aggregate {
                case .sum, .max, .maxKnown: t = isTainted(node.b)
                case .count, .any, .all: t = false
                }
            case .not, .and, .or, .bothAnd, .compare, .hasValue, .truthTest, .years, .listEligible, .listReceiving,
                .listHas, .tag, .builtin, .eligible, .receiving, .has, .previousHousehold, .previousPerson:
                t = false
            }
            tainted[i] = t ? 1 : 0
            return t
        }
        var frontier: [Int32] = []
        for (i, node) in a.nodes.enumerated() {
            switch node.op {
            case .compare: if isTainted(node.a) || isTainted(node.b) { frontier.append(Int32(i)) }
            case .hasValue, .truthTest: if isTainted(node.a) { frontier.append(Int32(i)) }
            default: break
            }
        }
        // Where a frontier node is evaluated: for a person when it reads a person's
        // facts or values outside an aggregate or head (which choose their own people).
        var level = [UInt8](repeating: 2, count: a.nodes.count)  // 0 household, 1 person, 2 not yet known
        var unsupported = false
        var previous = false
        func personLevel(_ n: Int32) -> Bool {
            guard n >= 0 else { return false }
            let i = Int(n)
            if level[i] != 2 { return level[i] == 1 }
            level[i] = 0
            let node = a.nodes[i]
            let p: Bool
            switch node.op {
            case .tag, .builtin: p = true
            case .previousPerson: previous = true; p = true
            case .previousHousehold: previous = true; p = false
            case .value: p = !a.valueOfHousehold[Int(node.a)] || personLevel(a.valueNode[Int(node.a)])
            case .eligible, .has: p = !a.policyOfHousehold[Int(node.a)]
            case .receiving: p = !a.policyOfHousehold[Int(node.a)]
            case .listEligible, .listReceiving, .listHas: unsupported = true; p = false
            case .constant, .parameter: p = false
            case .aggregate:
                if node.c == 1 { previous = true }
                _ = (personLevel(node.a), personLevel(node.b))  // marks what they read
                p = false
            case .head: _ = personLevel(node.a); p = false
            case .band, .cachedLet, .not, .negate, .hasValue, .truthTest: p = personLevel(node.a)
            case .and, .or, .bothAnd, .compare, .arithmetic, .years: p = personLevel(node.a) || personLevel(node.b)
            case .ifThen: p = personLevel(node.a) || personLevel(node.b) || personLevel(node.c)
            }
            level[i] = p ? 1 : 0
            return p
        }
        var household: [Int32] = [], person: [Int32] = []
        for n in frontier {
            if personLevel(n) { person.append(n) } else { household.append(n) }
        }
        guard !unsupported else { return nil }
        householdFrontier = household
        personFrontier = person
        readsPrevious = previous
        // A value may differ when anything it reads may: a changed number, a truth
        // value made from one, a value or a policy that may (a stored profile of the
        // base run cannot stand for it).
        var reaches = [UInt8](repeating: 2, count: a.nodes.count)  // 2: not yet known
        var policyReaches = [UInt8](repeating: 2, count: base.policies.count)
        func mayDiffer(_ n: Int32) -> Bool {
            guard n >= 0 else { return false }
            let i = Int(n)
            if reaches[i] != 2 { return reaches[i] == 1 }
            reaches[i] = 0
            let node = a.nodes[i]
            let r: Bool
            switch node.op {
            case .constant, .parameter: r = changedConstants.contains(Int(node.a))
            case .band: r = changedTables.contains(Int(node.b)) || mayDiffer(node.a)
            case .value: r = mayDiffer(a.valueNode[Int(node.a)])
            case .eligible, .has: r = policyMayDiffer(Int(node.a))
            case .listEligible, .listHas: r = true
            case .tag, .builtin, .receiving, .listReceiving, .previousHousehold, .previousPerson: r = false
            case .aggregate: r = mayDiffer(node.a) || mayDiffer(node.b)
            case .cachedLet, .head, .not, .negate, .hasValue, .truthTest: r = mayDiffer(node.a)
            case .and, .or, .bothAnd, .compare, .arithmetic, .years: r = mayDiffer(node.a) || mayDiffer(node.b)
            case .ifThen: r = mayDiffer(node.a) || mayDiffer(node.b) || mayDiffer(node.c)
            }
            reaches[i] = r ? 1 : 0
            return r
        }
        func policyMayDiffer(_ p: Int) -> Bool {
            if policyReaches[p] != 2 { return policyReaches[p] == 1 }
            policyReaches[p] = 0
            let info = base.policies[p]
            let r =
                info.criteria.contains { mayDiffer($0.fn.node) } || info.branches.contains { mayDiffer($0.fn.node) }
            policyReaches[p] = r ? 1 : 0
            return r
        }
        changedValues = Set(a.valueNode.indices.filter { mayDiffer(a.valueNode[$0]) })
        amountPolicies = base.policies.indices.filter { i in
            let p = base.policies[i]
            return isTainted(p.amount?.node ?? -1) || p.branches.contains { isTainted($0.amount?.node ?? -1) }
        }
        // Closed: numbers, arithmetic, comparisons and values only; a value that may
        // differ is worked out from its definition (which must be closed too), any
        // other is read as stored.
        var closedMemo = [UInt8](repeating: 2, count: a.nodes.count)
        let computed = changedValues
        func isClosed(_ n: Int32) -> Bool {
            guard n >= 0 else { return false }
            let i = Int(n)
            if closedMemo[i] != 2 { return closedMemo[i] == 1 }
            closedMemo[i] = 0
            let node = a.nodes[i]
            let c: Bool
            switch node.op {
            case .constant, .parameter: c = true
            case .negate, .hasValue, .truthTest: c = isClosed(node.a)
            case .arithmetic, .compare: c = isClosed(node.a) && isClosed(node.b)
            case .value: c = !computed.contains(Int(node.a)) || isClosed(a.valueNode[Int(node.a)])
            default: c = false
            }
            closedMemo[i] = c ? 1 : 0
            return c
        }
        closed = !previous && frontier.allSatisfy { isClosed($0) }
        self.base = base
        self.reform = reform
        outreachChanged =
            base.outreach.rank != reform.outreach.rank
            || !base.outreach.cooling.elementsEqual(reform.outreach.cooling) { $0?.days == $1?.days }
        changedParameters = base.parameterIDs.filter { id in
            guard let x = base.parameters[id], let y = reform.parameters[id] else { return true }
            return x.value != y.value || !x.bands.elementsEqual(y.bands) { $0.key == $1.key && $0.value == $1.value }
        }
    }

    static func sameNode(_ x: Node, _ y: Node) -> Bool {
        x.op == y.op && x.detail == y.detail && x.a == y.a && x.b == y.b && x.c == y.c
    }
    static func samePolicy(_ x: PolicyInfo, _ y: PolicyInfo) -> Bool {
        x.level == y.level && x.oneOff == y.oneOff && x.skipped == y.skipped && x.receivingTag == y.receivingTag
            && x.amount?.node == y.amount?.node && x.criteria.map(\.code) == y.criteria.map(\.code)
            && x.branches.map(\.code) == y.branches.map(\.code)
            && x.branches.map { $0.amount?.node ?? -1 } == y.branches.map { $0.amount?.node ?? -1 }
    }
    static func sameList(_ x: ListInfo, _ y: ListInfo) -> Bool {
        x.perPolicy == y.perPolicy && x.after == y.after && x.heldFrom == y.heldFrom && x.columns == y.columns
            && x.reasonCodes == y.reasonCodes
    }

    /// The frontier's results for the household loaded in `ctx`: each household
    /// node, then each person node for each living member, then (when the frontier
    /// reads the previous run) for each former member.
    package func results(_ ctx: EvalContext, into out: inout [Val]) {
        out.removeAll(keepingCapacity: true)
        for n in householdFrontier { out.append(ctx.asHousehold { ctx.eval(n) }) }
        if personFrontier.isEmpty { return }
        for s in 0..<ctx.memberCount {
            for n in personFrontier { out.append(ctx.asMember(s) { ctx.eval(n) }) }
        }
        if readsPrevious {
            for p in ctx.previousPeople {
                for n in personFrontier { out.append(ctx.asFormer(p) { ctx.eval(n) }) }
            }
        }
    }

    /// Whether the household loaded in `reform` (the reform's rules) may decide
    /// otherwise than under the base rules, whose frontier results (`results`, for
    /// the same household) are `base`: some frontier node differs for the household
    /// or for one of its people (living members, and former members when the
    /// frontier reads the previous run).
    package func differs(base: [Val], reform ctx: EvalContext) -> Bool {
        var i = 0
        for n in householdFrontier {
            if base[i] != ctx.asHousehold({ ctx.eval(n) }) { return true }
            i += 1
        }
        if personFrontier.isEmpty { return false }
        for s in 0..<ctx.memberCount {
            for n in personFrontier {
                if base[i] != ctx.asMember(s, { ctx.eval(n) }) { return true }
                i += 1
            }
        }
        if readsPrevious {
            for p in ctx.previousPeople {
                for n in personFrontier {
                    if base[i] != ctx.asFormer(p, { ctx.eval(n) }) { return true }
                    i += 1
                }
            }
        }
        return false
    }

    /// Two reforms with the same frontier share the base's results.
    package func sameFrontier(_ o: ReformImpact) -> Bool {
        householdFrontier == o.householdFrontier && personFrontier == o.personFrontier
            && readsPrevious == o.readsPrevious
    }
}

extension EvalContext {
    /// Runs `body` for former member `p` (a person index; no living slot).
    func asFormer<T>(_ p: Int32, _ body: () -> T) -> T {
        keepingCurrent {
            current = CurrentPerson(index: p, slot: -1)
            for s in 0..<members.count where members[s] == p { current.slot = s; break }
            return body()
        }
    }
}

/// A closed frontier (`ReformImpact.closed`) worked out for one household from
/// the stored profile values, under the base rules and under the reform's, with
/// the evaluator's own meaning of each operation (`EvalContext.order`,
/// `EvalContext.arithmetic`, ...; nothing traced). One per worker: it reads the
/// two programs as the evaluator does, through cells of its own (`ProgramCells`,
/// checked once, no reference counts per node).
package final class ClosedFrontier {
    let stored: StoredValues
    let base: ProgramCells
    let reform: ProgramCells
    /// Values worked out from their definitions (they may differ); the others are read as stored.
    let computed: Cells<Bool>
    let householdFrontier: [Int32], personFrontier: [Int32]
    /// For each frontier node (household ones, then person ones): the side of a
    /// comparison that reads no changed number and no value worked out again (0:
    /// neither, 1: its left, 2: its right). That side gives the same under both
    /// rule sets: the base's result is kept beside the node's and not made again.
    let keptHousehold: [UInt8], keptPerson: [UInt8]
    let households: Households
    /// Each node's result where it reads no household (numbers, their arithmetic and
    /// comparisons, values defined so: a changed line, a multiple of it), worked out
    /// once under each side's numbers; `.none`'s place holds nil for the others.
    /// `eval` returns them without walking the node (each household and reform).
    private var foldedBase = Cells<Val?>(), foldedReform = Cells<Val?>()

    /// `stored`: the base run's profile values (read for every value that cannot differ).
    package init(_ impact: ReformImpact, stored: StoredValues, households: Households) {
        precondition(impact.closed, "a closed frontier")
        self.stored = stored
        self.households = households
        func cells(_ rs: RuleSet) -> ProgramCells {
            ProgramCells(
                rs.program, tags: rs.catalogue.tags.count, values: rs.values.count, policies: rs.policies.count,
                lets: rs.letCount)
        }
        base = cells(impact.base)
        reform = cells(impact.reform)
        computed = Cells(impact.base.values.indices.map { impact.changedValues.contains($0) })
        householdFrontier = impact.householdFrontier
        personFrontier = impact.personFrontier
        let a = impact.base.program, b = impact.reform.program
        let computedValues = impact.changedValues
        /// Whether node n gives the same under both rule sets for every household:
        /// unchanged numbers, arithmetic and comparisons of such, values read as stored.
        func same(_ n: Int32) -> Bool {
            guard n >= 0 else { return false }
            let node = a.nodes[Int(n)]
            switch node.op {
            case .constant, .parameter: return a.constants[Int(node.a)] == b.constants[Int(node.a)]
            case .negate, .hasValue, .truthTest: return same(node.a)
            case .arithmetic, .compare: return same(node.a) && same(node.b)
            case .value: return !computedValues.contains(Int(node.a))
            default: return false
            }
        }
        func kept(_ n: Int32) -> UInt8 {
            let node = a.nodes[Int(n)]
            guard node.op == .compare else { return 0 }
            return same(node.a) ? 1 : same(node.b) ? 2 : 0
        }
        keptHousehold = householdFrontier.map(kept)
        keptPerson = personFrontier.map(kept)
        // Whether node n reads no household or person: only numbers, operations on
        // such, and values worked out again from such definitions.
        var memo = [UInt8](repeating: 0, count: a.nodes.count)  // 0: not yet, 1: reads none, 2: reads
        func readsNone(_ n: Int32) -> Bool {
            guard n >= 0 else { return false }
            if memo[Int(n)] != 0 { return memo[Int(n)] == 1 }
            let node = a.nodes[Int(n)]
            let none: Bool
            switch node.op {
            case .constant, .parameter: none = true
            case .negate, .hasValue, .truthTest: none = readsNone(node.a)
            case .arithmetic, .compare: none = readsNone(node.a) && readsNone(node.b)
            case .value: none = computedValues.contains(Int(node.a)) && readsNone(a.valueNode[Int(node.a)])
            default: none = false
            }
            memo[Int(n)] = none ? 1 : 2
            return none
        }
        let fixed = (0..<Int32(a.nodes.count)).filter(readsNone)
        let nowhere = StoredReads(values: 0)
        // Worked out by the walk itself (nothing folded yet), then kept.
        var fb = [Val?](repeating: nil, count: a.nodes.count), fr = fb
        for n in fixed {
            fb[Int(n)] = eval(n, false, 0, -1, nowhere)
            fr[Int(n)] = eval(n, true, 0, -1, nowhere)
        }
        foldedBase = Cells(fb)
        foldedReform = Cells(fr)
        // A kept comparison whose other side reads no household: that side's result
        // under the reform's numbers, and the comparison's accepted orders.
        func other(_ n: Int32, _ k: UInt8) -> (Val?, UInt8) {
            let node = a.nodes[Int(n)]
            guard k != 0 else { return (nil, node.detail) }
            return (fr[Int(k == 1 ? node.b : node.a)], node.detail)
        }
        let oh = zip(householdFrontier, keptHousehold).map(other), op = zip(personFrontier, keptPerson).map(other)
        otherHousehold = oh.map(\.0)
        otherPerson = op.map(\.0)
        acceptHousehold = oh.map(\.1)
        acceptPerson = op.map(\.1)
    }

    /// Whether every frontier node is a comparison keeping one side whose other side
    /// reads no household: the reform's results are then the kept sides (in the
    /// base's results) against one number per node (`codes`).
    package var comparesNumbers: Bool {
        zip(keptHousehold, otherHousehold).allSatisfy { $0 != 0 && $1 != nil }
            && zip(keptPerson, otherPerson).allSatisfy { $0 != 0 && $1 != nil }
    }

    /// A comparison's result as a code: 0 false, 1 true, 2 unknown (what `compare` gives).
    @inline(__always)
    package static func code(_ v: Val) -> UInt8 {
        switch v {
        case .bool(let b): return b ? 1 : 0
        default: return 2
        }
    }

    /// With `comparesNumbers`: the reform's result of each frontier node of a
    /// household as a `code`, into `out` (as many as `base` holds pairs): `base`
    /// is `baseResults` of the household (each node's result, then its kept side).
    @inline(__always)
    package func codes(base: [Val], into out: UnsafeMutablePointer<UInt8>) {
        let hn = householdFrontier.count, pn = personFrontier.count
        base.withUnsafeBufferPointer { b in
            var j = 0
            while 2 * j < b.count {
                let k = j < hn ? j : hn + (j - hn) % pn
                let (kept, other, accept) =
                    k < hn
                    ? (keptHousehold[k], otherHousehold[k]!, acceptHousehold[k])
                    : (keptPerson[k - hn], otherPerson[k - hn]!, acceptPerson[k - hn])
                let v = b[2 * j + 1]
                out[j] = ClosedFrontier.code(
                    kept == 1 ? ClosedFrontier.compare(accept, v, other) : ClosedFrontier.compare(accept, other, v))
                j += 1
            }
        }
    }

    /// For each kept frontier node (household ones, person ones) whose other side
    /// reads no household: that side under the reform's numbers (nil for the
    /// others), and the comparison's `detail` (its accepted orders).
    private var otherHousehold: [Val?] = [], otherPerson: [Val?] = []
    private var acceptHousehold: [UInt8] = [], acceptPerson: [UInt8] = []

    /// Node n's result worked out once under one side's numbers, nil where it reads a household.
    func folded(_ n: Int32, reformSide: Bool) -> Val? { reformSide ? foldedReform[Int(n)] : foldedBase[Int(n)] }

    /// Whether `other`'s base results can be read by this one (the same frontier, kept the same way).
    package func sharesResults(with other: ClosedFrontier) -> Bool {
        householdFrontier == other.householdFrontier && personFrontier == other.personFrontier
            && keptHousehold == other.keptHousehold && keptPerson == other.keptPerson
    }

    /// Frontier node n under the base's numbers, and the side it keeps, into `out`.
    @inline(__always)
    func base(_ n: Int32, keeping k: UInt8, _ h: Int, _ p: Int32, _ reads: StoredReads, into out: inout [Val]) -> Bool {
        guard k != 0 else {
            guard let x = eval(n, false, h, p, reads) else { return false }
            out.append(x)
            return true
        }
        let node = base.nodes[Int(n)]
        guard let x = eval(node.a, false, h, p, reads), let y = eval(node.b, false, h, p, reads) else { return false }
        out.append(ClosedFrontier.compare(node, x, y))
        out.append(k == 1 ? x : y)
        return true
    }

    /// Frontier node n under the reform's numbers, its kept side `kept` (k != 0).
    @inline(__always)
    func reform(_ n: Int32, keeping k: UInt8, _ kept: Val, _ h: Int, _ p: Int32, _ reads: StoredReads) -> Val? {
        let node = base.nodes[Int(n)]
        if k == 1 {
            guard let y = eval(node.b, true, h, p, reads) else { return nil }
            return ClosedFrontier.compare(node, kept, y)
        }
        guard let x = eval(node.a, true, h, p, reads) else { return nil }
        return ClosedFrontier.compare(node, x, kept)
    }

    @inline(__always)
    static func compare(_ node: Node, _ a: Val, _ b: Val) -> Val { compare(node.detail, a, b) }

    /// A comparison whose `detail` (accepted orders) is `accept`, as the evaluator makes it.
    @inline(__always)
    static func compare(_ accept: UInt8, _ a: Val, _ b: Val) -> Val {
        if let order = EvalContext.order(a, b) { return .bool(accept & (1 << UInt8(order + 1)) != 0) }
        return a.isUnknown || b.isUnknown ? .unknownNoFacts : .bool(accept & 0b1000 != 0)
    }

    /// The base's frontier results for household h (household nodes, then the
    /// person nodes for each living member), into `out`; false when a value it
    /// reads is not stored (the household is then loaded and evaluated as usual).
    package func baseResults(household h: Int, reads: StoredReads, into out: inout [Val]) -> Bool {
        out.removeAll(keepingCapacity: true)
        for (k, n) in householdFrontier.enumerated() {
            guard base(n, keeping: keptHousehold[k], h, -1, reads, into: &out) else { return false }
        }
        guard !personFrontier.isEmpty else { return true }
        for p in Int(households.householdStart[h])..<Int(households.householdStart[h + 1])
        where households.living[p] != 0 {
            for (k, n) in personFrontier.enumerated() {
                guard base(n, keeping: keptPerson[k], h, Int32(p), reads, into: &out) else { return false }
            }
        }
        return true
    }

    /// The reform's result of every frontier node for household h (household nodes,
    /// then each living member's person nodes) into `out`, and whether one differs
    /// from the base's (`base`: `baseResults`, same frontier); nil when a value it
    /// reads is not stored. (A sweep's values are also compared with each other.)
    package func reformResults(household h: Int, base: [Val], reads: StoredReads, into out: inout [Val]) -> Bool? {
        out.removeAll(keepingCapacity: true)
        return walk(household: h, base: base, reads: reads, whole: true, into: &out)
    }

    /// Whether a frontier node gives another result under the reform for household
    /// h or one of its living members than `base` (`baseResults`, same frontier);
    /// nil when a value it reads is not stored. Stops at the first difference.
    package func differs(household h: Int, base: [Val], reads: StoredReads) -> Bool? {
        var none: [Val] = []
        return walk(household: h, base: base, reads: reads, whole: false, into: &none)
    }

    /// The reform's side of every frontier node, compared with the base's; `whole`:
    /// every node worked out and its result kept in `out`, else up to the first
    /// that differs (nothing kept).
    @inline(__always)
    private func walk(household h: Int, base: [Val], reads: StoredReads, whole: Bool, into out: inout [Val]) -> Bool? {
        var i = 0, differs = false
        /// Node n of person p (-1: the household) under the reform: its kept side
        /// (`base[i + 1]`) against its other side's number where that reads no
        /// household, else worked out. Whether to stop: nil when a value it reads
        /// is not stored, true at the first difference (not `whole`).
        func node(_ n: Int32, _ kept: UInt8, _ other: Val?, _ accept: UInt8, _ p: Int32) -> Bool? {
            let y: Val
            if let c = other {
                y =
                    kept == 1
                    ? ClosedFrontier.compare(accept, base[i + 1], c) : ClosedFrontier.compare(accept, c, base[i + 1])
            } else {
                guard
                    let x = kept == 0 ? eval(n, true, h, p, reads) : reform(n, keeping: kept, base[i + 1], h, p, reads)
                else { return nil }
                y = x
            }
            if base[i] != y {
                if !whole { return true }
                differs = true
            }
            if whole { out.append(y) }
            i += kept == 0 ? 1 : 2
            return false
        }
        for (k, n) in householdFrontier.enumerated() {
            guard let stop = node(n, keptHousehold[k], otherHousehold[k], acceptHousehold[k], -1) else { return nil }
            if stop { return true }
        }
        guard !personFrontier.isEmpty else { return differs }
        for p in Int(households.householdStart[h])..<Int(households.householdStart[h + 1])
        where households.living[p] != 0 {
            for (k, n) in personFrontier.enumerated() {
                guard let stop = node(n, keptPerson[k], otherPerson[k], acceptPerson[k], Int32(p)) else { return nil }
                if stop { return true }
            }
        }
        return differs
    }

    /// Node n for household h (person p, -1: the household), under the reform's
    /// numbers or the base's (the nodes are the same).
    func eval(_ n: Int32, _ reformSide: Bool, _ h: Int, _ p: Int32, _ reads: StoredReads) -> Val? {
        if !foldedBase.isEmpty, let v = reformSide ? foldedReform[Int(n)] : foldedBase[Int(n)] { return v }
        let node = base.nodes[Int(n)]
        switch node.op {
        case .constant, .parameter:
            return reformSide ? reform.constants[Int(node.a)] : base.constants[Int(node.a)]
        case .negate:
            guard let v = eval(node.a, reformSide, h, p, reads) else { return nil }
            if case .num(let q) = v { return .num(-q) }
            return v
        case .arithmetic:
            guard let a = eval(node.a, reformSide, h, p, reads), let b = eval(node.b, reformSide, h, p, reads) else {
                return nil
            }
            if case .num(let x) = a, case .num(let y) = b { return EvalContext.arithmetic(node.arithmetic, x, y) }
            return a.isUnknown || b.isUnknown ? .unknownNoFacts : Val.none
        case .compare:
            guard let a = eval(node.a, reformSide, h, p, reads), let b = eval(node.b, reformSide, h, p, reads) else {
                return nil
            }
            return ClosedFrontier.compare(node, a, b)
        case .hasValue:
            return eval(node.a, reformSide, h, p, reads).map(EvalContext.hasValue)
        case .truthTest:
            return eval(node.a, reformSide, h, p, reads).map { EvalContext.truthTest(node.truthTest, $0) }
        case .value:
            let v = Int(node.a)
            let household = base.valueOfHousehold[v]
            if computed[v] { return eval(base.valueNode[v], reformSide, h, household ? -1 : p, reads) }
            if household { return reads.household(v, h, stored) }
            return p >= 0 ? stored.personValue(v, p) : nil
        default:
            return nil  // not closed (`ReformImpact.closed` says so first)
        }
    }
}

/// The stored household values read for the household being selected, each read
/// once for every reform and frontier node (one per worker).
package final class StoredReads {
    private var household = -1
    private var values: [Val?]
    private var read: [Bool]

    package init(values count: Int) {
        values = .init(repeating: nil, count: count)
        read = .init(repeating: false, count: count)
    }

    func household(_ v: Int, _ h: Int, _ stored: StoredValues) -> Val? {
        if h != household {
            household = h
            for i in read.indices { read[i] = false }
        }
        if !read[v] {
            values[v] = stored.householdValue(v, h)
            read[v] = true
        }
        return values[v]
    }
}
