import Foundation
import CPFPNative
import PFPCore

/// Open-addressing map from an ID number's key to a person index, built once and
/// read from many threads (no locks: it is never written after construction).
public final class IDIndex: @unchecked Sendable {
    /// A key and its person index side by side: a lookup is one cache miss, not
    /// two (the table is far larger than the caches and is read at random).
    struct Slot {
        var key: UInt64
        var value: Int32
    }
    // `let`: a class's `var` properties pay a dynamic exclusivity check on every access.
    private let slots: UnsafeMutableBufferPointer<Slot>
    private let mask: Int

    public convenience init(keys: [UInt64]) { self.init(keys: Column(keys)) }

    public init(keys input: Column<UInt64>) {
        var cap = 16
        while cap < input.count * 2 { cap <<= 1 }
        let mask = cap - 1
        // Read at random, a city's table is hundreds of megabytes: in 2 MiB pages
        // where the kernel grants them (transparent huge pages on request), a
        // lookup's address translation stays in the TLB instead of adding a walk.
        let bytes = cap * MemoryLayout<Slot>.stride
        let huge = 2 << 20
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, bytes >= huge ? huge : 64, bytes) == 0, let raw else {
            fatalError("out of memory for an ID index of \(bytes) bytes")
        }
        if bytes >= huge { _ = madvise(raw, bytes, MADV_HUGEPAGE) }
        slots = UnsafeMutableBufferPointer(start: raw.bindMemory(to: Slot.self, capacity: cap), count: cap)
        slots.initialize(repeating: Slot(key: 0, value: -1))
        // Each slot is a cache miss at city scale: the slot of the key 16 places
        // ahead is brought in while this one is placed.
        let ahead = 16, n = input.count, base = slots.baseAddress!
        for i in 0..<n {
            if i + ahead < n { pfp_prefetch(base + (IDIndex.hash(input[i + ahead]) & mask)) }
            let k = input[i]
            var h = IDIndex.hash(k) & mask
            while slots[h].key != 0 && slots[h].key != k { h = (h + 1) & mask }
            slots[h] = Slot(key: k, value: Int32(i))
        }
        self.mask = mask
    }

    deinit { free(slots.baseAddress) }

    @inline(__always)
    static func hash(_ k: UInt64) -> Int {
        var x = k &* 0x9E37_79B9_7F4A_7C15
        x ^= x >> 29
        return Int(truncatingIfNeeded: x)
    }

    /// Brings the slot where `k`'s search starts into the cache (see `pfp_prefetch`).
    @inline(__always)
    public func prefetch(_ k: UInt64) {
        let h = IDIndex.hash(k) & mask
        pfp_prefetch(slots.baseAddress! + h)
    }

    /// The person index, or -1.
    @inline(__always)
    public func find(_ k: UInt64) -> Int32 {
        var h = IDIndex.hash(k) & mask
        let sb = UnsafeBufferPointer(slots)
        while true {
            let s = sb[h]
            if s.key == k { return s.value }
            if s.key == 0 { return -1 }
            h = (h + 1) & mask
        }
    }
}

/// An index of a column's keys: each slot holds a row number only (4 bytes), the
/// key itself compared in the column. A quarter of `IDIndex`'s memory or less (a
/// city's people: 16 MB, not 64–128 MB), for one more read of the column per
/// lookup: for lookups now and then (a former member's ID in `previous(...)`),
/// not one for every delivered row.
public final class ColumnIndex: @unchecked Sendable {
    private let keys: Column<UInt64>
    /// Row number, or -1 for an empty slot; at most two slots in three filled.
    private let slots: [Int32]
    private let mask: Int

    public init(keys: Column<UInt64>) {
        precondition(keys.count < Int(Int32.max), "too many keys for a ColumnIndex")
        var cap = 16
        while cap < keys.count * 3 / 2 { cap <<= 1 }
        let mask = cap - 1
        var slots = [Int32](repeating: -1, count: cap)
        slots.withUnsafeMutableBufferPointer { table in
            for i in 0..<keys.count {
                if i + 16 < keys.count { pfp_prefetch(table.baseAddress! + (IDIndex.hash(keys[i + 16]) & mask)) }
                let k = keys[i]
                var h = IDIndex.hash(k) & mask
                while table[h] >= 0 && keys[Int(table[h])] != k { h = (h + 1) & mask }
                table[h] = Int32(i)  // a key given twice: its last row, as IDIndex keeps
            }
        }
        self.keys = keys
        self.slots = slots
        self.mask = mask
    }

    /// The row of the key, or -1.
    public func find(_ k: UInt64) -> Int32 {
        var h = IDIndex.hash(k) & mask
        while true {
            let v = slots[h]
            if v < 0 || keys[Int(v)] == k { return v }
            h = (h + 1) & mask
        }
    }
}

/// Finds a short byte string (a tag name) without making a `String`.
final class ByteKeyTable: @unchecked Sendable {
    private let entries: [[UInt8]]
    private let slots: [Int32]
    private let mask: Int

    init(_ names: [String]) {
        let entries = names.map { Array($0.utf8) }
        var cap = 16
        while cap < names.count * 4 { cap <<= 1 }
        let mask = cap - 1
        var slots = [Int32](repeating: -1, count: cap)
        for (i, e) in entries.enumerated() {
            var h = e.withUnsafeBytes { ByteKeyTable.hash($0) } & mask
            while slots[h] >= 0 { h = (h + 1) & mask }
            slots[h] = Int32(i)
        }
        self.entries = entries
        self.slots = slots
        self.mask = mask
    }

    @inline(__always)
    static func hash(_ b: UnsafeRawBufferPointer) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for c in b { h = (h ^ UInt64(c)) &* 0x100_0000_01b3 }
        return Int(truncatingIfNeeded: h ^ (h >> 32))
    }

    /// The index of the name, or -1.
    @inline(__always)
    func find(_ b: UnsafeRawBufferPointer) -> Int {
        var h = ByteKeyTable.hash(b) & mask
        while true {
            let s = Int(slots[h])
            if s < 0 { return -1 }
            let e = entries[s]
            if e.count == b.count && e.withUnsafeBytes({ memcmp($0.baseAddress!, b.baseAddress!, b.count) == 0 }) {
                return s
            }
            h = (h + 1) & mask
        }
    }
}

extension IDIndex {
    /// The keys that occur more than once in `keys`, each once, bucket by bucket
    /// (the same order for any thread count: a bucket keeps its keys in input order).
    /// The keys are spread by hash over buckets small enough for a core's cache,
    /// then each bucket is checked with a table of its own, buckets in parallel:
    /// at city scale (25 million ID numbers) this replaces sorting them all.
    static func repeatedKeys(_ keys: [UInt64]) -> [UInt64] {
        let n = keys.count
        let bits = n < 1 << 16 ? 0 : min(12, max(4, (n >> 15).bitWidth - (n >> 15).leadingZeroBitCount))
        let buckets = 1 << bits
        @inline(__always) func bucket(_ k: UInt64) -> Int {
            bits == 0 ? 0 : Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - bits))
        }
        // Counted and spread piece by piece: piece p's keys of bucket b go after
        // those of the pieces before it.
        let pieces = n < 1 << 16 ? 1 : Parallel.threads * 4
        var counts = [Int](repeating: 0, count: pieces * buckets)
        keys.withUnsafeBufferPointer { kb in
            counts.withUnsafeMutableBufferPointer { cb in
                Parallel.forEach(pieces) { p in
                    for i in (n * p / pieces)..<(n * (p + 1) / pieces) { cb[p * buckets + bucket(kb[i])] += 1 }
                }
            }
        }
        var start = [Int](repeating: 0, count: pieces * buckets)
        var bucketStart = [Int](repeating: 0, count: buckets + 1)
        var at = 0
        for b in 0..<buckets {
            bucketStart[b] = at
            for p in 0..<pieces { start[p * buckets + b] = at; at += counts[p * buckets + b] }
        }
        bucketStart[buckets] = at
        let spread = [UInt64](unsafeUninitializedCapacity: n) { sb, count in
            keys.withUnsafeBufferPointer { kb in
                Parallel.forEach(pieces) { p in
                    var next = Array(start[(p * buckets)..<((p + 1) * buckets)])
                    for i in (n * p / pieces)..<(n * (p + 1) / pieces) {
                        let b = bucket(kb[i])
                        sb[next[b]] = kb[i]
                        next[b] += 1
                    }
                }
            }
            count = n
        }
        var found = [[UInt64]](repeating: [], count: buckets)
        spread.withUnsafeBufferPointer { sb in
            found.withUnsafeMutableBufferPointer { out in
                Parallel.forEach(buckets) { b in
                    let lo = bucketStart[b], hi = bucketStart[b + 1]
                    guard hi - lo > 1 else { return }
                    var cap = 16
                    while cap < (hi - lo) * 2 { cap <<= 1 }
                    let mask = cap - 1
                    // A slot holds a key (0: empty; keys are never 0) and whether it was seen again.
                    var slots = [UInt64](repeating: 0, count: cap)
                    var again = [Bool](repeating: false, count: cap)
                    var mine: [UInt64] = []
                    for i in lo..<hi {
                        let k = sb[i]
                        var h = IDIndex.hash(k) & mask
                        while slots[h] != 0 && slots[h] != k { h = (h + 1) & mask }
                        if slots[h] == 0 { slots[h] = k } else if !again[h] { again[h] = true; mine.append(k) }
                    }
                    out[b] = mine
                }
            }
        }
        return found.flatMap { $0 }
    }
}
