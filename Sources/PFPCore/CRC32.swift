/// CRC-32 with the IEEE 802.3 polynomial (reflected 0xEDB88320, initial value and
/// final xor 0xFFFFFFFF): the value zlib's `crc32`, Python's `zlib.crc32` and Spark
/// SQL's `crc32` compute. `pfp shard` puts a household in shard `CRC32(id) % N`
/// (docs/SCALE.md), so any engine can tell which shard holds a household.
/// Household ids are short (at most 32 bytes): a byte at a time from one table.
public enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// The CRC-32 of `bytes`.
    public static func of(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        }
        return c ^ 0xFFFF_FFFF
    }

    public static func of(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { of($0) } }

    public static func of(_ text: String) -> UInt32 { of(Array(text.utf8)) }

    /// The shard of a household id among `count` shards.
    public static func shard(of householdID: UnsafeRawBufferPointer, count: Int) -> Int {
        Int(of(householdID) % UInt32(count))
    }
}
