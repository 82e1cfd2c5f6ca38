import Foundation
import PFPCore
import PFPRules

/// A JSON writer over bytes, for the hot paths: one growable buffer of its own
/// (no copy-on-write checks, no temporary arrays or strings per number). It lives
/// beside its hottest callers (the explanations) so that its small methods are
/// inlined there; what a string's bytes are escaped to is `JSON.escape`'s (PFPCore).
public final class JSONBytes {
    private var base: UnsafeMutablePointer<UInt8>
    private var cap: Int
    public private(set) var count = 0

    public init(capacity: Int = 4096) {
        cap = max(64, capacity)
        base = .allocate(capacity: cap)
    }
    deinit { base.deallocate() }

    /// A copy of the bytes written.
    public var out: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }
    /// The bytes written, valid while this writer lives and is not written to.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Empties the buffer, keeping its memory.
    public func clear() { count = 0 }

    /// Room for `n` more bytes and 32 spare ones (short pieces are copied as
    /// whole 8- or 16-byte words, see `append`).
    @inline(__always) private func reserve(_ n: Int) {
        if count + n + 32 > cap { grow(count + n + 32) }
    }
    private func grow(_ need: Int) {
        var c = cap * 2
        while c < need { c *= 2 }
        let b = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        b.update(from: base, count: count)
        base.deallocate()
        base = b
        cap = c
    }

    @inline(__always) public func byte(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }
    /// Pieces of up to 32 bytes (names, words, fragments: nearly all) are
    /// copied inline as two overlapping words (no call to memmove), reading
    /// only the piece's own bytes.
    @inline(__always) public func append(_ p: UnsafeBufferPointer<UInt8>) {
        guard let a = p.baseAddress else { return }
        let n = p.count
        reserve(n)
        let src = UnsafeRawPointer(a), dst = UnsafeMutableRawPointer(base + count)
        if n >= 16 && n <= 32 {
            let x = src.loadUnaligned(as: SIMD16<UInt8>.self),
                y = src.loadUnaligned(fromByteOffset: n - 16, as: SIMD16<UInt8>.self)
            dst.storeBytes(of: x, as: SIMD16<UInt8>.self)
            dst.storeBytes(of: y, toByteOffset: n - 16, as: SIMD16<UInt8>.self)
        } else if n >= 8 && n < 16 {
            let x = src.loadUnaligned(as: UInt64.self), y = src.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
            dst.storeBytes(of: x, as: UInt64.self)
            dst.storeBytes(of: y, toByteOffset: n - 8, as: UInt64.self)
        } else if n < 8 {
            for i in 0..<n {
                dst.storeBytes(of: src.load(fromByteOffset: i, as: UInt8.self), toByteOffset: i, as: UInt8.self)
            }
        } else {
            dst.copyMemory(from: src, byteCount: n)
        }
        count += n
    }
    @inline(__always) public func raw(_ s: StaticString) {
        s.withUTF8Buffer { append($0) }
    }
    public func rawString(_ s: String) {
        var s = s
        s.withUTF8 { append($0) }
    }
    /// A JSON string: quoted, its bytes escaped as `JSON.escape` says.
    public func string(_ s: String) {
        var s = s
        s.withUTF8 { u in
            if !u.contains(where: JSON.needsEscape) {
                reserve(u.count + 2)
                base[count] = UInt8(ascii: "\"")
                count += 1
                append(u)
                base[count] = UInt8(ascii: "\"")
                count += 1
                return
            }
            byte(UInt8(ascii: "\""))
            for b in u {
                if JSON.needsEscape(b) { JSON.escape(b) { byte($0) } } else { byte(b) }
            }
            byte(UInt8(ascii: "\""))
        }
    }
    public func strings(_ a: [String]) {
        byte(UInt8(ascii: "["))
        for (i, s) in a.enumerated() { if i > 0 { byte(UInt8(ascii: ",")) }; string(s) }
        byte(UInt8(ascii: "]"))
    }
    public func int(_ n: Int) {
        if n >= 0 && n < 10 { byte(UInt8(n) + UInt8(ascii: "0")); return }
        reserve(DecimalText.maxBytes)
        count += DecimalText.write(Int64(n), to: base + count)
    }
    /// A whole number of any size (exact amounts and counts).
    public func integer(_ n: Int128) {
        if let small = Int(exactly: n) { int(small); return }
        rawString(String(n))
    }
    /// An 18-character ID number, quoted.
    public func id(_ key: UInt64) {
        byte(UInt8(ascii: "\""))
        idDigits(key)
        byte(UInt8(ascii: "\""))
    }
    /// The 18 characters of an ID number, unquoted.
    public func idDigits(_ key: UInt64) {
        reserve(18)
        IDNumber.writeText(key, to: base + count)
        count += 18
    }
    /// "YYYY-MM-DD", quoted.
    public func date(_ days: Int32) {
        reserve(12)
        base[count] = UInt8(ascii: "\"")
        CivilDate(days: days).writeText(to: base + count + 1)
        base[count + 11] = UInt8(ascii: "\"")
        count += 12
    }
}

/// What the rule engine's values look like in explanations.
extension JSONBytes {
    /// A number that is not whole but has a decimal expansion (money in yuan and
    /// fen, shares), quoted, as `Q.description` writes it (from the same parts);
    /// false, and nothing written, for other numbers.
    func decimal(_ q: Q) -> Bool {
        guard let x = q.decimalParts else { return false }
        reserve(x.places + 3)
        base[count] = UInt8(ascii: "\"")
        count += 1
        if x.negative { byte(UInt8(ascii: "-")) }
        if let w = Int(exactly: x.whole) { int(w) } else { rawString(String(x.whole)) }
        reserve(x.places + 2)
        base[count] = 46
        count += 1
        var f = x.fraction, i = x.places
        while i > 0 { i -= 1; base[count + i] = UInt8(f % 10) + UInt8(ascii: "0"); f /= 10 }
        count += x.places
        base[count] = UInt8(ascii: "\"")
        count += 1
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
