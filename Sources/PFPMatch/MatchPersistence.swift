import Foundation
import PFPCore
import PFPFormats
import PFPRules

/// The match stage's result kept in the database, so `pfp stage emit` can publish again.
public extension MatchResult {
    static let stage = "match"

    /// The result as it is stored: the entries' columns, counts and the explanations' file.
    func blobs() -> BlobWriter {
        var w = BlobWriter()
        // The text columns (strings joined with NUL, as `BlobWriter.putStrings`
        // writes them), each encoded on its own (in parallel) as bytes, straight from
        // the entries: names from per-run pieces, ID numbers as their digits.
        let entries = self.entries
        let names = ["list", "household_id", "person_id", "policy", "certainty", "status", "codes"]
        let listText = listIDs.map { Array($0.utf8) }, policyText = policyIDs.map { Array($0.utf8) }
        var encoded = [[UInt8]](repeating: [], count: names.count)
        encoded.withUnsafeMutableBufferPointer { out in
            entries.withUnsafeBufferPointer { e in
                Parallel.forEach(names.count) { i in
                    out[i] = MatchResult.joined(e.count) { k, w in
                        let x = e[k]
                        switch i {
                        case 0: listText[Int(x.list)].withUnsafeBufferPointer { w.append($0) }
                        case 1: w.rawString(householdIDs[Int(x.household)])
                        case 2: if x.personKey != 0 { w.idDigits(x.personKey) }
                        case 3: if x.policy >= 0 { policyText[Int(x.policy)].withUnsafeBufferPointer { w.append($0) } }
                        case 4:
                            PublishedEntry.certaintyUTF8[Int(x.certainty.rawValue)].withUnsafeBufferPointer {
                                w.append($0)
                            }
                        case 5:
                            PublishedEntry.statusUTF8[Int(x.status.rawValue)].withUnsafeBufferPointer { w.append($0) }
                        default:
                            for c in 0..<Int(x.codeCount) {
                                if c > 0 { w.byte(UInt8(ascii: ";")) }
                                w.rawString(codes[Int(x.codeStart) + c])
                            }
                        }
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
        w.put("outcome", entries.map(\.outcome))
        w.put("outcome_date", entries.map(\.outcomeDate))
        w.put("until", entries.map(\.until))
        w.put("counts", [Int64(households), Int64(people)])
        w.putStrings(
            "outreach_events",
            outreach.events.keys.sorted().map { k in
                k + "=" + outreach.events[k]!.map(String.init).joined(separator: " ")
            })
        w.putStrings(
            "outreach_granted_receiving",
            outreach.grantedReceiving.keys.sorted().map { "\($0)=\(outreach.grantedReceiving[$0]!)" })
        w.put("explain", BlobWriter.joined(2) { $0 == 0 ? explainPath ?? "" : explainSHA })
        w.put("explain_counts", [Int64(explainRows), Int64(explainBytes)])
        return w
    }

    /// `count` fields joined with NUL (the encoding of `BlobWriter.putStrings`),
    /// each written by `field` as bytes.
    internal static func joined(_ count: Int, _ field: (Int, ByteWriter) -> Void) -> [UInt8] {
        let w = ByteWriter(capacity: count * 12)
        for k in 0..<count {
            if k > 0 { w.byte(0) }
            field(k, w)
        }
        return w.out
    }

    static func load(from store: StageStore, runDate: CivilDate) throws -> MatchResult {
        guard let r = try store.load(runDate: runDate, stage: stage) else {
            throw PipelineError.badInput(
                stage: "emit", "no match result for \(runDate)",
                hint: "run 'pfp stage match --run-date \(runDate)' first")
        }
        let list = try r.strings("list"), hh = try r.strings("household_id"), person = try r.strings("person_id")
        let policy = try r.strings("policy"), certainty = try r.strings("certainty"), status = try r.strings("status")
        let codes = try r.strings("codes")
        let explain = try r.strings("explain"), explainCounts: [Int64] = try r.get("explain_counts")
        let amount: [Int64] = try r.get("amount"), district: [Int32] = try r.get("district"),
            street: [Int32] = try r.get("street")
        let community: [Int64] = try r.get("community"), counts: [Int64] = try r.get("counts")
        let n = amount.count
        // Results stored before schema version 2 have no outreach columns.
        let outcome: [UInt8] =
            r.has("outcome") ? try r.get("outcome") : .init(repeating: PublishedEntry.noOutcome, count: n)
        let outcomeDate: [Int32] = r.has("outcome_date") ? try r.get("outcome_date") : .init(repeating: 0, count: n)
        let until: [Int32] = r.has("until") ? try r.get("until") : .init(repeating: 0, count: n)
        guard
            [
                list.count, hh.count, person.count, policy.count, certainty.count, status.count, codes.count,
                district.count, street.count, community.count, outcome.count, outcomeDate.count, until.count,
            ]
            .allSatisfy({ $0 == n || n == 0 })
        else { throw r.damaged("entries") }
        // Names back to numbers: lists and policies by first appearance, one household slot per entry.
        var listIDs: [String] = [], policyIDs: [String] = [], codeStore: [String] = []
        var listIndex: [String: Int32] = [:], policyIndex: [String: Int32] = [:]
        var entries: [PublishedEntry] = []
        entries.reserveCapacity(n)
        for i in 0..<n {
            let l =
                listIndex[list[i]]
                ?? {
                    listIDs.append(list[i]); listIndex[list[i]] = Int32(listIDs.count - 1);
                    return Int32(listIDs.count - 1)
                }()
            var p: Int32 = -1
            if !policy[i].isEmpty {
                p =
                    policyIndex[policy[i]]
                    ?? {
                        policyIDs.append(policy[i]); policyIndex[policy[i]] = Int32(policyIDs.count - 1);
                        return Int32(policyIDs.count - 1)
                    }()
            }
            var key: UInt64 = 0
            if !person[i].isEmpty {
                guard let id = IDNumber(stored: person[i]) else { throw r.damaged("person_id") }
                key = id.key
            }
            let start = Int32(codeStore.count)
            if !codes[i].isEmpty { codeStore.append(contentsOf: codes[i].split(separator: ";").map(String.init)) }
            entries.append(
                PublishedEntry(
                    list: l, household: Int32(i), policy: p, certainty: .init(text: certainty[i]),
                    status: .init(text: status[i]),
                    personKey: key, amountValue: amount[i], codeStart: start, codeCount: Int32(codeStore.count) - start,
                    district: district[i], street: street[i], community: community[i], outcome: outcome[i],
                    outcomeDate: outcomeDate[i], until: until[i]))
        }
        var m = MatchResult(
            entries: entries, listIDs: listIDs, householdIDs: hh, policyIDs: policyIDs, codes: codeStore,
            state: RunState(runDate: runDate), households: Int(counts[0]), people: Int(counts[1]))
        if r.has("outreach_events") {
            for line in try r.strings("outreach_events") where !line.isEmpty {
                let kv = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard kv.count == 2 else { throw r.damaged("outreach_events") }
                m.outreach.events[String(kv[0])] = kv[1].split(separator: " ").compactMap { Int($0) }
            }
            for line in try r.strings("outreach_granted_receiving") where !line.isEmpty {
                let kv = line.split(separator: "=", maxSplits: 1)
                guard kv.count == 2, let n = Int(kv[1]) else { throw r.damaged("outreach_granted_receiving") }
                m.outreach.grantedReceiving[String(kv[0])] = n
            }
        }
        if let p = explain.first, !p.isEmpty {
            m.explainPath = p
            m.explainSHA = explain.count > 1 ? explain[1] : ""
            m.explainBytes = Int(explainCounts[1])
            m.explainRows = Int(explainCounts[0])
        }
        return m
    }
}
