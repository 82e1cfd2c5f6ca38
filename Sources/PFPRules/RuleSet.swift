import Foundation
import PFPCore
import PFPSchema

/// A compiled expression: the root of its tree in the rule set's node array,
/// evaluated by `EvalContext.eval` (one switch over plain nodes: no closure
/// contexts to retain and release on every call).
struct Fn {
    let node: Int32
    @inline(__always)
    func callAsFunction(_ c: EvalContext) -> Val { c.eval(node) }
}

/// The rules as the evaluator reads them: expression nodes with their constants
/// and band tables (filled while compiling), then each value, policy and list as
/// positions in flat arrays (`link`, once the rules are compiled). Plain arrays:
/// reading them takes no reference count on a rule object, per call or per household.
struct Program {
    var nodes: [Node] = [Node(op: .constant, a: 0), Node(op: .constant, a: 1)]
    var constants: [Val] = [.unknownNoFacts, .none]
    var tables: [[(key: Q, value: Q)]] = []
    /// The nodes of the constants unknown and none.
    static let unknownNode: Int32 = 0, noneNode: Int32 = 1

    private(set) var valueOfHousehold: [Bool] = []
    private(set) var valueNode: [Int32] = []
    private(set) var policyOfHousehold: [Bool] = []
    private(set) var policyRuns: [Bool] = []
    /// receiving.<policy>'s tag, -1 when the catalogue has none.
    private(set) var receivingTag: [Int] = []
    /// Policy i's criteria are criterionNodes[criterionStart[i] ..< criterionStart[i + 1]]; branches likewise.
    private(set) var criterionNodes: [Int32] = []
    private(set) var criterionStart: [Int] = [0]
    private(set) var branchNodes: [Int32] = []
    private(set) var branchStart: [Int] = [0]
    /// Lists: per policy or of households, the condition's node (-1: none), whether
    /// `after` names a list, the reasons' nodes (list i: reasonStart[i] ..< reasonStart[i + 1]).
    private(set) var listPerPolicy: [Bool] = []
    private(set) var listWhen: [Int32] = []
    private(set) var listAfter: [Bool] = []
    private(set) var reasonNodes: [Int32] = []
    private(set) var reasonStart: [Int] = [0]

    /// Lays out the compiled values, policies and lists (skips decided).
    mutating func link(_ rs: RuleSet) {
        valueOfHousehold = rs.values.map { $0.level == .household }
        valueNode = rs.values.map(\.fn.node)
        for p in rs.policies {
            policyOfHousehold.append(p.level == .household)
            policyRuns.append(p.skipped == nil)
            receivingTag.append(p.receivingTag ?? -1)
            criterionNodes += p.criteria.map(\.fn.node)
            criterionStart.append(criterionNodes.count)
            branchNodes += p.branches.map(\.fn.node)
            branchStart.append(branchNodes.count)
        }
        for l in rs.lists {
            listPerPolicy.append(l.perPolicy)
            listWhen.append(l.when?.node ?? -1)
            listAfter.append(l.after != nil)
            reasonNodes += l.reasons.map(\.fn.node)
            reasonStart.append(reasonNodes.count)
        }
    }
}

/// One node of a compiled expression: an operation and up to three operands
/// (child nodes, or indexes of constants, tags, values, policies, tables).
struct Node {
    enum Op: UInt8 {
        /// constants[a]
        case constant
        /// not a; -a
        case not, negate
        /// a and b, a or b (short-circuit); a..b range test (both sides always)
        case and, or, bothAnd
        /// a compared with b: `detail` holds Comparison.acceptBits
        case compare
        /// a op b, `detail` an Arithmetic
        case arithmetic
        /// if a then b else c
        case ifThen
        /// a household list's `let` helper a, cached in slot b per household
        case cachedLet
        /// eligible / receiving / has of the policy a per-policy list is evaluated for
        case listEligible, listReceiving, listHas
        /// a evaluated for the head of the household
        case head
        /// tag a of the current person
        case tag
        /// a Builtin (`detail`) of the current person
        case builtin
        /// value definition a
        case value
        /// parameter: constants[a], traced as rank b
        case parameter
        /// years(a, b)
        case years
        /// has_value(a)
        case hasValue
        /// a TruthTest (`detail`) of a
        case truthTest
        /// eligible / receiving / has of policy a
        case eligible, receiving, has
        /// band(tables[b], a), traced as rank c; `detail` 1 when the table has a value on the run date
        case band
        /// previous(...) number a, of the household or of the current person
        case previousHousehold, previousPerson
        /// an Aggregate (`detail`) over members (c = 0) or former members (c = 1);
        /// a the filter (-1: none), b the body (-1: none)
        case aggregate
    }
    var op: Op
    /// What the operation is more precisely (see `Op`; typed reads in Operators.swift).
    var detail: UInt8 = 0
    var a: Int32 = -1
    var b: Int32 = -1
    var c: Int32 = -1
}

/// A named rule: a criterion of a policy or a reason of a list. A struct, not a
/// tuple: an array of tuples keeps its closures at the generic abstraction, and
/// every call then goes through a reabstraction thunk.
struct NamedFn {
    let code: String
    let fn: Fn
}

/// A branch of a policy with its own amount.
struct BranchFn {
    let code: String
    let fn: Fn
    let amount: Fn?
}

/// What a definition reads, directly or through values and other policies.
public struct Dependencies: Sendable {
    public var parameters: Set<String> = []
    public var tags: Set<Int> = []
    public var values: Set<String> = []
    /// Policies whose eligibility is read (through eligible() or has()).
    public var policies: Set<String> = []
    public var usesPrevious = false

    mutating func formUnion(_ o: Dependencies) {
        parameters.formUnion(o.parameters)
        tags.formUnion(o.tags)
        values.formUnion(o.values)
        policies.formUnion(o.policies)
        usesPrevious = usesPrevious || o.usesPrevious
    }
}

public struct ParameterInfo: Sendable {
    public var id: String
    public var label: String
    public var unit: String
    public var isTable: Bool
    /// The entry in force on the run date, nil when the parameter has none.
    public var from: CivilDate?
    public var value: Q?
    public var bands: [(key: Q, value: Q)]
    public var pos: SourcePos
}

public final class ValueInfo {
    public let id: String
    public let level: Level
    public let label: String
    public let index: Int
    public let pos: SourcePos
    var fn = Fn(node: Program.unknownNode)
    public internal(set) var type: VType = .number
    public internal(set) var deps = Dependencies()
    init(id: String, level: Level, label: String, index: Int, pos: SourcePos) {
        self.id = id; self.level = level; self.label = label; self.index = index; self.pos = pos
    }
}

public final class PolicyInfo {
    public let id: String
    public let label: String
    public let level: Level
    public let index: Int
    public let pos: SourcePos
    var criteria: [NamedFn] = []
    public var criterionCodes: [String] { criteria.map(\.code) + (branches.isEmpty ? [] : ["branches"]) }
    var branches: [BranchFn] = []
    var amount: Fn?
    public var hasAmount: Bool { amount != nil || branches.contains { $0.amount != nil } }
    /// The amount is paid once (`amount once`), not per month: costs keep it apart.
    public internal(set) var oneOff = false
    public internal(set) var deps = Dependencies()
    /// Why the policy is skipped on this run date (a parameter without a value,
    /// a feed allowed to be missing, or a skipped policy it reads), nil when it runs.
    public internal(set) var skipped: String?
    /// The catalogue index of receiving.<id>, resolved once.
    public internal(set) var receivingTag: Int?
    init(id: String, label: String, level: Level, index: Int, pos: SourcePos) {
        self.id = id; self.label = label; self.level = level; self.index = index; self.pos = pos
    }
}

public final class ListInfo {
    public let id: String
    public let label: String
    public let perPolicy: Bool
    public let index: Int
    public let pos: SourcePos
    var when: Fn?
    var reasons: [NamedFn] = []
    public var reasonCodes: [String] { reasons.map(\.code) }
    public internal(set) var after: String?
    /// The list (index) whose entries an outreach event's cooling-off holds back
    /// into this one (`held from:`); this list's own entries are those only.
    public internal(set) var heldFrom: Int?
    public internal(set) var columns: [ListColumn] = []
    /// The published file's key columns.
    public var keyColumns: [String] { perPolicy ? ["household_id", "person_id", "policy"] : ["household_id"] }
    public internal(set) var deps = Dependencies()
    init(id: String, label: String, perPolicy: Bool, index: Int, pos: SourcePos) {
        self.id = id; self.label = label; self.perPolicy = perPolicy; self.index = index; self.pos = pos
    }
}

/// An expression inside previous(...): remembered at the end of a run for the
/// households of the list that `after` names, and read back by the next run.
public final class RememberedInfo {
    public let index: Int
    public let level: Level
    /// previous(...) as written, for explanations.
    public internal(set) var label = ""
    let fn: Fn
    init(index: Int, level: Level, fn: Fn) { self.index = index; self.level = level; self.fn = fn }
}

/// The rule files compiled for one run date: every name resolved, every type
/// checked, parameters fixed to their values on that date.
public final class RuleSet {
    public let runDate: CivilDate
    public let catalogue: TagCatalogue
    public internal(set) var parameters: [String: ParameterInfo] = [:]
    public internal(set) var values: [ValueInfo] = []
    public internal(set) var policies: [PolicyInfo] = []
    public internal(set) var lists: [ListInfo] = []
    /// The outreach outcomes' order and cooling-off (`outcomes`).
    public internal(set) var outreach = OutreachRules.undeclared
    public internal(set) var remembered: [RememberedInfo] = []
    /// sha256 over the rule files, the catalogues and their names.
    public internal(set) var digest = ""
    public internal(set) var files: [String] = []
    /// Feeds whose tags are unavailable for this run.
    public internal(set) var unavailableFeeds: Set<String> = []
    var valueIndex: [String: Int] = [:]
    var policyIndex: [String: Int] = [:]
    /// How many `let` helpers of household lists are cached per household.
    var letCount = 0
    /// Parameter ids in byte order, and each one's position there (traced parameters).
    public internal(set) var parameterIDs: [String] = []
    var parameterRank: [String: Int32] = [:]
    /// The compiled expressions and the rules as plain arrays, for the evaluator.
    var program = Program()

    /// What it was compiled from, for replicas.
    private var source = RuleSource()
    private var policyCatalogue: PolicyCatalogue

    private init(runDate: CivilDate, catalogue: TagCatalogue, policyCatalogue: PolicyCatalogue) {
        self.runDate = runDate
        self.catalogue = catalogue
        self.policyCatalogue = policyCatalogue
    }

    /// Compiles parsed rule files for a run date (every name resolved, every type checked).
    private static func compiled(
        _ source: RuleSource, runDate: CivilDate, catalogue: TagCatalogue, policyCatalogue: PolicyCatalogue,
        unavailableFeeds: Set<String>
    ) throws -> RuleSet {
        let rs = RuleSet(runDate: runDate, catalogue: catalogue, policyCatalogue: policyCatalogue)
        rs.unavailableFeeds = unavailableFeeds
        rs.source = source
        var c = Compiler(rs: rs, source: source, policyCatalogue: policyCatalogue)
        try c.compileAll()
        return rs
    }

    /// One rule set per worker thread: this one for the first worker, the same rules
    /// compiled again for the others. A replica has objects of its own (closures,
    /// values, policies), so no reference count is shared between the cores (they
    /// would bounce between them).
    public func replicas(_ workers: Int) throws -> [RuleSet] {
        try (0..<max(1, workers)).map { w in
            if w == 0 { return self }
            let rs = try RuleSet.compiled(
                source, runDate: runDate, catalogue: catalogue, policyCatalogue: policyCatalogue,
                unavailableFeeds: unavailableFeeds)
            rs.digest = digest
            rs.files = files
            return rs
        }
    }

    public func policy(_ id: String) -> PolicyInfo? { policyIndex[id].map { policies[$0] } }
    public func value(_ id: String) -> ValueInfo? { valueIndex[id].map { values[$0] } }
    public func list(_ id: String) -> ListInfo? { lists.first { $0.id == id } }
    public var personValues: [ValueInfo] { values.filter { $0.level == .person } }
    public var householdValues: [ValueInfo] { values.filter { $0.level == .household } }

    /// Policies skipped on this run, with the reason.
    public var skippedPolicies: [(id: String, reason: String)] {
        policies.compactMap { p in p.skipped.map { (p.id, $0) } }
    }

    /// Loads and compiles the rules directory for a run date, with a reform merged
    /// in when one is given (its file and rule files join the digest). Every error
    /// names file:line:column and what was expected; nothing is read from the data first.
    public static func load(
        directory: String, catalogue: TagCatalogue, policyCatalogue: PolicyCatalogue,
        runDate: CivilDate, unavailableFeeds: Set<String> = [], extraDigestFiles: [String] = [],
        reform: Reform? = nil
    ) throws -> RuleSet {
        var (source, files) = try RuleSource.load(directory: directory)
        if let reform {
            var extra: RuleSource?
            if let dir = reform.rulesDirectory {
                let (x, xf) = try RuleSource.load(directory: dir)
                extra = x
                files += xf
            }
            try source.apply(reform, extra: extra)
            files.append((reform.name + ".reform", Array(reform.text.utf8)))
        }
        let rs = try compiled(
            source, runDate: runDate, catalogue: catalogue, policyCatalogue: policyCatalogue,
            unavailableFeeds: unavailableFeeds)
        var d = SHA256Digest()
        for (path, bytes) in files {
            d.update(Array(((path as NSString).lastPathComponent + "\n").utf8))
            d.update(bytes)
        }
        for p in extraDigestFiles {
            d.update(Array(((p as NSString).lastPathComponent + "\n").utf8))
            d.update(try FileIO.readAll(p))
        }
        rs.digest = d.finalizeHex()
        rs.files = files.map(\.path)
        return rs
    }
}
