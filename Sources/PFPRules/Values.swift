import Foundation

/// An exact rational number: money in yuan, counts, ratios. Never a binary float.
///
/// Sixteen bytes, so that a `Val` fits in registers (the evaluator returns
/// millions of them a second): a numerator and a positive denominator of 64 bits
/// each. A number whose lowest terms do not fit in 64 bits is kept exactly all
/// the same, in the `WideNumbers` table (`sd` is 0 and `sn` its row): every
/// operation reads `n` and `d` as 128-bit numbers on that rare path, so results
/// are exactly those of 128-bit arithmetic throughout.
public struct Q: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The numerator, or the row in `WideNumbers` when `sd` is 0.
    @usableFromInline var sn: Int64
    /// The denominator (> 0), or 0 for a wide number.
    @usableFromInline var sd: Int64

    @inline(__always) var isWide: Bool { sd == 0 }
    public var n: Int128 { sd != 0 ? Int128(sn) : WideNumbers.shared.get(sn).n }
    public var d: Int128 { sd != 0 ? Int128(sd) : WideNumbers.shared.get(sn).d }

    /// n/d as given (not reduced) when both fit in 64 bits; in lowest terms otherwise.
    public init(_ n: Int128, _ d: Int128 = 1) {
        precondition(d != 0, "a rational number with denominator 0")
        let (n, d) = d < 0 ? (-n, -d) : (n, d)
        if let a = Int64(exactly: n), let b = Int64(exactly: d) { sn = a; sd = b; return }
        self = Q.lowest(n, d)
    }

    @inline(__always) init(small n: Int64, _ d: Int64) { sn = n; sd = d }

    public static let zero = Q(small: 0, 1)

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

    /// n/d (d > 0) in lowest terms: 64-bit gcd and divisions when both fit,
    /// `lowestWide` otherwise.
    @inline(__always)
    static func lowest(_ n: Int128, _ d: Int128) -> Q {
        let nm = n.magnitude, dm = d.magnitude
        if nm >> 64 == 0 && dm >> 64 == 0 {
            var rn = UInt64(truncatingIfNeeded: nm), rd = UInt64(truncatingIfNeeded: dm)
            let g = gcd64(rn, rd)
            if g > 1 { rn /= g; rd /= g }
            if rn >> 63 == 0 && rd >> 63 == 0 { return Q(small: n < 0 ? -Int64(rn) : Int64(rn), Int64(rd)) }
        }
        return lowestWide(n, d)
    }

    /// n/d (d > 0) in lowest terms by Euclid on 128 bits; a wide number when the
    /// lowest terms do not fit in 64 bits.
    @inline(never)
    static func lowestWide(_ n: Int128, _ d: Int128) -> Q {
        let g = gcd(n, d)
        let rn = g > 1 ? n / g : n, rd = g > 1 ? d / g : d
        if let a = Int64(exactly: rn), let b = Int64(exactly: rd) { return Q(small: a, b) }
        return Q(small: WideNumbers.shared.add(rn, rd), 0)
    }

    /// Keeps numbers small: reduced when the denominator grows. The same lowest
    /// terms whatever the path (wide numbers are always in lowest terms).
    @inline(__always)
    public func reduced() -> Q {
        if sd == 1 || sd == 0 { return self }
        let g = Q.gcd64(sn.magnitude, UInt64(sd))
        if g <= 1 { return self }
        return Q(small: sn / Int64(g), sd / Int64(g))
    }

    /// An amount in fen as yuan, in lowest terms: gcd(x, 100) is the largest
    /// divisor of 100 that divides x, found by trying them from the largest
    /// (divisions by constants, no gcd loop: every money tag read takes this).
    @inline(__always)
    public static func fen(_ x: Int64) -> Q {
        let d: Int64
        if x % 100 == 0 {
            d = 100
        } else if x % 50 == 0 {
            d = 50
        } else if x % 25 == 0 {
            d = 25
        } else if x % 20 == 0 {
            d = 20
        } else if x % 10 == 0 {
            d = 10
        } else if x % 5 == 0 {
            d = 5
        } else if x % 4 == 0 {
            d = 4
        } else if x % 2 == 0 {
            d = 2
        } else {
            d = 1
        }
        return Q(small: x / d, 100 / d)
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

    // Both operands small: products of 64-bit numbers and their sums fit in 128
    // bits (|n| <= 2^63, 0 < d < 2^63), so the 128-bit forms cannot overflow. A
    // wide operand takes the same formulas on its 128-bit numerator and
    // denominator, out of line (they trap on overflow, as 128-bit arithmetic
    // always did).
    @inline(__always) static func small(_ a: Q, _ b: Q) -> Bool { a.sd != 0 && b.sd != 0 }

    public static func + (a: Q, b: Q) -> Q { small(a, b) ? smallSum(a, b, minus: false) : wide(a, b, 0)! }
    public static func - (a: Q, b: Q) -> Q { small(a, b) ? smallSum(a, b, minus: true) : wide(a, b, 1)! }

    /// a + b or a - b of two small numbers. When the larger denominator is a
    /// multiple of the smaller (the same one, or money: the denominator of every
    /// amount in fen divides 100), on the larger one: the other numerator scaled,
    /// no gcd, the denominator not grown, and not in lowest terms (everything that
    /// shows, stores or hashes a number reduces it first). Otherwise, or when the
    /// numerator would leave 64 bits, in 128 bits to lowest terms (a wide number
    /// when they do not fit in 64).
    @inline(__always)
    static func smallSum(_ a: Q, _ b: Q, minus: Bool) -> Q {
        let large = max(a.sd, b.sd)
        let ka = a.sd == large ? 1 : large / a.sd, kb = b.sd == large ? 1 : large / b.sd
        if ka &* a.sd == large && kb &* b.sd == large {
            let (x, o1) = a.sn.multipliedReportingOverflow(by: ka)
            let (y, o2) = b.sn.multipliedReportingOverflow(by: kb)
            let (s, o3) = minus ? x.subtractingReportingOverflow(y) : x.addingReportingOverflow(y)
            if !(o1 || o2 || o3) { return Q(small: s, large) }
        }
        let x = Int128(a.sn) * Int128(b.sd), y = Int128(b.sn) * Int128(a.sd)
        return lowest(minus ? x - y : x + y, Int128(a.sd) * Int128(b.sd))
    }
    public static prefix func - (a: Q) -> Q {
        if a.sd != 0 && a.sn != Int64.min { return Q(small: -a.sn, a.sd) }
        return Q(-a.n, a.d)
    }
    public static func * (a: Q, b: Q) -> Q {
        if small(a, b) {
            // A whole number times a fraction keeps the fraction's denominator: no gcd.
            if a.sd == 1 || b.sd == 1 {
                let (p, o) = a.sn.multipliedReportingOverflow(by: b.sn)
                if !o { return Q(small: p, a.sd == 1 ? b.sd : a.sd) }
            }
            return lowest(Int128(a.sn) * Int128(b.sn), Int128(a.sd) * Int128(b.sd))
        }
        return wide(a, b, 2)!
    }
    /// nil when dividing by zero.
    public static func / (a: Q, b: Q) -> Q? {
        if small(a, b) {
            if b.sn == 0 { return nil }
            let n = Int128(a.sn) * Int128(b.sd), d = Int128(a.sd) * Int128(b.sn)
            return d < 0 ? lowest(-n, -d) : lowest(n, d)
        }
        return wide(a, b, 3)
    }
    // The comparisons of two 64-bit fractions inlined where they are made (the
    // evaluator and the frontiers make them by the hundred million); wide numbers
    // apart, out of line.
    @inline(__always)
    public static func < (a: Q, b: Q) -> Bool {
        if small(a, b) {
            if a.sd == b.sd { return a.sn < b.sn }
            return Int128(a.sn) * Int128(b.sd) < Int128(b.sn) * Int128(a.sd)
        }
        return wideLess(a, b)
    }
    @inline(__always)
    public static func == (a: Q, b: Q) -> Bool {
        if small(a, b) {
            if a.sd == b.sd { return a.sn == b.sn }
            return Int128(a.sn) * Int128(b.sd) == Int128(b.sn) * Int128(a.sd)
        }
        return wideEqual(a, b)
    }
    @inline(never)
    static func wideLess(_ a: Q, _ b: Q) -> Bool { a.n * b.d < b.n * a.d }
    @inline(never)
    static func wideEqual(_ a: Q, _ b: Q) -> Bool { a.n * b.d == b.n * a.d }

    /// +, -, * or / (op 0-3) with a wide operand or a 64-bit sum that overflowed,
    /// on 128 bits; nil when dividing by zero.
    @inline(never)
    static func wide(_ a: Q, _ b: Q, _ op: Int) -> Q? {
        let an = a.n, ad = a.d, bn = b.n, bd = b.d
        switch op {
        case 0: return ad == bd ? Q(an + bn, ad) : lowest(an * bd + bn * ad, ad * bd)
        case 1: return ad == bd ? Q(an - bn, ad) : lowest(an * bd - bn * ad, ad * bd)
        case 2: return lowest(an * bn, ad * bd)
        default:
            if bn == 0 { return nil }
            return bn < 0 ? lowest(-(an * bd), -(ad * bn)) : lowest(an * bd, ad * bn)
        }
    }
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
    /// nil for whole numbers and for fractions such as 1/3, and for the few whose
    /// digits do not fit in 128 bits (1/2^62 and the like: printed as n/d).
    public var decimalParts: (negative: Bool, whole: UInt128, fraction: UInt128, places: Int)? {
        let r = reduced()
        if r.sd == 1 { return nil }
        // 64-bit numbers (money in yuan and fen) in 64-bit divisions; wide ones, and
        // digits that leave 64 bits, in 128: the same parts either way.
        if r.sd != 0 {
            guard let places = Q.decimalPlaces(UInt64(r.sd)) else { return nil }
            if let x = Q.split(r.sn.magnitude, UInt64(r.sd), places: places) {
                return (r.sn < 0, UInt128(x.whole), UInt128(x.fraction), places)
            }
        }
        let n = r.n, d = r.d.magnitude
        guard let places = Q.decimalPlaces(d), let x = Q.split(n.magnitude, d, places: places) else { return nil }
        return (n < 0, x.whole, x.fraction, places)
    }

    /// The places of 1/d's decimal expansion; nil unless d is 2^a 5^b.
    static func decimalPlaces<T: FixedWidthInteger & UnsignedInteger>(_ d: T) -> Int? {
        let twos = d.trailingZeroBitCount
        var d = d >> twos, fives = 0
        while d % 5 == 0 { d /= 5; fives += 1 }
        return d == 1 ? max(twos, fives) : nil
    }

    /// m/d (d dividing 10^places) as its digits before and after the point; nil
    /// when m x 10^places/d does not fit in T.
    static func split<T: FixedWidthInteger & UnsignedInteger>(_ m: T, _ d: T, places: Int) -> (whole: T, fraction: T)? {
        var scale: T = 1
        for _ in 0..<places {
            let (s, o) = scale.multipliedReportingOverflow(by: 10)
            if o { return nil }
            scale = s
        }
        let (scaled, o) = m.multipliedReportingOverflow(by: scale / d)
        return o ? nil : (scaled / scale, scaled % scale)
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

/// The numbers whose lowest terms do not fit in 64 bits, kept exactly (`Q` with
/// `sd` 0 names a row). No realistic delivery makes one (tags are at most 64-bit
/// fen and the rules add and compare them), so this is a path for correctness,
/// not speed: one lock, rows never removed while the process lives.
final class WideNumbers: @unchecked Sendable {
    static let shared = WideNumbers()
    private let lock = NSLock()
    private var rows: [(n: Int128, d: Int128)] = []

    func add(_ n: Int128, _ d: Int128) -> Int64 {
        lock.lock()
        defer { lock.unlock() }
        rows.append((n, d))
        return Int64(rows.count - 1)
    }

    func get(_ i: Int64) -> (n: Int128, d: Int128) {
        lock.lock()
        defer { lock.unlock() }
        return rows[Int(i)]
    }

    /// Rows made so far (tests: which operations left 64 bits).
    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return rows.count
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

    /// A criterion's or reason's result as explanations spell it: true, false or unknown.
    public var truthWord: String { truth.map { $0 ? "true" : "false" } ?? "unknown" }
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
