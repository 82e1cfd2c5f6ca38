import Foundation

/// A resident identity number (GB 11643), held as an integer.
///
/// `key` = (first 17 digits) x 11 + check value (0-9, X = 10), so integer order
/// is the byte order of the 18-character text and "smallest id_number" is `min(key)`.
public struct IDNumber: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let key: UInt64

    public init(key: UInt64) { self.key = key }

    /// Back from the 18 characters of `description` (stored results); nil when the
    /// text is not such a number.
    public init?(stored s: String) {
        guard s.utf8.count == 18, case .valid(let id, _) = IDNumber.parse(s) else { return nil }
        self = id
    }

    /// ISO 7064 MOD 11-2 weight of digit i: 2^(17-i) mod 11 (no table, no lazy global in the hot loop).
    @inline(__always)
    static func weight(_ i: Int) -> Int { (1 << (17 - i)) % 11 }

    public enum Parsed: Sendable {
        case valid(IDNumber, upgraded: Bool)
        case invalid
    }

    /// Validates 18 characters (check character per ISO 7064 MOD 11-2, lower-case `x`
    /// accepted) or a legacy 15-digit number (upgraded to 18 by inserting `19` before
    /// the year and appending the check character). The encoded birth date must exist.
    public static func parse(_ b: UnsafeRawBufferPointer) -> Parsed {
        var body: UInt64 = 0
        var sum = 0
        if b.count == 18 {
            // The weights are 2^(17-i) mod 11, so the weighted sum is, modulo 11,
            // twice the digits read as a binary number: one remainder at the end
            // instead of one per digit.
            var twos = 0
            for i in 0..<17 {
                let d = b[i] &- UInt8(ascii: "0")
                if d > 9 { return .invalid }
                body = body &* 10 &+ UInt64(d)
                twos = twos &<< 1 &+ Int(d)
            }
            let c = b[17]
            let check: UInt64
            if c &- UInt8(ascii: "0") <= 9 {
                check = UInt64(c &- UInt8(ascii: "0"))
            } else if c == UInt8(ascii: "X") || c == UInt8(ascii: "x") {
                check = 10
            } else {
                return .invalid
            }
            let expected = checkValue((twos &* 2) % 11)
            if check != expected { return .invalid }
            let ymd = Int((body / 1000) % 100_000_000)
            if !CivilDate.exists(year: ymd / 10000, month: (ymd / 100) % 100, day: ymd % 100) { return .invalid }
            return .valid(IDNumber(key: body &* 11 &+ check), upgraded: false)
        } else if b.count == 15 {
            var digits = [Int](repeating: 0, count: 17)
            for i in 0..<15 {
                let d = b[i] &- UInt8(ascii: "0")
                if d > 9 { return .invalid }
                let j = i < 6 ? i : i + 2
                digits[j] = Int(d)
            }
            digits[6] = 1
            digits[7] = 9
            for i in 0..<17 {
                body = body * 10 + UInt64(digits[i])
                sum += digits[i] * weight(i)
            }
            let id = IDNumber(key: body * 11 + checkValue(sum % 11))
            if id.birthDate == nil { return .invalid }
            return .valid(id, upgraded: true)
        }
        return .invalid
    }

    public static func parse(_ s: String) -> Parsed {
        var s = s
        return s.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    /// The check value (0-9, X = 10) for a weighted sum modulo 11.
    @inline(__always)
    static func checkValue(_ mod: Int) -> UInt64 {
        // "10X98765432"[mod]: 1, 0, X(10), 9, 8, ... 2
        switch mod {
        case 0: return 1
        case 1: return 0
        case 2: return 10
        default: return UInt64(12 - mod)
        }
    }

    /// The 17 digits before the check character.
    public var body: UInt64 { key / 11 }
    public var checkValue: UInt64 { key % 11 }

    /// The birth date the number encodes (digits 7 to 14), nil if it does not exist.
    public var birthDate: CivilDate? {
        let b = body
        let ymd = Int((b / 1000) % 100_000_000)
        return CivilDate(year: ymd / 10000, month: (ymd / 100) % 100, day: ymd % 100)
    }

    /// Odd sequence number (digit 17) for men.
    public var isMale: Bool { (body % 10) % 2 == 1 }

    /// The six-digit area code (for synthetic data and statistics; never shown with the rest).
    public var areaCode: Int { Int(body / 100_000_000_000) }

    /// The full 18-character number. Personal data: only for output files, never logs.
    public var description: String {
        String(unsafeUninitializedCapacity: 18) {
            IDNumber.writeText(key, to: $0.baseAddress!); return 18
        }
    }

    /// The 18 characters of the number with this key (17 digits and the check
    /// character, X for 10) at `out`: the one place the text is made, for the hot
    /// writers (CSV rows, explanations) as for `description`.
    @inline(__always)
    public static func writeText(_ key: UInt64, to out: UnsafeMutablePointer<UInt8>) {
        var b = key / 11
        for i in stride(from: 16, through: 0, by: -1) {
            out[i] = UInt8(truncatingIfNeeded: b % 10) + UInt8(ascii: "0"); b /= 10
        }
        let c = key % 11
        out[17] = c == 10 ? UInt8(ascii: "X") : UInt8(truncatingIfNeeded: c) + UInt8(ascii: "0")
    }

    /// The form that may appear in logs and errors: `310101********1234`.
    public var masked: String { IDNumber.mask(description) }

    /// Masks any ID-like text: the first six and last four characters stay.
    public static func mask(_ text: String) -> String {
        let chars = Array(text)
        guard chars.count > 10 else { return String(repeating: "*", count: chars.count) }
        return String(chars[0..<6]) + String(repeating: "*", count: chars.count - 10)
            + String(chars[(chars.count - 4)...])
    }

    /// Builds a valid 18-character number from area, birth date and sequence (synthetic data).
    public static func make(area: Int, birth: CivilDate, sequence: Int) -> IDNumber {
        let c = birth.components
        let body =
            UInt64(area) * 100_000_000_000 + UInt64(c.year * 10000 + c.month * 100 + c.day) * 1000
            + UInt64(sequence % 1000)
        var sum = 0
        var b = body
        for i in stride(from: 16, through: 0, by: -1) {
            sum += Int(b % 10) * weight(i)
            b /= 10
        }
        return IDNumber(key: body * 11 + checkValue(sum % 11))
    }

    public static func < (a: IDNumber, b: IDNumber) -> Bool { a.key < b.key }
}
