import Foundation

/// An exact rational number: money in yuan, counts, ratios. Never a binary float.
public struct Q: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var n: Int128
    public var d: Int128   // > 0

    public init(_ n: Int128, _ d: Int128 = 1) {
        if d < 0 { self.n = -n; self.d = -d } else { self.n = n; self.d = d }
    }

    public static let zero = Q(0)

    static func gcd(_ a: Int128, _ b: Int128) -> Int128 {
        var a = a.magnitude, b = b.magnitude
        while b != 0 { (a, b) = (b, a % b) }
        return Int128(a)
    }

    /// Binary (Stein's) gcd: shifts and subtractions, no division.
    static func gcd64(_ a: UInt64, _ b: UInt64) -> UInt64 {
        if a == 0 { return b }
        if b == 0 { return a }
        let shift = (a | b).trailingZeroBitCount
        var a = a >> a.trailingZeroBitCount, b = b
        repeat {
            b >>= b.trailingZeroBitCount
            if a > b { swap(&a, &b) }
            b -= a
        } while b != 0
        return a << shift
    }

    /// Keeps numbers small: reduced when the denominator grows. Numbers that fit
    /// in 64 bits (nearly all: money in fen, counts) take 64-bit arithmetic; the
    /// result is the same either way.
    @inline(__always)
    public func reduced() -> Q {
        if d == 1 { return self }
        let nm = n.magnitude, dm = d.magnitude
        if nm >> 64 == 0 && dm >> 64 == 0 {
            let g = Q.gcd64(UInt64(nm), UInt64(dm))
            if g <= 1 { return self }
            let rn = Int128(UInt64(nm) / g)
            return Q(n < 0 ? -rn : rn, Int128(UInt64(dm) / g))
        }
        let g = Q.gcd(n, d)
        return g > 1 ? Q(n / g, d / g) : self
    }

    /// An amount in fen as yuan, in lowest terms: gcd(x, 100) is the largest
    /// divisor of 100 that divides x, found by trying them from the largest
    /// (divisions by constants, no gcd loop: every money tag read takes this).
    @inline(__always)
    public static func fen(_ x: Int64) -> Q {
        let d: Int64
        if x % 100 == 0 { d = 100 } else if x % 50 == 0 { d = 50 } else if x % 25 == 0 { d = 25 } else if x % 20 == 0 { d = 20 }
        else if x % 10 == 0 { d = 10 } else if x % 5 == 0 { d = 5 } else if x % 4 == 0 { d = 4 } else if x % 2 == 0 { d = 2 } else { d = 1 }
        return Q(Int128(x / d), Int128(100 / d))
    }

    /// Parses "12", "-3", "0.35" exactly.
    public init?(decimal s: String) {
        var text = Substring(s)
        var neg = false
        if text.hasPrefix("-") { neg = true; text = text.dropFirst() }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = Int128(String(parts[0])) else { return nil }
        var num = whole, den: Int128 = 1
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].count <= 18, let frac = Int128(String(parts[1])) else { return nil }
            for _ in 0..<parts[1].count { den *= 10 }
            num = whole * den + frac
        }
        self = Q(neg ? -num : num, den).reduced()
    }

    public static func + (a: Q, b: Q) -> Q { a.d == b.d ? Q(a.n + b.n, a.d) : Q(a.n * b.d + b.n * a.d, a.d * b.d).reduced() }
    public static func - (a: Q, b: Q) -> Q { a.d == b.d ? Q(a.n - b.n, a.d) : Q(a.n * b.d - b.n * a.d, a.d * b.d).reduced() }
    public static func * (a: Q, b: Q) -> Q { Q(a.n * b.n, a.d * b.d).reduced() }
    /// nil when dividing by zero.
    public static func / (a: Q, b: Q) -> Q? { b.n == 0 ? nil : Q(a.n * b.d, a.d * b.n).reduced() }
    public static func < (a: Q, b: Q) -> Bool { a.n * b.d < b.n * a.d }
    public static func == (a: Q, b: Q) -> Bool { a.n * b.d == b.n * a.d }
    public func hash(into h: inout Hasher) { let r = reduced(); h.combine(r.n); h.combine(r.d) }

    /// Rounded half-up to a whole number (whole yuan for amounts).
    public var roundedHalfUp: Int128 {
        let twice = 2 * n + d
        let den = 2 * d
        // floor division
        var q = twice / den
        if (twice % den != 0) && ((twice < 0) != (den < 0)) { q -= 1 }
        return q
    }

    /// A number that is not whole but whose denominator divides a power of ten,
    /// as decimal parts: `fraction` has `places` digits (leading zeros included).
    /// nil for whole numbers and for fractions such as 1/3.
    public var decimalParts: (negative: Bool, whole: UInt128, fraction: UInt128, places: Int)? {
        let r = reduced()
        if r.d == 1 { return nil }
        var d = r.d, twos = 0, fives = 0
        while d % 2 == 0 { d /= 2; twos += 1 }
        while d % 5 == 0 { d /= 5; fives += 1 }
        guard d == 1 else { return nil }
        let places = max(twos, fives)
        var scale: Int128 = 1
        for _ in 0..<places { scale *= 10 }
        let scaled = r.n * (scale / r.d)
        let mag = scaled.magnitude
        return (scaled < 0, mag / UInt128(scale), mag % UInt128(scale), places)
    }

    /// Exact decimal text when the denominator divides a power of ten, else "n/d".
    public var description: String {
        let r = reduced()
        if r.d == 1 { return String(r.n) }
        guard let x = decimalParts else { return "\(r.n)/\(r.d)" }
        var fracText = String(x.fraction)
        while fracText.count < x.places { fracText = "0" + fracText }
        return (x.negative ? "-" : "") + "\(x.whole).\(fracText)"
    }
}

/// A value in three-valued logic. `unknown` carries the id of the facts that
/// made it unknown when explaining (-1 otherwise); `none` is a known absence
/// (not disabled, not deceased).
public enum Val: Equatable, Sendable {
    case unknown(Int32)
    case none
    case bool(Bool)
    case num(Q)
    case date(Int32)
    case word(Int32)

    public static let unknownNoFacts = Val.unknown(-1)

    public var isUnknown: Bool { if case .unknown = self { return true } else { return false } }

    /// The three-valued truth of a boolean value: true, false or nil for unknown.
    public var truth: Bool? {
        switch self {
        case .bool(let b): return b
        default: return nil
        }
    }
}

/// The static type of an expression, checked when the rules are loaded.
public enum VType: Equatable, Sendable, CustomStringConvertible {
    case bool
    case number
    case date
    /// One of a list of words (an enum tag, sex, relation, hukou).
    case word([String])

    public var description: String {
        switch self {
        case .bool: return "a true/false value"
        case .number: return "a number"
        case .date: return "a date"
        case .word(let w): return "one of " + w.map { "\"\($0)\"" }.joined(separator: ", ")
        }
    }
}
