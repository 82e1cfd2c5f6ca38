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
            while i + 8 <= n, base.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 { i += 8 }
            if i >= n { break }
            let c = b[i]
            if c < 0x80 { i += 1; continue }
            var need = 0
            var minCode: UInt32 = 0
            var code: UInt32 = 0
            if c & 0xE0 == 0xC0 { need = 1; code = UInt32(c & 0x1F); minCode = 0x80 }
            else if c & 0xF0 == 0xE0 { need = 2; code = UInt32(c & 0x0F); minCode = 0x800 }
            else if c & 0xF8 == 0xF0 { need = 3; code = UInt32(c & 0x07); minCode = 0x10000 }
            else { return i }
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
    /// pieces are converted in parallel. Returns nil with the offset of the first
    /// byte iconv refused.
    public static func gb18030ToUTF8(_ b: UnsafeRawBufferPointer) -> Result<[UInt8], DecodeFailure> {
        let n = b.count
        let pieces = max(1, min(Parallel.threads * 4, n / (1 << 20)))
        var bounds: [Int] = [0]
        for k in 1..<pieces {
            var cut = n * k / pieces
            while cut < n && b[cut - 1] != UInt8(ascii: "\n") { cut += 1 }
            if cut > bounds.last! && cut < n { bounds.append(cut) }
        }
        bounds.append(n)
        let count = bounds.count - 1
        let outputs = UnsafeMutableBufferPointer<[UInt8]>.allocate(capacity: count)
        outputs.initialize(repeating: [])
        let failures = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
        failures.initialize(repeating: -1)
        defer { outputs.deallocate(); failures.deallocate() }
        Parallel.forEach(count) { k in
            let piece = UnsafeRawBufferPointer(rebasing: b[bounds[k]..<bounds[k + 1]])
            switch convertPiece(piece) {
            case .success(let out): outputs[k] = out
            case .failure(let at): failures[k] = bounds[k] + at.offset
            }
        }
        for k in 0..<count where failures[k] >= 0 { return .failure(DecodeFailure(offset: failures[k])) }
        // The pieces copied into place in parallel (at city scale gigabytes of
        // fresh pages to fault in), each let go once copied.
        var offsets = [Int](repeating: 0, count: count + 1)
        for k in 0..<count { offsets[k + 1] = offsets[k] + outputs[k].count }
        let out = [UInt8](unsafeUninitializedCapacity: offsets[count]) { buf, n in
            let base = buf.baseAddress
            Parallel.forEach(count) { k in
                outputs[k].withUnsafeBufferPointer { piece in
                    if let base, let src = piece.baseAddress { (base + offsets[k]).initialize(from: src, count: piece.count) }
                }
                outputs[k] = []
            }
            n = offsets[count]
        }
        return .success(out)
    }

    public struct DecodeFailure: Error, Sendable {
        public var offset: Int
        public init(offset: Int) { self.offset = offset }
    }

    /// Converts one piece: runs of ASCII (the same bytes in both encodings) are
    /// copied, and only the runs with other characters go through iconv.
    private static func convertPiece(_ piece: UnsafeRawBufferPointer) -> Result<[UInt8], DecodeFailure> {
        guard let base = piece.baseAddress, piece.count > 0 else { return .success([]) }
        guard let cd = iconv_open("UTF-8", "GB18030"), cd != iconv_t(bitPattern: -1) else { return .failure(DecodeFailure(offset: 0)) }
        defer { iconv_close(cd) }
        var out: [UInt8] = []
        out.reserveCapacity(piece.count + piece.count / 4)
        let n = piece.count
        var i = 0
        var scratch = [UInt8](repeating: 0, count: 256)
        while i < n {
            // ASCII run, eight bytes at a time.
            var j = i
            while j + 8 <= n, base.loadUnaligned(fromByteOffset: j, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 { j += 8 }
            while j < n, piece[j] < 0x80 { j += 1 }
            if j > i { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: piece[i..<j])) }
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
            out.append(contentsOf: scratch[0..<produced])
            i = k
        }
        return .success(out)
    }

    /// Whether every byte is below 0x80 (then GB18030 and UTF-8 bytes are the same).
    public static func isASCII(_ b: UnsafeRawBufferPointer) -> Bool {
        guard let base = b.baseAddress else { return true }
        let n = b.count
        var i = 0
        var acc: UInt64 = 0
        while i + 32 <= n {
            acc |= base.loadUnaligned(fromByteOffset: i, as: UInt64.self) | base.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self)
                 | base.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self) | base.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self)
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
