import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// The encodings a delivery may declare (feeds.md).
public enum FeedEncoding: String, Sendable {
    case utf8 = "utf-8"
    case gb18030 = "gb18030"

    public init?(manifestValue: String) {
        switch manifestValue.lowercased() {
        case "utf-8", "utf8": self = .utf8
        case "gb18030", "gb-18030": self = .gb18030
        default: return nil
        }
    }
}

public enum TextDecoding {
    /// Offset of the first byte that is not part of valid UTF-8, or nil when all is valid.
    public static func firstInvalidUTF8(_ b: UnsafeRawBufferPointer) -> Int? {
        let n = b.count
        var i = 0
        guard let base = b.baseAddress else { return nil }
        while i < n {
            // ASCII fast path, eight bytes at a time.
            while i + 8 <= n, base.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
            }
            if i >= n { break }
            let c = b[i]
            if c < 0x80 { i += 1; continue }
            var need = 0
            var minCode: UInt32 = 0
            var code: UInt32 = 0
            if c & 0xE0 == 0xC0 {
                need = 1; code = UInt32(c & 0x1F); minCode = 0x80
            } else if c & 0xF0 == 0xE0 {
                need = 2; code = UInt32(c & 0x0F); minCode = 0x800
            } else if c & 0xF8 == 0xF0 {
                need = 3; code = UInt32(c & 0x07); minCode = 0x10000
            } else {
                return i
            }
            if i + need >= n { return i }
            for k in 1...need {
                let t = b[i + k]
                if t & 0xC0 != 0x80 { return i }
                code = (code << 6) | UInt32(t & 0x3F)
            }
            if code < minCode || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF) { return i }
            i += need + 1
        }
        return nil
    }

    /// Converts GB18030 bytes to UTF-8 with Glibc's iconv. The text is split at
    /// line feeds (0x0A is never part of a GB18030 multi-byte character) and the
    /// pieces are converted in parallel. Fails with the offset of the first byte
    /// iconv refused.
    public static func gb18030ToUTF8(_ b: UnsafeRawBufferPointer) -> Result<[UInt8], DecodeFailure> {
        gb18030ToUTF8(b, room: estimatedRoom)
    }

    /// `room(piece)`: the bytes set aside in the result for a piece's UTF-8; what
    /// does not fit goes to the piece's own overflow, and the result is then
    /// copied together once.
    static func gb18030ToUTF8(
        _ b: UnsafeRawBufferPointer, room: (UnsafeRawBufferPointer) -> Int
    ) -> Result<[UInt8], DecodeFailure> {
        let bounds = pieceBounds(b)
        let count = bounds.count - 1
        func piece(_ k: Int) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(rebasing: b[bounds[k]..<bounds[k + 1]])
        }
        // Each piece is converted straight into the result, at a place with room
        // for it; the gaps left are closed after, in order. At city scale the
        // result is gigabytes: written once, not converted into pieces and then
        // copied onto as many fresh pages again.
        var starts = [Int](repeating: 0, count: count + 1)
        for k in 0..<count { starts[k + 1] = starts[k] + max(0, room(piece(k))) }
        var sinks: [Sink] = []
        var failure: Int?
        var joined: [UInt8]?
        let out = [UInt8](unsafeUninitializedCapacity: max(1, starts[count])) { buf, size in
            let base = buf.baseAddress!
            (sinks, failure) = convertPieces(b, bounds) { k in
                Sink(dst: base + starts[k], room: starts[k + 1] - starts[k])
            }
            size = 0
            guard failure == nil else { return }
            if sinks.allSatisfy(\.spill.isEmpty) {
                // Every piece fits its room: each moves down to where the one before ends.
                var at = 0
                for k in 0..<count {
                    if at != starts[k] { memmove(base + at, base + starts[k], sinks[k].used) }
                    at += sinks[k].used
                }
                size = at
            } else {
                // A piece outgrew its room (more non-ASCII text than its start showed):
                // each piece's part in place and its overflow, copied one after another.
                let total = (0..<count).reduce(0) { $0 + sinks[$1].used + sinks[$1].spill.count }
                joined = [UInt8](unsafeUninitializedCapacity: total) { jb, jc in
                    var at = 0
                    for k in 0..<count {
                        (jb.baseAddress! + at).initialize(from: base + starts[k], count: sinks[k].used)
                        at += sinks[k].used
                        sinks[k].spill.withUnsafeBufferPointer {
                            if let s = $0.baseAddress { (jb.baseAddress! + at).initialize(from: s, count: $0.count) }
                        }
                        at += sinks[k].spill.count
                    }
                    jc = total
                }
            }
        }
        if let failure { return .failure(DecodeFailure(offset: failure)) }
        return .success(joined ?? out)
    }

    /// Every piece (`bounds`) through iconv in parallel, each into the sink `sink(k)`
    /// gives: the sinks after, and the offset of the first byte refused (nil: none).
    private static func convertPieces(
        _ b: UnsafeRawBufferPointer, _ bounds: [Int], _ sink: (Int) -> Sink
    ) -> (sinks: [Sink], failure: Int?) {
        let count = bounds.count - 1
        var sinks = (0..<count).map(sink)
        var failures = [Int](repeating: -1, count: count)
        sinks.withUnsafeMutableBufferPointer { sk in
            failures.withUnsafeMutableBufferPointer { f in
                Parallel.forEach(count) { k in
                    if case .failure(let at) = convertPiece(
                        UnsafeRawBufferPointer(rebasing: b[bounds[k]..<bounds[k + 1]]), into: &sk[k])
                    {
                        f[k] = bounds[k] + at.offset
                    }
                }
            }
        }
        return (sinks, failures.first { $0 >= 0 })
    }

    /// Where the text is cut into pieces for the cores: after line feeds (0x0A is
    /// never part of a GB18030 multi-byte character), a few pieces per thread.
    static func pieceBounds(_ b: UnsafeRawBufferPointer) -> [Int] {
        let n = b.count
        let pieces = max(1, min(Parallel.threads * 4, n / (1 << 20)))
        var bounds: [Int] = [0]
        for k in 1..<pieces {
            var cut = n * k / pieces
            while cut < n && b[cut - 1] != UInt8(ascii: "\n") { cut += 1 }
            if cut > bounds.last! && cut < n { bounds.append(cut) }
        }
        bounds.append(n)
        return bounds
    }

    /// The offset of the first byte iconv refuses as GB18030, nil when it takes
    /// them all: the check `gb18030ToUTF8` makes (the same pieces, the same runs
    /// through iconv), with the UTF-8 made and dropped run by run. For a text
    /// whose fields are read as bytes that are ASCII in both encodings (a comma,
    /// quote or line feed is never inside a GB18030 character): no result of
    /// the file's size is written.
    public static func firstInvalidGB18030(_ b: UnsafeRawBufferPointer) -> Int? {
        convertPieces(b, pieceBounds(b)) { _ in Sink(dst: nil, room: 0) }.failure
    }

    /// Room for a piece's UTF-8: its bytes, and half again for its non-ASCII bytes
    /// (a two-byte GB18030 character is at most three UTF-8 bytes, a four-byte one
    /// four) as counted in its first mebibyte, with a margin.
    static func estimatedRoom(_ piece: UnsafeRawBufferPointer) -> Int {
        let sample = UnsafeRawBufferPointer(rebasing: piece.prefix(1 << 20))
        var high = 0
        var i = 0
        if let base = sample.baseAddress {
            while i + 8 <= sample.count {
                high += (base.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080).nonzeroBitCount
                i += 8
            }
        }
        while i < sample.count { if sample[i] >= 0x80 { high += 1 }; i += 1 }
        let share = sample.isEmpty ? 0 : Double(high) / Double(sample.count)
        return piece.count + Int(Double(piece.count) * share * 0.6) + 4096
    }

    /// Where a piece's UTF-8 goes: its room in the result, then (rarely) its own overflow.
    struct Sink {
        let dst: UnsafeMutablePointer<UInt8>?
        let room: Int
        var used = 0
        var spill: [UInt8] = []

        /// `dst` nil: a sink that only counts (a check of the encoding).
        init(dst: UnsafeMutablePointer<UInt8>?, room: Int) { self.dst = dst; self.room = room }

        mutating func put(_ bytes: UnsafeRawBufferPointer) {
            guard let src = bytes.baseAddress, !bytes.isEmpty else { return }
            guard let dst else { used += bytes.count; return }
            if spill.isEmpty && used + bytes.count <= room {
                (dst + used).initialize(from: src.assumingMemoryBound(to: UInt8.self), count: bytes.count)
                used += bytes.count
            } else {
                spill.append(contentsOf: bytes)
            }
        }
    }

    public struct DecodeFailure: Error, Sendable {
        public var offset: Int
        public init(offset: Int) { self.offset = offset }
    }

    /// Converts one piece: runs of ASCII (the same bytes in both encodings) are
    /// copied, and only the runs with other characters go through iconv.
    private static func convertPiece(
        _ piece: UnsafeRawBufferPointer, into out: inout Sink
    ) -> Result<Void, DecodeFailure> {
        guard let base = piece.baseAddress, piece.count > 0 else { return .success(()) }
        guard let cd = iconv_open("UTF-8", "GB18030"), cd != iconv_t(bitPattern: -1) else {
            return .failure(DecodeFailure(offset: 0))
        }
        defer { iconv_close(cd) }
        let n = piece.count
        var i = 0
        var scratch = [UInt8](repeating: 0, count: 256)
        while i < n {
            // ASCII run, eight bytes at a time.
            var j = i
            while j + 8 <= n, base.loadUnaligned(fromByteOffset: j, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                j += 8
            }
            while j < n, piece[j] < 0x80 { j += 1 }
            if j > i { out.put(UnsafeRawBufferPointer(rebasing: piece[i..<j])) }
            if j >= n { break }
            // A run of non-ASCII bytes, up to the next line feed or comma (never inside a GB18030 character).
            var k = j
            while k < n, piece[k] != 0x0A, piece[k] != 0x2C, piece[k] != 0x22 { k += 1 }
            var inPtr = UnsafeMutablePointer<CChar>(mutating: (base + j).assumingMemoryBound(to: CChar.self))
            var inLeft = k - j
            if scratch.count < inLeft * 2 + 16 { scratch = [UInt8](repeating: 0, count: inLeft * 2 + 16) }
            let produced: Int = scratch.withUnsafeMutableBytes { sb in
                var outPtr: UnsafeMutablePointer<CChar>? = sb.baseAddress!.assumingMemoryBound(to: CChar.self)
                var outLeft = sb.count
                var ip: UnsafeMutablePointer<CChar>? = inPtr
                let r = iconv(cd, &ip, &inLeft, &outPtr, &outLeft)
                inPtr = ip!
                return r == -1 ? -1 : sb.count - outLeft
            }
            if produced < 0 || inLeft != 0 { return .failure(DecodeFailure(offset: k - inLeft)) }
            scratch.withUnsafeBytes { out.put(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) }
            i = k
        }
        return .success(())
    }

    /// Whether every byte is below 0x80 (then GB18030 and UTF-8 bytes are the same).
    public static func isASCII(_ b: UnsafeRawBufferPointer) -> Bool {
        guard let base = b.baseAddress else { return true }
        let n = b.count
        var i = 0
        var acc: UInt64 = 0
        while i + 32 <= n {
            acc |=
                base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                | base.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self)
                | base.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self)
                | base.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self)
            if acc & 0x8080_8080_8080_8080 != 0 { return false }
            i += 32
        }
        while i < n { if b[i] >= 0x80 { return false }; i += 1 }
        return true
    }

    /// Drops a UTF-8 byte order mark.
    public static func bomLength(_ b: UnsafeRawBufferPointer) -> Int {
        (b.count >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) ? 3 : 0
    }
}
