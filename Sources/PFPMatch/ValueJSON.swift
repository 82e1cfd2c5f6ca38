import PFPCore
import PFPFormats
import PFPRules

/// What the rule engine's values look like in explanations.
extension ByteWriter {
    /// A number that is not whole but has a decimal expansion (money in yuan and
    /// fen, shares), quoted, as `Q.description` writes it (from the same parts);
    /// false, and nothing written, for other numbers.
    func decimal(_ q: Q) -> Bool {
        guard let x = q.decimalParts else { return false }
        byte(UInt8(ascii: "\""))
        if x.negative { byte(UInt8(ascii: "-")) }
        if let w = Int(exactly: x.whole) { int(w) } else { rawString(String(x.whole)) }
        byte(UInt8(ascii: "."))
        write(count: x.places) { out in
            var f = x.fraction, i = x.places
            while i > 0 { i -= 1; out[i] = UInt8(f % 10) + UInt8(ascii: "0"); f /= 10 }
        }
        byte(UInt8(ascii: "\""))
        return true
    }
    public func truthMap(_ pairs: [(code: String, value: Val)]) {
        byte(UInt8(ascii: "{"))
        for (i, (k, v)) in pairs.enumerated() {
            if i > 0 { byte(UInt8(ascii: ",")) }
            string(k); byte(UInt8(ascii: ":"))
            switch v {
            case .bool(true): raw("\"true\"")
            case .bool(false): raw("\"false\"")
            default: raw("\"unknown\"")
            }
        }
        byte(UInt8(ascii: "}"))
    }
    public func value(_ v: Val, ctx: EvalContext, tag: Int?) {
        switch v {
        case .num(let q) where q.d == 1: byte(UInt8(ascii: "\"")); integer(q.n); byte(UInt8(ascii: "\""))
        case .num(let q) where decimal(q): break
        case .bool(let b): b ? raw("\"true\"") : raw("\"false\"")
        case .unknown: raw("\"unknown\"")
        case .none: raw("\"none\"")
        case .date(let d): date(d)
        default: string(ctx.describe(v, tag: tag))
        }
    }
}
