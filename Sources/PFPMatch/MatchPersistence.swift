import Foundation
import PFPCore

/// The match stage's result kept in the database, so `pfp stage emit` can publish again.
public extension MatchResult {
    static let stage = "match"

    /// The result as it is stored: the entries' columns, counts and the explanations' file.
    func blobs() -> BlobWriter {
        var w = BlobWriter()
        // The text columns, each encoded on its own (in parallel), straight from the entries.
        let entries = self.entries
        let names = ["list", "household_id", "person_id", "policy", "certainty", "status", "codes"]
        var encoded = [[UInt8]](repeating: [], count: names.count)
        encoded.withUnsafeMutableBufferPointer { out in
            entries.withUnsafeBufferPointer { e in
                Parallel.forEach(names.count) { i in
                    switch i {
                    case 0: out[i] = BlobWriter.joined(e.count) { listIDs[Int(e[$0].list)] }
                    case 1: out[i] = BlobWriter.joined(e.count) { householdIDs[Int(e[$0].household)] }
                    case 2: out[i] = BlobWriter.joined(e.count) { personID(e[$0]) }
                    case 3: out[i] = BlobWriter.joined(e.count) { policy(e[$0]) }
                    case 4: out[i] = BlobWriter.joined(e.count) { e[$0].certainty.text }
                    case 5: out[i] = BlobWriter.joined(e.count) { e[$0].status.text }
                    default: out[i] = BlobWriter.joined(e.count) { e[$0].codeCount == 1 ? codes[Int(e[$0].codeStart)] : codes(e[$0]).joined(separator: ";") }
                    }
                }
            }
        }
        for i in 0..<5 { w.put(names[i], encoded[i]) }
        w.put("amount", entries.map(\.amountValue))
        w.put(names[5], encoded[5])
        w.put(names[6], encoded[6])
        w.put("district", entries.map(\.district))
        w.put("street", entries.map(\.street))
        w.put("community", entries.map(\.community))
        w.put("counts", [Int64(households), Int64(people)])
        w.put("explain", BlobWriter.joined(2) { $0 == 0 ? explainPath ?? "" : explainSHA })
        w.put("explain_counts", [Int64(explainRows), Int64(explainBytes)])
        return w
    }

    static func load(from store: StageStore, runDate: CivilDate) throws -> MatchResult {
        guard let r = try store.load(runDate: runDate, stage: stage) else {
            throw PipelineError.badInput(stage: "emit", "no match result for \(runDate)", hint: "run 'pfp stage match --run-date \(runDate)' first")
        }
        let list = try r.strings("list"), hh = try r.strings("household_id"), person = try r.strings("person_id")
        let policy = try r.strings("policy"), certainty = try r.strings("certainty"), status = try r.strings("status")
        let codes = try r.strings("codes")
        let explain = try r.strings("explain"), explainCounts: [Int64] = try r.get("explain_counts")
        let amount: [Int64] = try r.get("amount"), district: [Int32] = try r.get("district"), street: [Int32] = try r.get("street")
        let community: [Int64] = try r.get("community"), counts: [Int64] = try r.get("counts")
        let n = amount.count
        guard [list.count, hh.count, person.count, policy.count, certainty.count, status.count, codes.count, district.count, street.count, community.count]
                .allSatisfy({ $0 == n || n == 0 }) else { throw r.damaged("entries") }
        // Names back to numbers: lists and policies by first appearance, one household slot per entry.
        var listIDs: [String] = [], policyIDs: [String] = [], codeStore: [String] = []
        var listIndex: [String: Int32] = [:], policyIndex: [String: Int32] = [:]
        var entries: [PublishedEntry] = []
        entries.reserveCapacity(n)
        for i in 0..<n {
            let l = listIndex[list[i]] ?? { listIDs.append(list[i]); listIndex[list[i]] = Int32(listIDs.count - 1); return Int32(listIDs.count - 1) }()
            var p: Int32 = -1
            if !policy[i].isEmpty {
                p = policyIndex[policy[i]] ?? { policyIDs.append(policy[i]); policyIndex[policy[i]] = Int32(policyIDs.count - 1); return Int32(policyIDs.count - 1) }()
            }
            var key: UInt64 = 0
            if !person[i].isEmpty {
                guard let id = IDNumber(stored: person[i]) else { throw r.damaged("person_id") }
                key = id.key
            }
            let start = Int32(codeStore.count)
            if !codes[i].isEmpty { codeStore.append(contentsOf: codes[i].split(separator: ";").map(String.init)) }
            entries.append(PublishedEntry(list: l, household: Int32(i), policy: p, certainty: .init(text: certainty[i]), status: .init(text: status[i]),
                                          personKey: key, amountValue: amount[i], codeStart: start, codeCount: Int32(codeStore.count) - start,
                                          district: district[i], street: street[i], community: community[i]))
        }
        var m = MatchResult(entries: entries, listIDs: listIDs, householdIDs: hh, policyIDs: policyIDs, codes: codeStore,
                            state: RunState(runDate: runDate), households: Int(counts[0]), people: Int(counts[1]))
        if let p = explain.first, !p.isEmpty {
            m.explainPath = p
            m.explainSHA = explain.count > 1 ? explain[1] : ""
            m.explainBytes = Int(explainCounts[1])
            m.explainRows = Int(explainCounts[0])
        }
        return m
    }
}
