/// Memory of the evaluator's own for its hot arrays: read and written without an
/// array's bounds, uniqueness and exclusivity checks in a release build (a debug
/// build, which the tests use, checks every index). Every index comes from the
/// compiled program, whose operands are checked once when an evaluator is made
/// (`ProgramCells.init`), or from the loaded household. Plain values only (no
/// reference counts). Not copyable: the cells own their memory and free it when
/// they go (`deinit`), so no owner frees them by hand and none twice.
struct Cells<T>: ~Copyable {
    private(set) var base: UnsafeMutablePointer<T>
    private(set) var count: Int
    private var capacity: Int

    /// A copy of `a`.
    init(_ a: [T]) {
        precondition(_isPOD(T.self), "cells hold plain values")
        capacity = max(1, a.count)
        count = a.count
        base = .allocate(capacity: capacity)
        a.withUnsafeBufferPointer { if let p = $0.baseAddress { base.initialize(from: p, count: $0.count) } }
    }

    /// No cells yet.
    init() { self.init([]) }

    subscript(i: Int) -> T {
        @inline(__always) get {
            assert(i >= 0 && i < count, "cell \(i) of \(count)")
            return base[i]
        }
        @inline(__always) nonmutating set {
            assert(i >= 0 && i < count, "cell \(i) of \(count)")
            base[i] = newValue
        }
    }

    var isEmpty: Bool { count == 0 }

    /// `n` cells, each `x` (the memory is kept when it has room).
    mutating func reset(count n: Int, to x: T) {
        room(n)
        count = n
        base.update(repeating: x, count: n)
    }

    /// Every cell set to `x`.
    @inline(__always) func fill(_ x: T) { base.update(repeating: x, count: count) }

    mutating func removeAll() { count = 0 }

    /// The first `n` cells kept, the others gone.
    @inline(__always) mutating func truncate(to n: Int) {
        assert(n >= 0 && n <= count, "truncate to \(n) of \(count)")
        count = n
    }

    @inline(__always) mutating func append(_ x: T) {
        if count == capacity { room(count + 1) }
        base[count] = x
        count += 1
    }

    /// A copy as an array (for callers off the hot path).
    var array: [T] { Array(UnsafeBufferPointer(start: base, count: count)) }

    private mutating func room(_ n: Int) {
        guard n > capacity else { return }
        let bigger = max(n, capacity * 2)
        let fresh = UnsafeMutablePointer<T>.allocate(capacity: bigger)
        fresh.initialize(from: base, count: count)
        base.deallocate()
        base = fresh
        capacity = bigger
    }

    deinit { base.deallocate() }
}

/// The program's arrays that every evaluation reads, as cells of one evaluator.
/// Made once per evaluator, after checking that every node's operands are in
/// range: the evaluator then reads them unchecked.
struct ProgramCells: ~Copyable {
    let nodes: Cells<Node>
    let constants: Cells<Val>
    let valueOfHousehold: Cells<Bool>
    let valueNode: Cells<Int32>
    let policyOfHousehold: Cells<Bool>
    let policyRuns: Cells<Bool>
    let receivingTag: Cells<Int>
    let criterionNodes: Cells<Int32>
    let criterionStart: Cells<Int>
    let branchNodes: Cells<Int32>
    let branchStart: Cells<Int>
    let listPerPolicy: Cells<Bool>
    let listWhen: Cells<Int32>
    let listAfter: Cells<Bool>
    let reasonNodes: Cells<Int32>
    let reasonStart: Cells<Int>

    init(_ p: Program, tags: Int, values: Int, policies: Int, lets: Int) {
        if let problem = ProgramCells.problem(p, tags: tags, values: values, policies: policies, lets: lets) {
            preconditionFailure("compiled rules: " + problem)
        }
        nodes = Cells(p.nodes)
        constants = Cells(p.constants)
        valueOfHousehold = Cells(p.valueOfHousehold)
        valueNode = Cells(p.valueNode)
        policyOfHousehold = Cells(p.policyOfHousehold)
        policyRuns = Cells(p.policyRuns)
        receivingTag = Cells(p.receivingTag)
        criterionNodes = Cells(p.criterionNodes)
        criterionStart = Cells(p.criterionStart)
        branchNodes = Cells(p.branchNodes)
        branchStart = Cells(p.branchStart)
        listPerPolicy = Cells(p.listPerPolicy)
        listWhen = Cells(p.listWhen)
        listAfter = Cells(p.listAfter)
        reasonNodes = Cells(p.reasonNodes)
        reasonStart = Cells(p.reasonStart)
    }

    /// Every index the evaluator follows without a check, checked here once: a
    /// node's children, constants, tags, values, policies, tables and `let` slots,
    /// and the nodes and runs of the values, policies and lists. nil when all hold.
    static func problem(_ p: Program, tags: Int, values: Int, policies: Int, lets: Int) -> String? {
        let n = p.nodes.count
        func node(_ x: Int32, orNone: Bool = false) -> Bool { (orNone && x == -1) || (x >= 0 && Int(x) < n) }
        func runs(_ start: [Int], _ items: [Int32], count: Int) -> Bool {
            start.count == count + 1 && start.first == 0 && start.last == items.count
                && zip(start, start.dropFirst()).allSatisfy { $0 <= $1 } && items.allSatisfy { node($0) }
        }
        for (i, x) in p.nodes.enumerated() {
            let ok: Bool
            switch x.op {
            case .constant, .parameter: ok = x.a >= 0 && Int(x.a) < p.constants.count
            case .not, .negate, .head, .hasValue: ok = node(x.a)
            case .truthTest: ok = node(x.a) && TruthTest(rawValue: x.detail) != nil
            case .and, .or, .bothAnd, .compare, .years: ok = node(x.a) && node(x.b)
            case .arithmetic: ok = node(x.a) && node(x.b) && Arithmetic(rawValue: x.detail) != nil
            case .ifThen: ok = node(x.a) && node(x.b) && node(x.c)
            case .cachedLet: ok = node(x.a) && x.b >= 0 && Int(x.b) < lets
            case .listEligible, .listReceiving, .listHas, .previousHousehold, .previousPerson: ok = true
            case .builtin: ok = Builtin(rawValue: x.detail) != nil
            case .tag: ok = x.a >= 0 && Int(x.a) < tags
            case .value: ok = x.a >= 0 && Int(x.a) < values
            case .eligible, .receiving, .has: ok = x.a >= 0 && Int(x.a) < policies
            case .band: ok = node(x.a) && x.b >= 0 && Int(x.b) < p.tables.count
            case .aggregate:
                ok = node(x.a, orNone: true) && node(x.b, orNone: true) && Aggregate(rawValue: x.detail) != nil
            }
            if !ok { return "node \(i) (\(x.op)) has an operand out of range" }
        }
        guard p.valueOfHousehold.count == values && p.valueNode.count == values && p.valueNode.allSatisfy({ node($0) })
        else {
            return "values laid out wrong"
        }
        guard
            p.policyOfHousehold.count == policies && p.policyRuns.count == policies && p.receivingTag.count == policies
                && p.receivingTag.allSatisfy({ $0 >= -1 && $0 < tags })
                && runs(p.criterionStart, p.criterionNodes, count: policies)
                && runs(p.branchStart, p.branchNodes, count: policies)
        else {
            return "policies laid out wrong"
        }
        let lists = p.listPerPolicy.count
        guard
            p.listWhen.count == lists && p.listAfter.count == lists && p.listWhen.allSatisfy({ node($0, orNone: true) })
                && runs(p.reasonStart, p.reasonNodes, count: lists)
        else {
            return "lists laid out wrong"
        }
        return nil
    }
}
