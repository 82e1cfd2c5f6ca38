import PFPCore

/// A writer of the published formats' bytes, for the hot paths: one growable
/// buffer of its own (no copy-on-write checks, no temporary arrays or strings per
/// number). JSON strings are escaped as `JSON.escape` says (PFPCore), CSV fields
/// quoted as `CSVText` says. Its small methods are inlinable: the explanations
/// and the lists call them for every entry.
public final class ByteWriter {
    @usableFromInline var base: UnsafeMutablePointer<UInt8>
    @usableFromInline var cap: Int
    @usableFromInline var written = 0
    /// Bytes written so far.
    public var count: Int { written }

    public init(capacity: Int = 4096) {
        cap = max(64, capacity)
        base = .allocate(capacity: cap)
    }
    deinit { base.deallocate() }

    /// A copy of the bytes written.
    public var out: [UInt8] { Array(UnsafeBufferPointer(start: base, count: written)) }
    /// The bytes written, valid while this writer lives and is not written to.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: written) }

    /// Empties the buffer, keeping its memory.
    public func clear() { written = 0 }

    /// Room for `n` more bytes and 32 spare ones (short pieces are copied as
    /// whole 8- or 16-byte words, see `append`).
    @inlinable @inline(__always) func reserve(_ n: Int) {
        if written + n + 32 > cap { grow(written + n + 32) }
    }
    @usableFromInline @inline(never) func grow(_ need: Int) {
        var c = cap * 2
        while c < need { c *= 2 }
        let b = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        b.update(from: base, count: written)
        base.deallocate()
        base = b
        cap = c
    }

    @inlinable @inline(__always) public func byte(_ b: UInt8) {
        reserve(1)
        base[written] = b
        written += 1
    }
    /// Pieces of up to 32 bytes (names, words, fragments: nearly all) are
    /// copied inline as two overlapping words (no call to memmove), reading
    /// only the piece's own bytes.
    @inlinable @inline(__always) public func append(_ p: UnsafeBufferPointer<UInt8>) {
        guard let a = p.baseAddress else { return }
        let n = p.count
        reserve(n)
        let src = UnsafeRawPointer(a), dst = UnsafeMutableRawPointer(base + written)
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
        written += n
    }
    @inlinable @inline(__always) public func raw(_ s: StaticString) {
        s.withUTF8Buffer { append($0) }
    }
    @inlinable public func rawString(_ s: String) {
        var s = s
        s.withUTF8 { append($0) }
    }
    /// A JSON string: quoted, its bytes escaped as `JSON.escape` says.
    @inlinable public func string(_ s: String) {
        var s = s
        s.withUTF8 { u in
            if !u.contains(where: JSON.needsEscape) {
                reserve(u.count + 2)
                base[written] = UInt8(ascii: "\"")
                written += 1
                append(u)
                base[written] = UInt8(ascii: "\"")
                written += 1
                return
            }
            byte(UInt8(ascii: "\""))
            for b in u {
                if JSON.needsEscape(b) { JSON.escape(b) { byte($0) } } else { byte(b) }
            }
            byte(UInt8(ascii: "\""))
        }
    }
    @inlinable public func strings(_ a: [String]) {
        byte(UInt8(ascii: "["))
        for (i, s) in a.enumerated() { if i > 0 { byte(UInt8(ascii: ",")) }; string(s) }
        byte(UInt8(ascii: "]"))
    }
    @inlinable public func int(_ n: Int) {
        if n >= 0 && n < 10 { byte(UInt8(n) + UInt8(ascii: "0")); return }
        reserve(DecimalText.maxBytes)
        written += DecimalText.write(Int64(n), to: base + written)
    }
    /// A whole number of any size (exact amounts and counts).
    @inlinable public func integer(_ n: Int128) {
        if let small = Int(exactly: n) { int(small); return }
        rawString(String(n))
    }
    /// An 18-character ID number, quoted.
    @inlinable public func id(_ key: UInt64) {
        byte(UInt8(ascii: "\""))
        idDigits(key)
        byte(UInt8(ascii: "\""))
    }
    /// The 18 characters of an ID number, unquoted.
    @inlinable public func idDigits(_ key: UInt64) {
        reserve(18)
        IDNumber.writeText(key, to: base + written)
        written += 18
    }
    /// "YYYY-MM-DD", quoted.
    @inlinable public func date(_ days: Int32) {
        reserve(12)
        base[written] = UInt8(ascii: "\"")
        CivilDate(days: days).writeText(to: base + written + 1)
        base[written + 11] = UInt8(ascii: "\"")
        written += 12
    }

    /// Writes `n` bytes in place: `body` gets where they go and must set all `n`.
    @inlinable @inline(__always) public func write(count n: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Void) {
        reserve(n)
        body(base + written)
        written += n
    }

    /// Codes joined by `;` as one CSV field: written as they are unless one needs
    /// quotes (then the joined text is quoted as one field).
    public func csvCodes(_ codes: ArraySlice<String>) {
        // One pass, each code's bytes read where the string holds them (no copy of
        // it); a code that needs quotes (or a string without contiguous bytes)
        // takes back what was written and quotes the joined text instead.
        let mark = written
        for i in codes.indices {
            let plain =
                codes[i].utf8.withContiguousStorageIfAvailable { u -> Bool in
                    if CSVText.needsQuotes(u) { return false }
                    if i > codes.startIndex { byte(UInt8(ascii: ";")) }
                    append(u)
                    return true
                } ?? false
            if !plain {
                written = mark
                csvField(codes.joined(separator: ";"))
                return
            }
        }
    }

    /// A CSV field: as it is, or quoted (quotes doubled) when `CSVText` says so.
    @inlinable public func csvField(_ s: String) {
        var t = s
        t.withUTF8 { u in
            if !CSVText.needsQuotes(u) { append(u); return }
            byte(UInt8(ascii: "\""))
            for b in u {
                byte(b)
                if b == UInt8(ascii: "\"") { byte(b) }
            }
            byte(UInt8(ascii: "\""))
        }
    }
}

/// CSV as the published lists write it (RFC 4180): a field is quoted when it
/// holds a comma, a quote or a line break, its quotes doubled.
public enum CSVText {
    /// Whether a field holding these bytes must be quoted.
    @inlinable @inline(__always) public static func needsQuotes(_ u: UnsafeBufferPointer<UInt8>) -> Bool {
        u.contains {
            $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r")
        }
    }

    /// A field's bytes, quoted when needed.
    public static func field(_ s: String) -> [UInt8] {
        let w = ByteWriter(capacity: s.utf8.count + 8)
        w.csvField(s)
        return w.out
    }
}
