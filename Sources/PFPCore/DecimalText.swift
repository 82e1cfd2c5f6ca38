/// Whole numbers as ASCII digits written straight into bytes, without a String: the
/// one place for the hot writers (explanations, list rows).
public enum DecimalText {
    /// The most bytes `write` makes (a sign and 19 digits).
    public static let maxBytes = 20

    /// The digits of `n`, a minus sign first when it is negative, at `out`; how many bytes.
    @inline(__always)
    public static func write(_ n: Int64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        var k = 0
        if n < 0 { out[0] = UInt8(ascii: "-"); k = 1 }
        let start = k
        var m = n.magnitude
        repeat { out[k] = UInt8(truncatingIfNeeded: m % 10) + UInt8(ascii: "0"); m /= 10; k += 1 } while m > 0
        var i = start, j = k - 1
        while i < j { let t = out[i]; out[i] = out[j]; out[j] = t; i += 1; j -= 1 }
        return k
    }
}
