import Foundation

/// Exact money in fen (hundredths of a yuan). Never a binary float.
public enum Money {
    public enum ParseResult: Equatable, Sendable {
        case value(Int64)
        /// Does not have the shape of money (`bad_value`).
        case malformed
        /// Has the shape but is negative or too large to hold (`out_of_range`).
        case outOfRange
    }

    /// Parses `digits[.d[d]]` with an optional leading `-`: no `+`, no exponent,
    /// no thousands separators, no leading `.`. A leading `-` parses but is out of range.
    public static func parseFen(_ b: UnsafeRawBufferPointer) -> ParseResult {
        var i = 0
        var negative = false
        if b.count > 0 && b[0] == UInt8(ascii: "-") { negative = true; i = 1 }
        var whole: Int64 = 0
        var digits = 0
        var overflow = false
        while i < b.count, b[i] &- UInt8(ascii: "0") <= 9 {
            let (m, o1) = whole.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(b[i] &- UInt8(ascii: "0")))
            if o1 || o2 { overflow = true } else { whole = a }
            digits += 1
            i += 1
        }
        if digits == 0 { return .malformed }
        var fen: Int64 = 0
        if i < b.count {
            guard b[i] == UInt8(ascii: ".") else { return .malformed }
            i += 1
            let fracStart = i
            while i < b.count, b[i] &- UInt8(ascii: "0") <= 9 { i += 1 }
            let fracLen = i - fracStart
            if fracLen == 0 || fracLen > 2 || i != b.count { return .malformed }
            fen = Int64(b[fracStart] &- UInt8(ascii: "0")) * 10
            if fracLen == 2 { fen += Int64(b[fracStart + 1] &- UInt8(ascii: "0")) }
        }
        if negative { return .outOfRange }
        if overflow { return .outOfRange }
        let (w100, o) = whole.multipliedReportingOverflow(by: 100)
        if o || w100 > Int64.max - fen { return .outOfRange }
        return .value(w100 + fen)
    }

    public static func parseFen(_ s: String) -> ParseResult {
        var s = s
        return s.withUTF8 { parseFen(UnsafeRawBufferPointer($0)) }
    }

    /// "1234.50" style text of an amount in fen.
    public static func format(fen: Int64) -> String {
        let sign = fen < 0 ? "-" : ""
        let a = fen.magnitude
        let frac = a % 100
        return "\(sign)\(a / 100)." + (frac < 10 ? "0\(frac)" : "\(frac)")
    }
}
