import CPFPNative
import Foundation

/// SHA-256 of delivery and output files (Foundation on Linux has no CryptoKit).
public struct SHA256Digest: Sendable {
    private var ctx = pfp_sha256_ctx()

    public init() { pfp_sha256_init(&ctx) }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        pfp_sha256_update(&ctx, base, bytes.count)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func finalizeHex() -> String {
        var out = [UInt8](repeating: 0, count: 32)
        pfp_sha256_final(&ctx, &out)
        return SHA256Digest.hex(out)
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var s = [UInt8]()
        s.reserveCapacity(bytes.count * 2)
        for b in bytes { s.append(digits[Int(b >> 4)]); s.append(digits[Int(b & 15)]) }
        return String(decoding: s, as: UTF8.self)
    }

    public static func hex(of bytes: UnsafeRawBufferPointer) -> String {
        var d = SHA256Digest()
        d.update(bytes)
        return d.finalizeHex()
    }

    public static func hex(of bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { hex(of: $0) }
    }

    /// Streams a file through the hash without holding it in memory.
    public static func hex(ofFile path: String) throws -> String {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw PipelineError.failure("cannot open \(path) to hash it: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var d = SHA256Digest()
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { throw PipelineError.failure("cannot read \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            buf.withUnsafeBytes { d.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return d.finalizeHex()
    }

    /// Whether the SHA-NI instructions are used on this machine.
    public static var usesHardware: Bool { pfp_sha256_uses_shani() != 0 }

    /// Tests only: compare the portable path with the hardware one.
    public static func forcePortable(_ on: Bool) { pfp_sha256_force_portable(on ? 1 : 0) }
}
