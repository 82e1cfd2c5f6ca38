import Foundation
import PFPCore

/// A set of keys made once and then only asked whether it holds one (and where):
/// an open-addressing table of 64-bit hashes beside the keys' indexes, the key's
/// bytes compared only where the hashes agree (so exact). The keys are byte
/// ranges of one buffer — strings joined, a stored result's NUL-separated item
/// read in place, the ids inside a state's records — so a set of a million keys
/// is made without a string per key (the previous run's push keys and
/// remembered households, loaded every night).
public struct KeySet: @unchecked Sendable {
    /// Key k is `bytes[start[k] ..< start[k] + length[k]]`, valid while `keep` lives.
    private let bytes: UnsafeRawBufferPointer
    private let keep: Any?
    private let start: [Int]
    private let length: [Int32]
    private let hashes: [UInt64]
    /// Index of a key, or -1 for an empty slot.
    private let slots: [Int32]
    private let mask: Int

    /// Keys at the given places of `bytes` (kept valid by `keep`).
    init(bytes: UnsafeRawBufferPointer, keep: Any?, start: [Int], length: [Int32]) {
        precondition(start.count < Int(Int32.max) && start.count == length.count, "too many keys for a KeySet")
        self.bytes = bytes
        self.keep = keep
        self.start = start
        self.length = length
        var cap = 16
        while cap < start.count * 2 { cap <<= 1 }
        let mask = cap - 1
        var hashes = [UInt64](repeating: 0, count: cap)
        var slots = [Int32](repeating: -1, count: cap)
        for i in start.indices {
            let key = UnsafeRawBufferPointer(rebasing: bytes[start[i]..<start[i] + Int(length[i])])
            let h = KeySet.hash(key)
            var s = Int(truncatingIfNeeded: h) & mask
            while slots[s] >= 0 {
                if hashes[s] == h && KeySet.same(key, bytes, start[Int(slots[s])], length[Int(slots[s])]) { break }
                s = (s + 1) & mask
            }
            if slots[s] < 0 { slots[s] = Int32(i); hashes[s] = h }  // a key given twice: its first place kept
        }
        self.hashes = hashes
        self.slots = slots
        self.mask = mask
    }

    /// The strings' bytes joined into one buffer of the set's own.
    public init(_ keys: [String]) {
        var joined: [UInt8] = [], start: [Int] = [], length: [Int32] = []
        start.reserveCapacity(keys.count)
        length.reserveCapacity(keys.count)
        for var k in keys {
            k.withUTF8 { u in
                start.append(joined.count)
                length.append(Int32(u.count))
                joined.append(contentsOf: u)
            }
        }
        let column = Column(joined)
        self.init(bytes: UnsafeRawBufferPointer(column.buffer), keep: column, start: start, length: length)
    }

    /// The non-empty fields of NUL-separated text (as `BlobWriter.putStrings` writes
    /// them), read where they lie.
    public init(joined column: Column<UInt8>) {
        let b = UnsafeRawBufferPointer(column.buffer)
        var start: [Int] = [], length: [Int32] = []
        var at = 0
        while at < b.count {
            var end = b.count
            if let nul = memchr(b.baseAddress! + at, 0, b.count - at) {
                end = b.baseAddress!.distance(to: UnsafeRawPointer(nul))
            }
            if end > at {
                start.append(at)
                length.append(Int32(end - at))
            }
            at = end + 1
        }
        self.init(bytes: b, keep: column, start: start, length: length)
    }

    public init() { self.init([]) }

    public func contains(_ key: String) -> Bool { index(of: key) != nil }

    /// The key's place among the set's keys (the first place of a key given
    /// twice), nil when it is not one of them.
    public func index(of key: String) -> Int? {
        var key = key
        return key.withUTF8 { u in
            let k = UnsafeRawBufferPointer(u)
            let h = KeySet.hash(k)
            var s = Int(truncatingIfNeeded: h) & mask
            while slots[s] >= 0 {
                let i = Int(slots[s])
                if hashes[s] == h && KeySet.same(k, bytes, start[i], length[i]) { return i }
                s = (s + 1) & mask
            }
            return nil
        }
    }

    public var count: Int { start.count }

    /// Every key as a string, in their order.
    public var strings: [String] {
        start.indices.map {
            String(
                decoding: UnsafeRawBufferPointer(rebasing: bytes[start[$0]..<start[$0] + Int(length[$0])]),
                as: UTF8.self)
        }
    }

    @inline(__always)
    static func same(_ key: UnsafeRawBufferPointer, _ bytes: UnsafeRawBufferPointer, _ at: Int, _ n: Int32) -> Bool {
        guard key.count == Int(n) else { return false }
        return n == 0 || memcmp(key.baseAddress!, bytes.baseAddress! + at, Int(n)) == 0
    }

    /// The key's bytes mixed eight at a time (a multiply and a rotation per word,
    /// the length last).
    static func hash(_ b: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0x243F_6A88_85A3_08D3
        var i = 0
        let n = b.count
        while i + 8 <= n {
            let v = b.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = ((h ^ v) &* 0x9E37_79B9_7F4A_7C15)
            h = (h << 31) | (h >> 33)
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(b[i]) << shift
            shift += 8
            i += 1
        }
        h = ((h ^ tail ^ UInt64(n)) &* 0x9E37_79B9_7F4A_7C15)
        return h ^ (h >> 29)
    }
}
