import CPFPNative

/// CRC-32C of a stream of bytes: the integrity check of stored stage results
/// (derived data beside the database; the check finds a damaged or cut file, it
/// is not a defence against someone who can write there, who could change the
/// database as well). Written as `crc32c:` and eight hex digits.
public struct CRC32C: Sendable {
    public private(set) var value: UInt32 = 0
    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        value = pfp_crc32c(value, base, bytes.count)
    }

    /// The check of these bytes.
    public init(of bytes: UnsafeRawBufferPointer) { update(bytes) }

    public static let prefix = "crc32c:"

    /// `crc32c:` and the value in eight lowercase hex digits.
    public var text: String {
        let hex = String(value, radix: 16)
        return CRC32C.prefix + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// Tests only: compare the portable path with the hardware one.
    public static func forcePortable(_ on: Bool) { pfp_crc32c_force_portable(on ? 1 : 0) }
}
