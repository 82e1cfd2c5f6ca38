import Foundation
import PFPCore
import PFPSchema

/// Where an expression is compiled: for one person, or for the household.
struct Scope {
    var level: Level
    /// Inside a `per policy` list: bare eligible/receiving/has name the list's policy.
    var listPolicy = false
    var lets: [String: LetFn] = [:]
    /// previous(...) may be used (warning lists only).
    var allowPrevious = false
    /// Inside previous(...): no nesting.
    var insidePrevious = false
}

/// A list's `let` helper (a struct: see NamedFn).
struct LetFn {
    let fn: Fn
    let type: VType
    let deps: Dependencies
}

struct Compiler {
    let rs: RuleSet
    let source: RuleSource
    let policyCatalogue: PolicyCatalogue
    var valueDecls: [String: ValueDecl] = [:]
    var valueState: [String: Int] = [:]  // 1 compiling, 2 done
    var valueChain: [String] = []
    var deps = Dependencies()

    /// The type of each person fact.
    static func type(of b: Builtin) -> VType {
        switch b {
        case .birthDate: return .date
        case .sex: return .word(["F", "M"])
        case .relation: return .word(Relation.allCases.map(\.word))
        case .hukou: return .word(["local", "nonlocal"])
        }
    }
    static let functions: Set<String> = [
        "years", "has_value", "is_true", "is_false", "is_unknown", "possible",
        "eligible", "receiving", "has", "band", "previous",
    ]

    init(rs: RuleSet, source: RuleSource, policyCatalogue: PolicyCatalogue) {
        self.rs = rs
        self.source = source
        self.policyCatalogue = policyCatalogue
    }

    // MARK: declarations

    mutating func compileAll() throws {
        var taken: [String: SourcePos] = [:]
        func claim(_ name: String, _ pos: SourcePos, _ what: String) throws {
            if let other = taken[name] { throw ruleError(pos, "\(what) '\(name)' is already defined at \(other)") }
            if rs.catalogue.index(of: name) != nil || Builtin(spelling: name) != nil
                || Compiler.functions.contains(name)
                || ["run_date", "members", "previous_members", "head", "true", "false"].contains(name)
            {
                throw ruleError(pos, "'\(name)' is a built-in name or a tag; choose another name")
            }
            taken[name] = pos
        }
        // Parameters: the value in force on the run date.
        for p in source.parameters {
            try claim(p.id, p.pos, "parameter")
            var info = ParameterInfo(
                id: p.id, label: p.label, unit: p.unit, isTable: p.isTable, from: nil, value: nil, bands: [], pos: p.pos
            )
            var lastFrom: CivilDate?
            if p.isTable {
                for e in p.bands {
                    if let lastFrom, e.from <= lastFrom {
                        throw ruleError(e.pos, "dates must increase: \(e.from) is not after \(lastFrom)")
                    }
                    lastFrom = e.from
                    var bands: [(Q, Q)] = []
                    for (k, v) in e.bands {
                        guard let kq = Q(decimal: k), let vq = Q(decimal: v) else {
                            throw ruleError(e.pos, "expected numbers in the bands")
                        }
                        if let last = bands.last, kq <= last.0 {
                            throw ruleError(e.pos, "band keys must increase: \(k) is not above \(last.0)")
                        }
                        bands.append((kq, vq))
                    }
                    if e.from <= rs.runDate { info.from = e.from; info.bands = bands }
                }
            } else {
                for e in p.values {
                    if let lastFrom, e.from <= lastFrom {
                        throw ruleError(e.pos, "dates must increase: \(e.from) is not after \(lastFrom)")
                    }
                    lastFrom = e.from
                    guard let q = Q(decimal: e.value) else { throw ruleError(e.pos, "'\(e.value)' is not a number") }
                    if e.from <= rs.runDate { info.from = e.from; info.value = q }
                }
            }
            rs.parameters[p.id] = info
        }
        // Explanations list parameters by id in byte order: traced as their rank.
        rs.parameterIDs = rs.parameters.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for (i, id) in rs.parameterIDs.enumerated() { rs.parameterRank[id] = Int32(i) }
        for v in source.values {
            try claim(v.id, v.pos, "value")
            valueDecls[v.id] = v
            rs.valueIndex[v.id] = rs.values.count
            rs.values.append(ValueInfo(id: v.id, level: v.level, label: v.label, index: rs.values.count, pos: v.pos))
        }
        for p in source.policies {
            try claim(p.id, p.pos, "policy")
            let entry = policyCatalogue.policies.first(where: { $0.id == p.id })
            if entry == nil && p.newInReform {
                // A new allowance tried in a what-if: nobody receives it yet.
                rs.policyIndex[p.id] = rs.policies.count
                let info = PolicyInfo(id: p.id, label: p.label, level: p.level, index: rs.policies.count, pos: p.pos)
                info.oneOff = p.oneOff
                rs.policies.append(info)
                continue
            }
            guard let entry else {
                throw ruleError(
                    p.pos,
                    "policy \(p.id) is not in the policy catalogue; add it there (its receiving.\(p.id) tag "
                        + "comes from the catalogue)"
                )
            }
            if entry.level.rawValue != p.level.rawValue {
                throw ruleError(
                    p.pos,
                    "policy \(p.id) is a \(p.level.rawValue) policy here but a \(entry.level.rawValue) policy in "
                        + "the policy catalogue"
                )
            }
            rs.policyIndex[p.id] = rs.policies.count
            let info = PolicyInfo(id: p.id, label: p.label, level: p.level, index: rs.policies.count, pos: p.pos)
            info.oneOff = p.oneOff
            info.receivingTag = rs.catalogue.index(of: "receiving." + p.id)
            rs.policies.append(info)
        }
        for entry in policyCatalogue.policies where rs.policyIndex[entry.id] == nil {
            throw PipelineError.badInput(
                location: "policies.catalogue", "policy \(entry.id) is in the catalogue but no rule file defines it",
                hint: "add 'policy \(entry.id) ...' to a file under Pipelines/rules/ or remove it from the catalogue")
        }
        for l in source.lists { try claim(l.id, l.pos, "list") }

        for v in source.values { try compileValue(v.id, at: v.pos) }
        for (i, p) in source.policies.enumerated() { try compilePolicy(p, info: rs.policies[i]) }
        try checkPolicyCycles()
        for (i, l) in source.lists.enumerated() {
            let info = ListInfo(id: l.id, label: l.label, perPolicy: l.perPolicy, index: i, pos: l.pos)
            rs.lists.append(info)
        }
        for (i, l) in source.lists.enumerated() { try compileList(l, info: rs.lists[i]) }
        for l in rs.lists {
            if let source = l.heldFrom, rs.lists[source].heldFrom != nil {
                throw ruleError(
                    l.pos, "list \(l.id) is held from \(rs.lists[source].id), which is itself held from another")
            }
        }
        if let d = source.outcomes { rs.outreach = try OutreachRules(d, parameters: rs.parameters) }
        try decideSkips()
        rs.program.link(rs)
    }

    mutating func compileValue(_ id: String, at usePos: SourcePos) throws {
        if valueState[id] == 2 { return }
        if valueState[id] == 1 {
            let cycle = (valueChain.drop { $0 != id } + [id]).joined(separator: " -> ")
            throw ruleError(usePos, "a cycle between definitions: \(cycle)")
        }
        guard let decl = valueDecls[id] else { return }
        valueState[id] = 1
        valueChain.append(id)
        let saved = deps
        deps = Dependencies()
        let (fn, type) = try compile(decl.expr, Scope(level: decl.level))
        let info = rs.values[rs.valueIndex[id]!]
        info.fn = fn
        info.type = type
        info.deps = deps
        deps = saved
        valueChain.removeLast()
        valueState[id] = 2
    }

    mutating func compilePolicy(_ d: PolicyDecl, info: PolicyInfo) throws {
        deps = Dependencies()
        let scope = Scope(level: d.level)
        if d.criteria.isEmpty && d.branches.isEmpty { throw ruleError(d.pos, "policy \(d.id) has no criterion") }
        var codes: Set<String> = []
        for c in d.criteria {
            guard codes.insert(c.code).inserted else {
                throw ruleError(c.pos, "criterion \(c.code) appears twice in policy \(d.id)")
            }
            let (fn, t) = try compile(c.expr, scope)
            try expectType(t, .bool, c.expr.pos, "a criterion")
            info.criteria.append(NamedFn(code: c.code, fn: fn))
        }
        for b in d.branches {
            let (fn, t) = try compile(b.expr, scope)
            try expectType(t, .bool, b.expr.pos, "a branch")
            var amount: Fn?
            if let a = b.amount {
                let (afn, at) = try compile(a, scope)
                try expectType(at, .number, a.pos, "an amount")
                amount = afn
            }
            info.branches.append(BranchFn(code: b.code, fn: fn, amount: amount))
        }
        if let a = d.amount {
            let (fn, t) = try compile(a, scope)
            try expectType(t, .number, a.pos, "an amount")
            info.amount = fn
        }
        info.deps = deps
    }

    mutating func compileList(_ d: ListDecl, info: ListInfo) throws {
        deps = Dependencies()
        info.columns = d.columns.compactMap(ListColumn.init(rawValue:))
        var scope = Scope(level: .household)
        scope.listPolicy = d.perPolicy
        if let after = d.after {
            guard rs.lists.contains(where: { $0.id == after.list && !$0.perPolicy }) else {
                throw ruleError(after.pos, "'after \(after.list)': no household list of that name")
            }
            info.after = after.list
            scope.allowPrevious = true
        }
        if let held = d.heldFrom {
            guard let source = rs.lists.first(where: { $0.id == held.list }), source.perPolicy,
                source.index != info.index
            else {
                throw ruleError(held.pos, "'held from: \(held.list)': no other list per policy of that name")
            }
            if let other = rs.lists.first(where: { $0.heldFrom == source.index && $0 !== info }) {
                throw ruleError(held.pos, "list \(held.list) is already held back into list \(other.id)")
            }
            info.heldFrom = source.index
        }
        if let w = d.when {
            let (fn, t) = try compile(w, scope)
            try expectType(t, .bool, w.pos, "a list condition")
            info.when = fn
        }
        for l in d.lets {
            let (fn, t) = try compile(l.expr, scope)
            if d.perPolicy {
                scope.lets[l.name] = LetFn(fn: fn, type: t, deps: deps)
            } else {
                // A household list's helper does not depend on a person or a policy:
                // computed once per household (the cache is cleared with the others).
                let slot = rs.letCount
                rs.letCount += 1
                scope.lets[l.name] = LetFn(
                    fn: add(Node(op: .cachedLet, a: fn.node, b: Int32(slot))), type: t, deps: deps)
            }
        }
        var codes: Set<String> = []
        for r in d.reasons {
            guard codes.insert(r.code).inserted else {
                throw ruleError(r.pos, "reason \(r.code) appears twice in list \(d.id)")
            }
            let (fn, t) = try compile(r.expr, scope)
            try expectType(t, .bool, r.expr.pos, "a reason")
            info.reasons.append(NamedFn(code: r.code, fn: fn))
        }
        info.deps = deps
    }

    /// Policies that read each other's eligibility in a circle cannot be evaluated.
    func checkPolicyCycles() throws {
        var state: [String: Int] = [:]
        func visit(_ p: PolicyInfo, _ chain: [String]) throws {
            if state[p.id] == 2 { return }
            if state[p.id] == 1 {
                throw ruleError(
                    p.pos, "a cycle between policies: " + (chain.drop { $0 != p.id } + [p.id]).joined(separator: " -> ")
                )
            }
            state[p.id] = 1
            for q in p.deps.policies.sorted() { if let qi = rs.policy(q) { try visit(qi, chain + [p.id]) } }
            state[p.id] = 2
        }
        for p in rs.policies { try visit(p, []) }
    }

    /// Transitive dependencies through values and policies, then the skip rules of policies.md.
    func decideSkips() throws {
        func closure(_ d: Dependencies) -> Dependencies {
            var out = d
            var seenValues: Set<String> = [], seenPolicies: Set<String> = []
            var changed = true
            while changed {
                changed = false
                for v in out.values where !seenValues.contains(v) {
                    seenValues.insert(v)
                    if let info = rs.value(v) { out.formUnion(info.deps); changed = true }
                }
                for p in out.policies where !seenPolicies.contains(p) {
                    seenPolicies.insert(p)
                    if let info = rs.policy(p) { out.formUnion(info.deps); changed = true }
                }
            }
            return out
        }
        let missingParams = Set(rs.parameters.values.filter { $0.from == nil }.map(\.id))
        /// What a rule reads that this run does not have: parameters without a
        /// value on the run date, feeds allowed to be missing.
        func missing(_ d: Dependencies) -> (parameters: String?, feeds: String?) {
            let params = d.parameters.intersection(missingParams).sorted()
            let feeds = Set(d.tags.map { rs.catalogue.tags[$0].feed }).intersection(rs.unavailableFeeds).sorted()
            return (
                params.isEmpty ? nil : "no value on \(rs.runDate) for " + params.joined(separator: ", "),
                feeds.isEmpty ? nil : "reads feed " + feeds.joined(separator: ", ") + ", allowed to be missing"
            )
        }
        for p in rs.policies {
            p.deps = closure(p.deps)
            let (params, feeds) = missing(p.deps)
            let why = [params, feeds].compactMap { $0 }
            if !why.isEmpty { p.skipped = why.joined(separator: "; ") }
        }
        // A policy that reads a skipped policy is skipped too.
        var changed = true
        while changed {
            changed = false
            for p in rs.policies where p.skipped == nil {
                if let q = p.deps.policies.sorted().first(where: { rs.policy($0)?.skipped != nil }) {
                    p.skipped = "reads policy \(q), which is skipped"
                    changed = true
                }
            }
        }
        for l in rs.lists {
            l.deps = closure(l.deps)
            let (params, feeds) = missing(l.deps)
            var why = [params].compactMap { $0 }
            if !l.perPolicy {
                let skipped = l.deps.policies.sorted().filter { rs.policy($0)?.skipped != nil }
                if !skipped.isEmpty { why.append("policies " + skipped.joined(separator: ", ") + " are skipped") }
                if let feeds { why.append("it " + feeds) }
            }
            if !why.isEmpty {
                throw PipelineError.badInput(
                    location: l.pos.description,
                    "the run is refused: list \(l.id) cannot be made (" + why.joined(separator: "; ") + ")",
                    hint:
                        "the lists would be wrong without it: add the parameter value for this date, or deliver "
                        + "the feed"
                )
            }
        }
    }

    // MARK: expressions

    /// Appends a node to the rule set's program.
    func add(_ n: Node) -> Fn {
        rs.program.nodes.append(n)
        return Fn(node: Int32(rs.program.nodes.count - 1))
    }

    /// A constant's position among the program's constants.
    func constantIndex(_ v: Val) -> Int32 {
        rs.program.constants.append(v)
        return Int32(rs.program.constants.count - 1)
    }

    func constant(_ v: Val) -> Fn { add(Node(op: .constant, a: constantIndex(v))) }

    func expectType(_ t: VType, _ want: VType, _ pos: SourcePos, _ what: String) throws {
        if case .word = want, case .word = t { return }
        if t != want { throw ruleError(pos, "\(what) must be \(want), this is \(t)") }
    }

    mutating func compile(_ e: ExprNode, _ s: Scope) throws -> (Fn, VType) {
        switch e {
        case .number(let text, let pos):
            guard let q = Q(decimal: text) else { throw ruleError(pos, "'\(text)' is not a number") }
            return (constant(.num(q)), .number)
        case .boolean(let b, _):
            return (constant(.bool(b)), .bool)
        case .string(let text, let pos):
            throw ruleError(
                pos, "the text \"\(text)\" can only be compared with a word value, e.g. employment.status = \"\(text)\""
            )
        case .name(let name, let pos):
            return try compileName(name, pos, s)
        case .unary(let op, let x, let pos):
            let (f, t) = try compile(x, s)
            if op == .not {
                try expectType(t, .bool, x.pos, "the operand of 'not'")
                return (add(Node(op: .not, a: f.node)), .bool)
            }
            guard t == .number else { throw ruleError(pos, "'-' needs a number, this is \(t)") }
            return (add(Node(op: .negate, a: f.node)), .number)
        case .binary(let op, let l, let r, let pos):
            return try compileBinary(op, l, r, pos, s)
        case .inRange(let x, let lo, let hi, let pos):
            let (fx, tx) = try compile(x, s)
            let (fl, tl) = try compile(lo, s)
            let (fh, th) = try compile(hi, s)
            guard tx == .number, tl == .number, th == .number else {
                throw ruleError(pos, "'in A..B' compares numbers")
            }
            let ge = comparison(.greaterOrEqual, fx, fl, .number), le = comparison(.lessOrEqual, fx, fh, .number)
            return (add(Node(op: .bothAnd, a: ge.node, b: le.node)), .bool)
        case .ifThen(let cnd, let a, let b, let pos):
            let (fc, tc) = try compile(cnd, s)
            try expectType(tc, .bool, cnd.pos, "the condition of 'if'")
            let (fa, ta) = try compile(a, s)
            let (fb, tb) = try compile(b, s)
            guard sameType(ta, tb) else { throw ruleError(pos, "'then' gives \(ta) but 'else' gives \(tb)") }
            return (add(Node(op: .ifThen, a: fc.node, b: fa.node, c: fb.node)), ta)
        case .call(let name, let args, let pos):
            return try compileCall(name, args, pos, s)
        case .aggregate(let fn, let coll, let filter, let body, let pos):
            return try compileAggregate(fn, coll, filter, body, pos, s)
        }
    }

    func sameType(_ a: VType, _ b: VType) -> Bool {
        if case .word(let x) = a, case .word(let y) = b { return x == y }
        return a == b
    }

    mutating func compileName(_ name: String, _ pos: SourcePos, _ s: Scope) throws -> (Fn, VType) {
        if let l = s.lets[name] { deps.formUnion(l.deps); return (l.fn, l.type) }
        if name == "run_date" {
            return (constant(.date(rs.runDate.days)), .date)
        }
        if s.listPolicy && (name == "eligible" || name == "receiving" || name == "has") {
            // Not a dependency on every policy: a skipped policy simply has no entries.
            switch name {
            case "eligible": return (add(Node(op: .listEligible)), .bool)
            case "receiving":
                for p in rs.policies { if let t = rs.catalogue.index(of: "receiving." + p.id) { deps.tags.insert(t) } }
                return (add(Node(op: .listReceiving)), .bool)
            default:
                for p in rs.policies { if let t = rs.catalogue.index(of: "receiving." + p.id) { deps.tags.insert(t) } }
                return (add(Node(op: .listHas)), .bool)
            }
        }
        if name.hasPrefix("head.") {
            let inner = String(name.dropFirst(5))
            var ps = s
            ps.level = .person
            let (f, t) = try compileName(inner, pos, ps)
            return (add(Node(op: .head, a: f.node)), t)
        }
        if let t = rs.catalogue.index(of: name) {
            guard s.level == .person else { throw personOnly(name, pos) }
            deps.tags.insert(t)
            let type: VType
            switch rs.catalogue.tags[t].type {
            case .money, .int: type = .number
            case .bool: type = .bool
            case .date: type = .date
            case .enumeration(let w): type = .word(w)
            }
            return (add(Node(op: .tag, a: Int32(t))), type)
        }
        if let b = Builtin(spelling: name) {
            guard s.level == .person else { throw personOnly(name, pos) }
            return (add(Node(op: .builtin, detail: b.rawValue)), Compiler.type(of: b))
        }
        if let vi = rs.valueIndex[name] {
            let info = rs.values[vi]
            if info.level == .person && s.level != .person { throw personOnly(name, pos) }
            try compileValue(name, at: pos)
            deps.values.insert(name)
            return (add(Node(op: .value, a: Int32(vi))), info.type)
        }
        if let p = rs.parameters[name] {
            if p.isTable { throw ruleError(pos, "\(name) is a table; read it with band(\(name), x)") }
            deps.parameters.insert(name)
            let rank = rs.parameterRank[name] ?? -1
            return (
                add(Node(op: .parameter, a: constantIndex(p.value.map { .num($0) } ?? .unknownNoFacts), b: rank)),
                .number
            )
        }
        if rs.policyIndex[name] != nil {
            throw ruleError(pos, "\(name) is a policy; use eligible(\(name)), receiving(\(name)) or has(\(name))")
        }
        if name == "members" || name == "previous_members" {
            throw ruleError(pos, "\(name) can only be used inside count, sum, any, all, max or max_known")
        }
        throw ruleError(pos, "unknown name '\(name)'" + suggestion(name))
    }

    func personOnly(_ name: String, _ pos: SourcePos) -> PipelineError {
        ruleError(
            pos,
            "\(name) belongs to a person; here there is none (use it inside any(members, ...) or sum(members, "
                + "...), or head.\(name))"
        )
    }

    func suggestion(_ name: String) -> String {
        var names =
            Array(rs.parameters.keys) + rs.values.map(\.id) + rs.catalogue.tags.map(\.name)
            + Builtin.allCases.map(\.name)
        names += ["run_date"]
        func distance(_ a: String, _ b: String) -> Int {
            let x = Array(a), y = Array(b)
            var d = Array(0...y.count)
            for i in 1...max(x.count, 1) where !x.isEmpty {
                var prev = d[0]; d[0] = i
                for j in stride(from: 1, through: y.count, by: 1) {
                    let cur = d[j]
                    d[j] = min(d[j] + 1, d[j - 1] + 1, prev + (x[i - 1] == y[j - 1] ? 0 : 1))
                    prev = cur
                }
            }
            return d[y.count]
        }
        if let best = names.min(by: { distance(name, $0) < distance(name, $1) }), distance(name, best) <= 3 {
            return "; did you mean '\(best)'?"
        }
        return ""
    }

    mutating func compileBinary(
        _ op: BinaryOperator, _ l: ExprNode, _ r: ExprNode, _ pos: SourcePos, _ s: Scope
    ) throws -> (Fn, VType) {
        switch op {
        case .and, .or:
            let (fl, tl) = try compile(l, s)
            let (fr, tr) = try compile(r, s)
            try expectType(tl, .bool, l.pos, "the left side of '\(op.symbol)'")
            try expectType(tr, .bool, r.pos, "the right side of '\(op.symbol)'")
            return (add(Node(op: op == .and ? .and : .or, a: fl.node, b: fr.node)), .bool)
        case .compare(let op):
            // A text literal takes the words of the other side.
            if case .string(let text, let spos) = r {
                let (fl, tl) = try compile(l, s)
                return (try wordComparison(op, fl, tl, text, spos, pos), .bool)
            }
            if case .string(let text, let spos) = l {
                let (fr, tr) = try compile(r, s)
                return (try wordComparison(op, fr, tr, text, spos, pos), .bool)
            }
            let (fl, tl) = try compile(l, s)
            let (fr, tr) = try compile(r, s)
            guard sameType(tl, tr) else { throw ruleError(pos, "cannot compare \(tl) with \(tr)") }
            if case .word = tl, !op.isEquality {
                throw ruleError(pos, "words can only be compared with = or !=")
            }
            if tl == .bool, !op.isEquality {
                throw ruleError(pos, "true/false values can only be compared with = or !=")
            }
            return (comparison(op, fl, fr, tl), .bool)
        case .arithmetic(let op):
            let (fl, tl) = try compile(l, s)
            let (fr, tr) = try compile(r, s)
            guard tl == .number, tr == .number else {
                throw ruleError(pos, "cannot \(op.verb) \(tl) and \(tr)")
            }
            return (add(Node(op: .arithmetic, detail: op.rawValue, a: fl.node, b: fr.node)), .number)
        }
    }

    func wordComparison(
        _ op: Comparison, _ f: Fn, _ t: VType, _ text: String, _ spos: SourcePos, _ pos: SourcePos
    ) throws -> Fn {
        guard case .word(let words) = t else {
            throw ruleError(spos, "\"\(text)\" is a word, but the other side is \(t)")
        }
        guard op.isEquality else { throw ruleError(pos, "words can only be compared with = or !=") }
        guard let idx = words.firstIndex(of: text) else {
            throw ruleError(spos, "\"\(text)\" is not one of " + words.map { "\"\($0)\"" }.joined(separator: ", "))
        }
        return comparison(op, f, constant(.word(Int32(idx))), t)
    }

    /// A comparison in three-valued logic: unknown with an unknown operand; a
    /// known absence (none) is unequal to everything and not ordered.
    func comparison(_ op: Comparison, _ fl: Fn, _ fr: Fn, _ t: VType) -> Fn {
        add(Node(op: .compare, detail: op.acceptBits, a: fl.node, b: fr.node))
    }

    mutating func compileCall(_ name: String, _ args: [ExprNode], _ pos: SourcePos, _ s: Scope) throws -> (Fn, VType) {
        func arity(_ n: Int) throws {
            if args.count != n {
                throw ruleError(pos, "\(name) takes \(n) argument\(n == 1 ? "" : "s"), found \(args.count)")
            }
        }
        switch name {
        case "years":
            try arity(2)
            let (fa, ta) = try compile(args[0], s), (fb, tb) = try compile(args[1], s)
            guard ta == .date, tb == .date else { throw ruleError(pos, "years(from, to) takes two dates") }
            return (add(Node(op: .years, a: fa.node, b: fb.node)), .number)
        case "has_value":
            try arity(1)
            let (f, _) = try compile(args[0], s)
            return (add(Node(op: .hasValue, a: f.node)), .bool)
        case _ where TruthTest(spelling: name) != nil:
            try arity(1)
            let (f, t) = try compile(args[0], s)
            try expectType(t, .bool, args[0].pos, "the argument of \(name)")
            return (add(Node(op: .truthTest, detail: TruthTest(spelling: name)!.rawValue, a: f.node)), .bool)
        case "eligible", "receiving", "has":
            try arity(1)
            guard case .name(let pid, let ppos) = args[0], let pi = rs.policyIndex[pid] else {
                throw ruleError(args[0].pos, "\(name)(...) takes a policy id")
            }
            let p = rs.policies[pi]
            if p.level == .person && s.level != .person {
                throw ruleError(
                    ppos, "\(pid) is a person policy; here there is no person (use any(members, \(name)(\(pid))))")
            }
            if let t = rs.catalogue.index(of: "receiving." + pid), name != "eligible" { deps.tags.insert(t) }
            if name != "receiving" { deps.policies.insert(pid) }
            let op: Node.Op = name == "eligible" ? .eligible : (name == "receiving" ? .receiving : .has)
            return (add(Node(op: op, a: Int32(pi))), .bool)
        case "band":
            try arity(2)
            guard case .name(let tid, let tpos) = args[0], let table = rs.parameters[tid], table.isTable else {
                throw ruleError(args[0].pos, "band(TABLE, x) takes a table declared with 'table'")
            }
            _ = tpos
            deps.parameters.insert(tid)
            let (fx, tx) = try compile(args[1], s)
            guard tx == .number else { throw ruleError(args[1].pos, "band(\(tid), x) needs a number x") }
            rs.program.tables.append(table.bands)
            let rank = rs.parameterRank[tid] ?? -1
            return (
                add(
                    Node(
                        op: .band, detail: table.from != nil ? 1 : 0, a: fx.node, b: Int32(rs.program.tables.count - 1),
                        c: rank)), .number
            )
        case "previous":
            try arity(1)
            guard s.allowPrevious else {
                throw ruleError(pos, "previous(...) can only be used in a list with 'after LIST'")
            }
            guard !s.insidePrevious else { throw ruleError(pos, "previous(...) cannot be nested") }
            var inner = s
            inner.insidePrevious = true
            let (f, t) = try compile(args[0], inner)
            let idx = rs.remembered.count
            rs.remembered.append(RememberedInfo(index: idx, level: s.level, fn: f))
            deps.usesPrevious = true
            rs.remembered[idx].label = "previous(" + args[0].text + ")"
            return (add(Node(op: s.level == .household ? .previousHousehold : .previousPerson, a: Int32(idx))), t)
        default:
            if Aggregate(spelling: name) != nil {
                throw ruleError(pos, "\(name) takes members or previous_members first: \(name)(members, ...)")
            }
            throw ruleError(pos, "unknown function '\(name)'")
        }
    }

    mutating func compileAggregate(
        _ fn: Aggregate, _ coll: String, _ filter: ExprNode?, _ body: ExprNode?, _ pos: SourcePos, _ s: Scope
    ) throws -> (Fn, VType) {
        guard coll == "members" || coll == "previous_members" else {
            throw ruleError(pos, "\(fn.name)(...) ranges over members or previous_members, found '\(coll)'")
        }
        if coll == "previous_members" && !s.allowPrevious {
            throw ruleError(pos, "previous_members can only be used in a list with 'after LIST'")
        }
        var inner = s
        inner.level = .person
        var ff: Fn?
        if let filter {
            let (f, t) = try compile(filter, inner)
            try expectType(t, .bool, filter.pos, "a 'where' filter")
            ff = f
        }
        var fb: Fn?
        var tb: VType = .bool
        if let body {
            let (f, t) = try compile(body, inner)
            fb = f
            tb = t
        }
        switch fn {
        case .count: if body != nil { throw ruleError(pos, "count(members where ...) takes no second argument") }
        case .any, .all:
            guard fb != nil else { throw ruleError(pos, "\(fn.name)(members, CONDITION) needs a condition") }
            try expectType(tb, .bool, body!.pos, "the condition of \(fn.name)")
        case .sum, .max, .maxKnown:
            guard fb != nil else { throw ruleError(pos, "\(fn.name)(members, EXPR) needs an expression") }
            guard tb == .number else { throw ruleError(body!.pos, "\(fn.name) adds up numbers, this is \(tb)") }
        }
        let node = add(
            Node(
                op: .aggregate, detail: fn.rawValue, a: ff?.node ?? -1, b: fb?.node ?? -1,
                c: coll == "previous_members" ? 1 : 0))
        return (node, fn.givesCondition ? .bool : .number)
    }
}
