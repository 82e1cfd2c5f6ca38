import Foundation

/// A JSON writer over bytes, for the hot paths: one growable buffer of its own
/// (no copy-on-write checks, no temporary arrays or strings per number). The
/// one JSON string escaper of the project: `JSON` serializes through it too.
package final class JSONBytes {
    package private(set) var base: UnsafeMutablePointer<UInt8>
    private var cap: Int
    package var count = 0

    package init(capacity: Int = 4096) {
        cap = max(64, capacity)
        base = .allocate(capacity: cap)
    }
    deinit { base.deallocate() }

    /// A copy of the bytes written.
    package var out: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }
    /// The bytes written, valid while this writer lives and is not written to.
    package var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Empties the buffer, keeping its memory.
    package func clear() { count = 0 }

    /// Room for `n` more bytes and 32 spare ones (short pieces are copied as
    /// whole 8- or 16-byte words, see `append`).
    @inline(__always) package func reserve(_ n: Int) {
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

    @inline(__always) package func byte(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }
    /// Pieces of up to 32 bytes (names, words, fragments: nearly all) are
    /// copied inline as two overlapping words (no call to memmove), reading
    /// only the piece's own bytes.
    @inline(__always) package func append(_ p: UnsafeBufferPointer<UInt8>) {
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
    @inline(__always) package func raw(_ s: StaticString) {
        s.withUTF8Buffer { append($0) }
    }
    package func rawString(_ s: String) {
        var s = s
        s.withUTF8 { append($0) }
    }
    package func string(_ s: String) {
        var s = s
        s.withUTF8 { u in
            if !u.contains(where: { $0 < 32 || $0 == 34 || $0 == 92 }) {
                reserve(u.count + 2)
                base[count] = 34
                count += 1
                append(u)
                base[count] = 34
                count += 1
                return
            }
            byte(34)
            let hex: StaticString = "0123456789abcdef"
            for b in u {
                switch b {
                case 34: byte(92); byte(34)
                case 92: byte(92); byte(92)
                case 10: byte(92); byte(110)
                case 13: byte(92); byte(114)
                case 9: byte(92); byte(116)
                case 0..<32:
                    raw("\\u00")
                    hex.withUTF8Buffer { h in
                        byte(h[Int(b >> 4)]); byte(h[Int(b & 15)])
                    }
                default: byte(b)
                }
            }
            byte(34)
        }
    }
    package func strings(_ a: [String]) {
        byte(91)
        for (i, s) in a.enumerated() { if i > 0 { byte(44) }; string(s) }
        byte(93)
    }
    package func int(_ n: Int) {
        if n >= 0 && n < 10 { byte(UInt8(n) + 48); return }
        reserve(DecimalText.maxBytes)
        count += DecimalText.write(Int64(n), to: base + count)
    }
    /// A whole number of any size (exact amounts and counts).
    package func integer(_ n: Int128) {
        if let small = Int(exactly: n) { int(small); return }
        rawString(String(n))
    }
    /// An 18-character ID number, quoted.
    package func id(_ key: UInt64) {
        byte(34)
        idDigits(key)
        byte(34)
    }
    /// The 18 characters of an ID number, unquoted.
    package func idDigits(_ key: UInt64) {
        reserve(18)
        IDNumber.writeText(key, to: base + count)
        count += 18
    }
    /// "YYYY-MM-DD", quoted.
    package func date(_ days: Int32) {
        reserve(12)
        base[count] = 34
        CivilDate(days: days).writeText(to: base + count + 1)
        base[count + 11] = 34
        count += 12
    }
}
