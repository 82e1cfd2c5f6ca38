import Foundation

/// Values stored compactly in a stage result: a kind byte and two 64-bit words.
public enum ValCoding {
    /// The kind byte (its raw values are stored: never renumber them).
    public enum Kind: UInt8 {
        case unknown, noValue, isFalse, isTrue
        /// a / b
        case number
        /// days since 1970-01-01 in a
        case date
        /// the word's index in a
        case word
        /// a number past 64 bits: not stored, evaluated again
        case notStored
    }

    /// The kind byte and the two words of a value.
    public static func encode(_ v: Val) -> (UInt8, Int64, Int64) {
        switch v {
        case .unknown: return (Kind.unknown.rawValue, 0, 0)
        case .none: return (Kind.noValue.rawValue, 0, 0)
        case .bool(let b): return ((b ? Kind.isTrue : Kind.isFalse).rawValue, 0, 0)
        case .num(let q):
            let r = q.reduced()
            if r.isWide { return (Kind.notStored.rawValue, 0, 0) }
            return (Kind.number.rawValue, r.sn, r.sd)
        case .date(let d): return (Kind.date.rawValue, Int64(d), 0)
        case .word(let w): return (Kind.word.rawValue, Int64(w), 0)
        }
    }

    public static func decode(_ k: UInt8, _ a: Int64, _ b: Int64) -> Val? {
        switch Kind(rawValue: k) {
        case .unknown: return .unknownNoFacts
        case .noValue: return Val.none
        case .isFalse: return .bool(false)
        case .isTrue: return .bool(true)
        case .number: return b > 0 ? .num(Q(small: a, b)) : nil  // stored in lowest terms, d > 0
        case .date: return .date(Int32(a))
        case .word: return .word(Int32(a))
        case .notStored, nil: return nil
        }
    }

    /// The second word most values of a kind have (a number's denominator is
    /// mostly 1, other kinds have none): compact columns leave it out.
    @inlinable @inline(__always) public static func usualSecond(kind: UInt8) -> Int64 {
        kind == Kind.number.rawValue ? 1 : 0
    }

    /// Byte form of a value (for the run state kept between runs).
    public static func append(_ v: Val, to out: inout [UInt8]) {
        let (k, a, b) = encode(v)
        out.append(k)
        withUnsafeBytes(of: a.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: b.littleEndian) { out.append(contentsOf: $0) }
    }

    public static func read(_ bytes: [UInt8], _ at: inout Int) -> Val {
        let k = bytes[at]
        let a = readInt64(bytes, at + 1), b = readInt64(bytes, at + 9)
        at += 17
        return decode(k, a, b) ?? .unknownNoFacts
    }

    public static func readInt64(_ bytes: [UInt8], _ at: Int) -> Int64 {
        var x: UInt64 = 0
        for i in 0..<8 { x |= UInt64(bytes[at + i]) << (8 * UInt64(i)) }
        return Int64(bitPattern: x)
    }
}

/// Values already computed for every household and person (the profile stage's),
/// read by an evaluation that traces nothing instead of evaluating them again
/// (their unknowns carry no facts: explaining evaluates again, traced).
public protocol StoredValues: AnyObject {
    /// Value `v` (ValueInfo.index) of household `h`; nil when not stored.
    func householdValue(_ v: Int, _ h: Int) -> Val?
    /// Value `v` of person `p` (index in the ingest result); nil when not stored.
    func personValue(_ v: Int, _ p: Int32) -> Val?
}
