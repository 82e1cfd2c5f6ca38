import Foundation
import PFPCore
import PFPIngest
import PFPRules

/// The profile stage (精准画像): every value of the rule files' `person value` and
/// `household value` lines, computed exactly for every household from the
/// resolved tags, and persisted so later stages and analysts need not ingest again.
public final class HouseholdProfiles: @unchecked Sendable {
    public let runDate: CivilDate
    public let ruleDigest: String
    public let valueIDs: [String]
    public let levels: [Level]
    // Per value, per entity (household or person): kind, first word, second word
    // (ValCoding). Compact once computed: the first word in 32 bits when every
    // value fits (`a32`, and `a` empty), the second only when not implied by the
    // kind (else `b` empty). At city scale this is gigabytes otherwise.
    let kinds: [UnsafeMutableBufferPointer<UInt8>]
    let a: [UnsafeMutableBufferPointer<Int64>]
    let a32: [UnsafeMutableBufferPointer<Int32>]
    let b: [UnsafeMutableBufferPointer<Int64>]

    private init(runDate: CivilDate, ruleDigest: String, valueIDs: [String], levels: [Level],
                 kinds: [UnsafeMutableBufferPointer<UInt8>], a: [UnsafeMutableBufferPointer<Int64>],
                 a32: [UnsafeMutableBufferPointer<Int32>], b: [UnsafeMutableBufferPointer<Int64>]) {
        self.runDate = runDate; self.ruleDigest = ruleDigest; self.valueIDs = valueIDs; self.levels = levels
        self.kinds = kinds; self.a = a; self.a32 = a32; self.b = b
    }

    static func zeroed<T: BitwiseCopyable>(_ n: Int, _ zero: T) -> UnsafeMutableBufferPointer<T> {
        let x = UnsafeMutableBufferPointer<T>.allocate(capacity: n)
        x.initialize(repeating: zero)
        return x
    }
    static func none<T>() -> UnsafeMutableBufferPointer<T> { UnsafeMutableBufferPointer(start: nil, count: 0) }

    /// Full-width columns, for computing.
    convenience init(runDate: CivilDate, ruleDigest: String, valueIDs: [String], levels: [Level], sizes: [Int]) {
        self.init(runDate: runDate, ruleDigest: ruleDigest, valueIDs: valueIDs, levels: levels,
                  kinds: sizes.map { Self.zeroed($0, UInt8(0)) }, a: sizes.map { Self.zeroed($0, Int64(0)) },
                  a32: sizes.map { _ in Self.none() }, b: sizes.map { Self.zeroed($0, Int64(0)) })
    }

    deinit {
        for x in kinds { x.deallocate() }
        for x in a { x.deallocate() }
        for x in a32 { x.deallocate() }
        for x in b { x.deallocate() }
    }

    @inline(__always) func first(_ i: Int, _ e: Int) -> Int64 { a32[i].count > 0 ? Int64(a32[i][e]) : a[i][e] }
    @inline(__always) func second(_ i: Int, _ e: Int) -> Int64 { b[i].count > 0 ? b[i][e] : (kinds[i][e] == 4 ? 1 : 0) }

    public func value(_ index: Int, entity: Int) -> Val? {
        ValCoding.decode(kinds[index][entity], first(index, entity), second(index, entity))
    }

    @inline(__always) func set(_ index: Int, entity: Int, _ v: Val) {
        let (k, x, y) = ValCoding.encode(v)
        kinds[index][entity] = k; a[index][entity] = x; b[index][entity] = y
    }

    /// The same values in the compact columns (this object's full columns are freed with it).
    func compacted() -> HouseholdProfiles {
        var na: [UnsafeMutableBufferPointer<Int64>] = [], n32: [UnsafeMutableBufferPointer<Int32>] = [], nb: [UnsafeMutableBufferPointer<Int64>] = []
        var nk: [UnsafeMutableBufferPointer<UInt8>] = []
        for i in valueIDs.indices {
            let k = kinds[i], x = a[i], y = b[i]
            let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: k.count)
            _ = copy.initialize(fromContentsOf: k)
            nk.append(copy)
            if x.allSatisfy({ $0 >= Int64(Int32.min) && $0 <= Int64(Int32.max) }) {
                let c = UnsafeMutableBufferPointer<Int32>.allocate(capacity: x.count)
                for e in x.indices { c[e] = Int32(truncatingIfNeeded: x[e]) }
                n32.append(x.isEmpty ? Self.none() : c)
                if x.isEmpty { c.deallocate() }
                na.append(Self.none())
            } else {
                let c = UnsafeMutableBufferPointer<Int64>.allocate(capacity: x.count)
                _ = c.initialize(fromContentsOf: x)
                na.append(c)
                n32.append(Self.none())
            }
            var implied = true
            for e in 0..<k.count where y[e] != (k[e] == 4 ? 1 : 0) { implied = false; break }
            if implied { nb.append(Self.none()) } else {
                let c = UnsafeMutableBufferPointer<Int64>.allocate(capacity: y.count)
                _ = c.initialize(fromContentsOf: y)
                nb.append(c)
            }
        }
        return HouseholdProfiles(runDate: runDate, ruleDigest: ruleDigest, valueIDs: valueIDs, levels: levels, kinds: nk, a: na, a32: n32, b: nb)
    }

    static let stage = "profile"

    public func save(to store: StageStore) throws {
        var w = BlobWriter()
        w.putStrings("rule_digest", [ruleDigest])
        w.putStrings("values", valueIDs)
        w.putStrings("levels", levels.map(\.rawValue))
        for i in valueIDs.indices {
            let k = kinds[i]
            w.put("v.\(i).kind", UnsafeRawBufferPointer(k))
            if a32[i].count > 0 || k.isEmpty {
                w.put("v.\(i).a32", Array(a32[i]))
            } else if a[i].allSatisfy({ $0 >= Int64(Int32.min) && $0 <= Int64(Int32.max) }) {
                w.put("v.\(i).a32", a[i].map { Int32(truncatingIfNeeded: $0) })
            } else {
                w.put("v.\(i).a", UnsafeRawBufferPointer(a[i]))
            }
            let y = b[i]
            guard y.count > 0 else { continue }
            var implied = true
            for e in 0..<k.count where y[e] != (k[e] == 4 ? 1 : 0) { implied = false; break }
            if !implied { w.put("v.\(i).b", UnsafeRawBufferPointer(y)) }
        }
        try store.save(runDate: runDate, stage: HouseholdProfiles.stage, blobs: w)
    }

    public static func load(from store: StageStore, runDate: CivilDate) throws -> HouseholdProfiles {
        guard let r = try store.load(runDate: runDate, stage: stage) else {
            throw PipelineError.badInput(stage: "match", "no profiles for \(runDate)", hint: "run 'pfp stage profile --run-date \(runDate)' first")
        }
        let ids = try r.strings("values")
        let levels = try r.strings("levels").map { Level(rawValue: $0) ?? .household }
        var nk: [UnsafeMutableBufferPointer<UInt8>] = [], na: [UnsafeMutableBufferPointer<Int64>] = []
        var n32: [UnsafeMutableBufferPointer<Int32>] = [], nb: [UnsafeMutableBufferPointer<Int64>] = []
        func own<T: BitwiseCopyable>(_ x: [T]) -> UnsafeMutableBufferPointer<T> {
            if x.isEmpty { return none() }
            let c = UnsafeMutableBufferPointer<T>.allocate(capacity: x.count)
            _ = c.initialize(fromContentsOf: x)
            return c
        }
        // Built first, so a damaged result frees what was taken.
        let result = { HouseholdProfiles(runDate: runDate, ruleDigest: (try? r.strings("rule_digest").first ?? "") ?? "", valueIDs: ids, levels: levels,
                                         kinds: nk, a: na, a32: n32, b: nb) }
        for i in ids.indices {
            let kinds: [UInt8] = try r.get("v.\(i).kind")
            let n = kinds.count
            nk.append(own(kinds))
            if r.has("v.\(i).a32") {
                let x: [Int32] = try r.get("v.\(i).a32")
                guard x.count == n else { _ = result(); throw r.damaged("v.\(i).a32") }
                n32.append(own(x)); na.append(none())
            } else {
                let x: [Int64] = try r.get("v.\(i).a")
                guard x.count == n else { _ = result(); throw r.damaged("v.\(i).a") }
                na.append(own(x)); n32.append(none())
            }
            if r.has("v.\(i).b") {
                let y: [Int64] = try r.get("v.\(i).b")
                guard y.count == n else { _ = result(); throw r.damaged("v.\(i).b") }
                nb.append(own(y))
            } else {
                nb.append(none())
            }
        }
        return result()
    }
}

public struct ProfileStage {
    public init() {}

    /// Computes every value for every household, in parallel chunks of households.
    public func run(data: IngestResult, rules: RuleSet, console: Console) throws -> HouseholdProfiles {
        let values = rules.values
        let hCount = data.householdCount, pCount = data.personCount
        // Raw buffers: each chunk writes only its own households' and people's slots.
        let sizes = values.map { $0.level == .household ? hCount : pCount }
        let out = HouseholdProfiles(runDate: data.runDate, ruleDigest: rules.digest, valueIDs: values.map(\.id), levels: values.map(\.level),
                                    sizes: sizes)
        let chunk = 4096
        let chunks = (hCount + chunk - 1) / chunk
        // Rules of its own for each worker (no shared reference counts between cores).
        let workerRules = try rules.replicas(Parallel.workers(for: chunks))
        Parallel.forEach(chunks) { (worker: Int, c: Int) in
            let rules = workerRules[worker]
            let values = rules.values
            let ctx = EvalContext(rules: rules, data: data)
            for h in (c * chunk)..<min(hCount, (c + 1) * chunk) {
                guard ctx.load(household: h) else { continue }
                for v in values {
                    if v.level == .household {
                        out.set(v.index, entity: h, ctx.evaluate(v))
                    } else {
                        for s in 0..<ctx.memberCount {
                            out.set(v.index, entity: Int(ctx.members[s]), ctx.evaluate(v, slot: s))
                        }
                    }
                }
            }
        }
        return out.compacted()
    }
}
