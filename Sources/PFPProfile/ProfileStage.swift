import Foundation
import PFPCore
import PFPIngest
import PFPRules

/// The profile stage (精准画像): every value of the rule files' `person value` and
/// `household value` lines, computed exactly for every household from the
/// resolved tags, and persisted so later stages and analysts need not ingest again.
public final class HouseholdProfiles: @unchecked Sendable {
    public let runDate: CivilDate
    /// The digest of the rules the values were computed with.
    public let ruleDigest: String
    public let valueIDs: [String]
    /// Per value: kinds and two words per entity (household index or person index).
    public var kinds: [[UInt8]]
    public var a: [[Int64]]
    public var b: [[Int64]]
    public let levels: [Level]

    init(runDate: CivilDate, ruleDigest: String, valueIDs: [String], levels: [Level], kinds: [[UInt8]], a: [[Int64]], b: [[Int64]]) {
        self.runDate = runDate; self.ruleDigest = ruleDigest; self.valueIDs = valueIDs; self.levels = levels
        self.kinds = kinds; self.a = a; self.b = b
    }

    public func value(_ index: Int, entity: Int) -> Val? {
        ValCoding.decode(kinds[index][entity], a[index][entity], b[index][entity])
    }

    static let stage = "profile"

    public func save(to store: StageStore) throws {
        var w = BlobWriter()
        w.putStrings("rule_digest", [ruleDigest])
        w.putStrings("values", valueIDs)
        w.putStrings("levels", levels.map(\.rawValue))
        for i in valueIDs.indices {
            w.put("v.\(i).kind", kinds[i])
            w.put("v.\(i).a", a[i])
            w.put("v.\(i).b", b[i])
        }
        try store.save(runDate: runDate, stage: HouseholdProfiles.stage, blobs: w)
    }

    public static func load(from store: StageStore, runDate: CivilDate) throws -> HouseholdProfiles {
        guard let r = try store.load(runDate: runDate, stage: stage) else {
            throw PipelineError.badInput(stage: "match", "no profiles for \(runDate)", hint: "run 'pfp stage profile --run-date \(runDate)' first")
        }
        let ids = try r.strings("values")
        let levels = try r.strings("levels").map { Level(rawValue: $0) ?? .household }
        var kinds: [[UInt8]] = [], a: [[Int64]] = [], b: [[Int64]] = []
        for i in ids.indices {
            kinds.append(try r.get("v.\(i).kind"))
            a.append(try r.get("v.\(i).a"))
            b.append(try r.get("v.\(i).b"))
        }
        return HouseholdProfiles(runDate: runDate, ruleDigest: try r.strings("rule_digest").first ?? "", valueIDs: ids, levels: levels, kinds: kinds, a: a, b: b)
    }
}

public struct ProfileStage {
    public init() {}

    /// Computes every value for every household, in parallel chunks of households.
    public func run(data: IngestResult, rules: RuleSet, console: Console) -> HouseholdProfiles {
        let values = rules.values
        let hCount = data.householdCount, pCount = data.personCount
        // Raw buffers: each chunk writes only its own households' and people's slots.
        let sizes = values.map { $0.level == .household ? hCount : pCount }
        let kp = sizes.map { n -> UnsafeMutableBufferPointer<UInt8> in let x = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: n); x.initialize(repeating: 0); return x }
        let ap = sizes.map { n -> UnsafeMutableBufferPointer<Int64> in let x = UnsafeMutableBufferPointer<Int64>.allocate(capacity: n); x.initialize(repeating: 0); return x }
        let bp = sizes.map { n -> UnsafeMutableBufferPointer<Int64> in let x = UnsafeMutableBufferPointer<Int64>.allocate(capacity: n); x.initialize(repeating: 0); return x }
        defer { for x in kp { x.deallocate() }; for x in ap { x.deallocate() }; for x in bp { x.deallocate() } }
        let chunk = 4096
        let chunks = (hCount + chunk - 1) / chunk
        Parallel.forEach(chunks) { c in
            let ctx = EvalContext(rules: rules, data: data)
            for h in (c * chunk)..<min(hCount, (c + 1) * chunk) {
                guard ctx.load(household: h) else { continue }
                for v in values {
                    if v.level == .household {
                        let (k, x, y) = ValCoding.encode(ctx.evaluate(v))
                        kp[v.index][h] = k; ap[v.index][h] = x; bp[v.index][h] = y
                    } else {
                        for s in 0..<ctx.memberCount {
                            let p = Int(ctx.members[s])
                            let (k, x, y) = ValCoding.encode(ctx.evaluate(v, slot: s))
                            kp[v.index][p] = k; ap[v.index][p] = x; bp[v.index][p] = y
                        }
                    }
                }
            }
        }
        let kinds = kp.map { Array($0) }, a = ap.map { Array($0) }, b = bp.map { Array($0) }
        return HouseholdProfiles(runDate: data.runDate, ruleDigest: rules.digest, valueIDs: values.map(\.id), levels: values.map(\.level),
                                 kinds: kinds, a: a, b: b)
    }
}
