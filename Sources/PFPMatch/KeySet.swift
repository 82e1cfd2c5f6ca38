import Foundation

/// A set of strings made once and then only asked whether it holds one: an
/// open-addressing table of 64-bit hashes beside the strings' indexes, the
/// string itself compared only where the hashes agree (so exact). Made from
/// hundreds of thousands of keys in milliseconds, where a `Set<String>` takes
/// a fifth of a second (the previous run's push keys, loaded every night).
public struct KeySet: Sendable {
    private let keys: [String]
    private let hashes: [UInt64]
    /// Index into `keys`, or -1 for an empty slot.
    private let slots: [Int32]
    private let mask: Int

    public init(_ keys: [String]) {
        precondition(keys.count < Int(Int32.max), "too many keys for a KeySet")
        self.keys = keys
        var cap = 16
        while cap < keys.count * 2 { cap <<= 1 }
        let mask = cap - 1
        var hashes = [UInt64](repeating: 0, count: cap)
        var slots = [Int32](repeating: -1, count: cap)
        for (i, k) in keys.enumerated() {
            let h = KeySet.hash(k)
            var s = Int(truncatingIfNeeded: h) & mask
            while slots[s] >= 0 {
                if hashes[s] == h && keys[Int(slots[s])] == k { break }  // the same key twice: kept once
                s = (s + 1) & mask
            }
            if slots[s] < 0 { slots[s] = Int32(i); hashes[s] = h }
        }
        self.hashes = hashes
        self.slots = slots
        self.mask = mask
    }

    public init() { self.init([]) }

    public func contains(_ key: String) -> Bool {
        let h = KeySet.hash(key)
        var s = Int(truncatingIfNeeded: h) & mask
        while slots[s] >= 0 {
            if hashes[s] == h && keys[Int(slots[s])] == key { return true }
            s = (s + 1) & mask
        }
        return false
    }

    /// The key's UTF-8 bytes mixed eight at a time (a multiply and a rotation per
    /// word, the length last).
    static func hash(_ key: String) -> UInt64 {
        var k = key
        return k.withUTF8 { b in
            var h: UInt64 = 0x243F_6A88_85A3_08D3
            var i = 0
            let n = b.count
            let raw = UnsafeRawBufferPointer(b)
            while i + 8 <= n {
                let v = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
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
}
