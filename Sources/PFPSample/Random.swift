import Foundation

/// SplitMix64: small, fast and the same on every machine, so a seed always gives the same city.
package struct SplitMix64 {
    package var state: UInt64
    package init(seed: UInt64) { state = seed }
    package init(_ parts: UInt64...) {
        var s: UInt64 = 0x1234_5678_9ABC_DEF0
        for p in parts { s = SplitMix64.mix(s ^ p &+ 0x9E37_79B9_7F4A_7C15) }
        state = s
    }
    @inline(__always)
    static func mix(_ z0: UInt64) -> UInt64 {
        var z = z0
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    @inline(__always)
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }
    /// 0 ..< n
    @inline(__always)
    package mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
    /// lo ... hi
    @inline(__always)
    package mutating func range(_ lo: Int, _ hi: Int) -> Int { lo + below(hi - lo + 1) }
    /// True with probability `p` percent (may be fractional).
    @inline(__always)
    package mutating func chance(_ percent: Double) -> Bool { Double(next() % 1_000_000) < percent * 10_000 }
}
