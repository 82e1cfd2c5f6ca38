import Foundation
import PFPCore
import PFPRules

/// What a run keeps for the next one: the households of the remembered list
/// (watch) with the values `previous(...)` reads, and the push keys (for `status`).
public struct RunState: Sendable {
    public var runDate: CivilDate
    public var remembered: [String: PreviousHousehold] = [:]
    /// Keys of the entries of lists with a status column (sorted when saved).
    public var pushKeys: [String] = []
    /// The same keys for lookups, filled when a state is loaded.
    public private(set) var pushKeyLookup: Set<String> = []

    public init(runDate: CivilDate) { self.runDate = runDate }

    static let stage = "state"

    /// A list entry's key: list, household, person, policy.
    public static func pushKey(list: String, household: String, person: String, policy: String) -> String {
        list + "," + household + "," + person + "," + policy
    }

    /// The remembered households in ID order, as the match stage found them (it
    /// visits households in that order): saved without a dictionary or a sort.
    public var rememberedInOrder: [(id: String, household: PreviousHousehold)]?

    public func save(to store: StageStore) throws {
        var out: [UInt8] = []
        func u32(_ x: Int) { withUnsafeBytes(of: UInt32(x).littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ x: UInt64) { withUnsafeBytes(of: x.littleEndian) { out.append(contentsOf: $0) } }
        func str(_ s: String) { var s = s; s.withUTF8 { u32($0.count); out.append(contentsOf: $0) } }
        var ordered: [(id: String, household: PreviousHousehold)]
        if let given = rememberedInOrder, zip(given, given.dropFirst()).allSatisfy({ $0.id < $1.id }) {
            ordered = given
        } else {
            ordered = (rememberedInOrder ?? remembered.map { (id: $0.key, household: $0.value) }).sorted { $0.id < $1.id }
        }
        out.reserveCapacity(ordered.count * 64)
        u32(ordered.count)
        for (id, h) in ordered {
            str(id)
            u32(h.values.count)
            for k in h.values.keys.sorted() { u32(k); ValCoding.append(h.values[k]!, to: &out) }
            u32(h.members.count)
            for m in h.members.keys.sorted() {
                u64(m)
                let mv = h.members[m]!
                u32(mv.count)
                for k in mv.keys.sorted() { u32(k); ValCoding.append(mv[k]!, to: &out) }
            }
        }
        var w = BlobWriter()
        w.put("remembered", out)
        // The workers collect them in list and ID order: usually sorted already.
        w.putStrings("push_keys", zip(pushKeys, pushKeys.dropFirst()).allSatisfy { $0 <= $1 } ? pushKeys : pushKeys.sorted())
        try store.save(runDate: runDate, stage: RunState.stage, blobs: w)
    }

    public static func load(from store: StageStore, runDate: CivilDate) throws -> RunState? {
        guard let r = try store.load(runDate: runDate, stage: stage) else { return nil }
        var s = RunState(runDate: runDate)
        let bytes: [UInt8] = try r.get("remembered")
        var at = 0
        func u32() -> Int { defer { at += 4 }; return Int(UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24) }
        func u64() -> UInt64 { defer { at += 8 }; return UInt64(bitPattern: ValCoding.readInt64(bytes, at)) }
        func str() -> String { let n = u32(); defer { at += n }; return String(decoding: bytes[at..<at + n], as: UTF8.self) }
        if !bytes.isEmpty {
            let n = u32()
            for _ in 0..<n {
                let id = str()
                var values: [Int: Val] = [:]
                for _ in 0..<u32() { let k = u32(); values[k] = ValCoding.read(bytes, &at) }
                var members: [UInt64: [Int: Val]] = [:]
                for _ in 0..<u32() {
                    let m = u64()
                    var mv: [Int: Val] = [:]
                    for _ in 0..<u32() { let k = u32(); mv[k] = ValCoding.read(bytes, &at) }
                    members[m] = mv
                }
                s.remembered[id] = PreviousHousehold(values: values, members: members)
            }
        }
        s.pushKeys = try r.strings("push_keys").filter { !$0.isEmpty }
        s.pushKeyLookup = Set(s.pushKeys)
        return s
    }
}
