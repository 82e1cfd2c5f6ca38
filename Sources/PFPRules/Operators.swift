import PFPCore

/// The rule language's operators and built-in functions, one type each from the
/// parser to the evaluator: the syntax tree holds them, the compiler stores their
/// raw values in a node's `detail` byte, and the evaluator reads them back as the
/// same enums (`Node.arithmetic`, …), so every `switch` over them is exhaustive.

/// `not x` and `-x`.
enum UnaryOperator: Sendable {
    case not, negate

    var symbol: String { self == .not ? "not" : "-" }
}

/// The six comparisons; `==` is read as `=`.
enum Comparison: String, CaseIterable, Sendable {
    case equal = "="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="

    /// Whether words and true/false values can be compared this way.
    var isEquality: Bool { self == .equal || self == .notEqual }

    /// The compiled form: the orders that make the comparison true (bit 0 less,
    /// bit 1 equal, bit 2 greater) and, in bit 3, its result when a side is none
    /// (a known absence is unequal to everything and not ordered).
    var acceptBits: UInt8 {
        switch self {
        case .equal: return 0b0010
        case .notEqual: return 0b1101
        case .less: return 0b0001
        case .lessOrEqual: return 0b0011
        case .greater: return 0b0100
        case .greaterOrEqual: return 0b0110
        }
    }
}

/// `+ - * /` on exact numbers.
enum Arithmetic: UInt8, Spelled, Sendable {
    case add, subtract, multiply, divide

    var symbol: String {
        switch self {
        case .add: return "+"
        case .subtract: return "-"
        case .multiply: return "*"
        case .divide: return "/"
        }
    }

    var spelling: String { symbol }

    /// The verb of an error message ("cannot add number and date").
    var verb: String {
        switch self {
        case .add: return "add"
        case .subtract: return "subtract"
        case .multiply: return "multiply"
        case .divide: return "divide"
        }
    }
}

/// A binary operator of the syntax tree.
enum BinaryOperator: Sendable, Equatable {
    case and, or
    case compare(Comparison)
    case arithmetic(Arithmetic)

    var symbol: String {
        switch self {
        case .and: return "and"
        case .or: return "or"
        case .compare(let c): return c.rawValue
        case .arithmetic(let a): return a.symbol
        }
    }
}

/// The person facts every population row carries.
enum Builtin: UInt8, Spelled, Sendable {
    case birthDate, sex, relation, hukou

    var name: String {
        switch self {
        case .birthDate: return "birth_date"
        case .sex: return "sex"
        case .relation: return "relation"
        case .hukou: return "hukou"
        }
    }

    var spelling: String { name }
}

/// `is_true`, `is_false`, `is_unknown`, `possible`: a three-valued condition made two-valued.
enum TruthTest: UInt8, Spelled, Sendable {
    case isTrue, isFalse, isUnknown, possible

    var name: String {
        switch self {
        case .isTrue: return "is_true"
        case .isFalse: return "is_false"
        case .isUnknown: return "is_unknown"
        case .possible: return "possible"
        }
    }

    var spelling: String { name }
}

/// The functions over a household's members.
enum Aggregate: UInt8, Spelled, Sendable {
    case count, any, all, sum, max, maxKnown

    var name: String {
        switch self {
        case .count: return "count"
        case .any: return "any"
        case .all: return "all"
        case .sum: return "sum"
        case .max: return "max"
        case .maxKnown: return "max_known"
        }
    }

    var spelling: String { name }

    /// any and all give a condition; the others a number.
    var givesCondition: Bool { self == .any || self == .all }
}

extension Node {
    /// The operator of an `.arithmetic` node.
    @inline(__always) var arithmetic: Arithmetic { Arithmetic(rawValue: detail).unsafelyUnwrapped }
    /// The fact of a `.builtin` node.
    @inline(__always) var builtin: Builtin { Builtin(rawValue: detail).unsafelyUnwrapped }
    /// The test of a `.truthTest` node.
    @inline(__always) var truthTest: TruthTest { TruthTest(rawValue: detail).unsafelyUnwrapped }
    /// The function of an `.aggregate` node.
    @inline(__always) var aggregate: Aggregate { Aggregate(rawValue: detail).unsafelyUnwrapped }
}
