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
    // (ValCoding), compact: the first word in 32 bits when every value fits
    // (`a32`, and `a` empty), the second only when not implied by the kind (else
    // `b` empty). At city scale this is gigabytes otherwise.
    let kinds: [UnsafeMutableBufferPointer<UInt8>]
    let a: [UnsafeMutableBufferPointer<Int64>]
    let a32: [UnsafeMutableBufferPointer<Int32>]
    let b: [UnsafeMutableBufferPointer<Int64>]
    /// The stored result the columns lie in, read in place (never written); nil:
    /// the columns are this object's own, deallocated with it.
    let mapping: AnyObject?

    init(
        runDate: CivilDate, ruleDigest: String, valueIDs: [String], levels: [Level],
        kinds: [UnsafeMutableBufferPointer<UInt8>], a: [UnsafeMutableBufferPointer<Int64>],
        a32: [UnsafeMutableBufferPointer<Int32>], b: [UnsafeMutableBufferPointer<Int64>], mapping: AnyObject? = nil
    ) {
        self.runDate = runDate; self.ruleDigest = ruleDigest; self.valueIDs = valueIDs; self.levels = levels
        self.kinds = kinds; self.a = a; self.a32 = a32; self.b = b; self.mapping = mapping
    }

    static func zeroed<T: BitwiseCopyable>(_ n: Int, _ zero: T) -> UnsafeMutableBufferPointer<T> {
        let x = UnsafeMutableBufferPointer<T>.allocate(capacity: n)
        x.initialize(repeating: zero)
        return x
    }
    static func none<T>() -> UnsafeMutableBufferPointer<T> { UnsafeMutableBufferPointer(start: nil, count: 0) }

    /// Lets the pages of columns read in place go from memory until they are read
    /// again (from the page cache); columns of their own are kept as they are.
    public func dropResidentPages() { (mapping as? MappedFile)?.dropResidentPages() }

    deinit {
        guard mapping == nil else { return }  // the stored result's pages: unmapped with it
        for x in kinds { x.deallocate() }
        for x in a { x.deallocate() }
        for x in a32 { x.deallocate() }
        for x in b { x.deallocate() }
    }

    @inline(__always) func first(_ i: Int, _ e: Int) -> Int64 { a32[i].count > 0 ? Int64(a32[i][e]) : a[i][e] }
    @inline(__always) func second(_ i: Int, _ e: Int) -> Int64 {
        b[i].count > 0 ? b[i][e] : ValCoding.usualSecond(kind: kinds[i][e])
    }

    public func value(_ index: Int, entity: Int) -> Val? {
        ValCoding.decode(kinds[index][entity], first(index, entity), second(index, entity))
    }

    public static let stage = "profile"

    public func save(to store: StageStore) throws {
        try store.save(runDate: runDate, stage: HouseholdProfiles.stage, blobs: blobs())
    }

    /// What `save` writes. Its items point into this object's columns: keep the
    /// object alive until the result is written.
    public func blobs() -> BlobWriter {
        var w = BlobWriter()
        w.putStrings("rule_digest", [ruleDigest])
        w.putStrings("values", valueIDs)
        w.putStrings("levels", levels.map(\.rawValue))
        // The columns are compact already (computed or loaded so): written as they are.
        for i in valueIDs.indices {
            w.put("v.\(i).kind", UnsafeRawBufferPointer(kinds[i]))
            if a[i].count > 0 {
                w.put("v.\(i).a", UnsafeRawBufferPointer(a[i]))
            } else {
                w.put("v.\(i).a32", UnsafeRawBufferPointer(a32[i]))
            }
            if b[i].count > 0 { w.put("v.\(i).b", UnsafeRawBufferPointer(b[i])) }
        }
        return w
    }

    public static func load(from store: StageStore, runDate: CivilDate) throws -> HouseholdProfiles {
        guard let r = try store.load(runDate: runDate, stage: stage) else {
            throw PipelineError.badInput(
                stage: "match", "no profiles for \(runDate)",
                hint: "run 'pfp stage profile --run-date \(runDate)' first")
        }
        let ids = try r.strings("values")
        let levels = try r.strings("levels").map { Level(rawValue: $0) ?? .household }
        var nk: [UnsafeMutableBufferPointer<UInt8>] = [], na: [UnsafeMutableBufferPointer<Int64>] = []
        var n32: [UnsafeMutableBufferPointer<Int32>] = [], nb: [UnsafeMutableBufferPointer<Int64>] = []
        // Results written with aligned items are read in place (no copy, no memory of
        // their own: the pages come from the page cache as the columns are read and
        // go with the profiles); older ones are copied once.
        let inPlace = r.itemsAligned
        func column<T: BitwiseCopyable>(_ name: String) throws -> UnsafeMutableBufferPointer<T> {
            inPlace
                ? UnsafeMutableBufferPointer(mutating: try r.inPlace(name) as UnsafeBufferPointer<T>)
                : try r.buffer(name)
        }
        // Built first, so a damaged result frees what was taken.
        let result = {
            HouseholdProfiles(
                runDate: runDate, ruleDigest: (try? r.strings("rule_digest").first ?? "") ?? "", valueIDs: ids,
                levels: levels,
                kinds: nk, a: na, a32: n32, b: nb, mapping: inPlace ? r.mapping : nil)
        }
        for i in ids.indices {
            let kinds: UnsafeMutableBufferPointer<UInt8> = try column("v.\(i).kind")
            let n = kinds.count
            nk.append(kinds)
            if r.has("v.\(i).a32") {
                n32.append(try column("v.\(i).a32")); na.append(none())
                guard n32[i].count == n else { _ = result(); throw r.damaged("v.\(i).a32") }
            } else {
                na.append(try column("v.\(i).a")); n32.append(none())
                guard na[i].count == n else { _ = result(); throw r.damaged("v.\(i).a") }
            }
            if r.has("v.\(i).b") {
                nb.append(try column("v.\(i).b"))
                guard nb[i].count == n else { _ = result(); throw r.damaged("v.\(i).b") }
            } else {
                nb.append(none())
            }
        }
        return result()
    }
}

public struct ProfileStage {
    public init() {}

    /// A value that does not fit the compact columns: its first word is not a
    /// 32-bit number, or its second is not the one its kind implies.
    struct Wide { var index: Int32; var entity: Int32; var a: Int64; var b: Int64 }

    /// Computes every value for every household, in parallel chunks of households,
    /// straight into the compact columns (the few wide values aside, then placed).
    public func run(data: IngestResult, rules: RuleSet, console: Console) throws -> HouseholdProfiles {
        let values = rules.values
        let hCount = data.householdCount, pCount = data.personCount
        // Raw buffers: each chunk writes only its own households' and people's slots.
        let sizes = values.map { $0.level == .household ? hCount : pCount }
        let kinds = sizes.map { HouseholdProfiles.zeroed($0, UInt8(0)) }
        let a32 = sizes.map { HouseholdProfiles.zeroed($0, Int32(0)) }
        let chunk = 4096
        let chunks = (hCount + chunk - 1) / chunk
        // Rules of its own for each worker (no shared reference counts between cores).
        let workerRules = try rules.replicas(Parallel.workers(for: chunks))
        // One evaluator per worker, made once (as the match stage does).
        let presence = TagPresence(data: data.households)
        let contexts = workerRules.map { EvalContext(rules: $0, data: data.households, presence: presence) }
        var wide = [[Wide]](repeating: [], count: workerRules.count)
        Meter.shared.start("household profiles", unit: "households", total: hCount)
        wide.withUnsafeMutableBufferPointer { wideBuf in
            Parallel.forEach(chunks) { (worker: Int, c: Int) in
                defer { Meter.shared.add(min(hCount, (c + 1) * chunk) - c * chunk) }
                let ctx = contexts[worker]
                let values = workerRules[worker].values
                var w: [Wide] = []
                func set(_ i: Int, _ e: Int, _ v: Val) {
                    let (k, x, y) = ValCoding.encode(v)
                    kinds[i][e] = k
                    a32[i][e] = Int32(truncatingIfNeeded: x)
                    if x < Int64(Int32.min) || x > Int64(Int32.max) || y != ValCoding.usualSecond(kind: k) {
                        w.append(Wide(index: Int32(i), entity: Int32(e), a: x, b: y))
                    }
                }
                for h in (c * chunk)..<min(hCount, (c + 1) * chunk) {
                    guard ctx.load(household: h) else { continue }
                    for v in values {
                        if v.level == .household {
                            set(v.index, h, ctx.evaluate(v))
                        } else {
                            for s in 0..<ctx.memberCount {
                                set(v.index, Int(ctx.member(s)), ctx.evaluate(v, slot: s))
                            }
                        }
                    }
                }
                // A worker runs one chunk at a time: its own slot.
                if !w.isEmpty { wideBuf[worker].append(contentsOf: w) }
            }
        }
        let (a, b, narrow) = ProfileStage.widen(kinds: kinds, a32: a32, sizes: sizes, wide: wide.joined())
        return HouseholdProfiles(
            runDate: data.runDate, ruleDigest: rules.digest, valueIDs: values.map(\.id), levels: values.map(\.level),
            kinds: kinds, a: a, a32: narrow, b: b)
    }

    /// Columns with a wide value get the full words they need: `a` where a first
    /// word does not fit 32 bits (the narrow column then let go), `b` where a
    /// second word is not the usual one.
    static func widen(
        kinds: [UnsafeMutableBufferPointer<UInt8>], a32: [UnsafeMutableBufferPointer<Int32>], sizes: [Int],
        wide: some Collection<Wide>
    ) -> (
        a: [UnsafeMutableBufferPointer<Int64>], b: [UnsafeMutableBufferPointer<Int64>],
        narrow: [UnsafeMutableBufferPointer<Int32>]
    ) {
        var a = sizes.map { _ in HouseholdProfiles.none() as UnsafeMutableBufferPointer<Int64> }
        var b = a
        var narrow = a32
        for r in wide {
            let i = Int(r.index)
            if (r.a < Int64(Int32.min) || r.a > Int64(Int32.max)) && a[i].count == 0 {
                let full = UnsafeMutableBufferPointer<Int64>.allocate(capacity: sizes[i])
                for e in 0..<sizes[i] { full[e] = Int64(a32[i][e]) }
                a[i] = full
                narrow[i] = HouseholdProfiles.none()
            }
            if r.b != ValCoding.usualSecond(kind: kinds[i][Int(r.entity)]) && b[i].count == 0 {
                let full = UnsafeMutableBufferPointer<Int64>.allocate(capacity: sizes[i])
                for e in 0..<sizes[i] { full[e] = ValCoding.usualSecond(kind: kinds[i][e]) }
                b[i] = full
            }
        }
        for r in wide {
            let i = Int(r.index), e = Int(r.entity)
            if a[i].count > 0 { a[i][e] = r.a }
            if b[i].count > 0 { b[i][e] = r.b }
        }
        for i in sizes.indices where a[i].count > 0 { a32[i].deallocate() }
        return (a, b, narrow)
    }
}
