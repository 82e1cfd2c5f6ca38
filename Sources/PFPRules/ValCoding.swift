import Foundation

/// Values stored compactly in a stage result: a kind byte and two 64-bit words.
public enum ValCoding {
    /// kind: 0 unknown, 1 none, 2 false, 3 true, 4 number (a/b), 5 date (a), 6 word (a), 7 not stored
    public static func encode(_ v: Val) -> (UInt8, Int64, Int64) {
        switch v {
        case .unknown: return (0, 0, 0)
        case .none: return (1, 0, 0)
        case .bool(let b): return (b ? 3 : 2, 0, 0)
        case .num(let q):
            let r = q.reduced()
            if r.isWide { return (7, 0, 0) }  // past 64 bits: not stored, evaluated again
            return (4, r.sn, r.sd)
        case .date(let d): return (5, Int64(d), 0)
        case .word(let w): return (6, Int64(w), 0)
        }
    }

    public static func decode(_ k: UInt8, _ a: Int64, _ b: Int64) -> Val? {
        switch k {
        case 0: return .unknownNoFacts
        case 1: return Val.none
        case 2: return .bool(false)
        case 3: return .bool(true)
        case 4: return b > 0 ? .num(Q(small: a, b)) : nil  // stored in lowest terms, d > 0
        case 5: return .date(Int32(a))
        case 6: return .word(Int32(a))
        default: return nil
        }
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
