import Foundation
import PFPCore

/// The match stage's result kept in the database, so `pfp stage emit` can publish again.
public extension MatchResult {
    static let stage = "match"

    func save(to store: StageStore, runDate: CivilDate) throws {
        var w = BlobWriter()
        w.putStrings("list", entries.map(\.list))
        w.putStrings("household_id", entries.map(\.householdID))
        w.putStrings("person_id", entries.map(\.personID))
        w.putStrings("policy", entries.map(\.policy))
        w.putStrings("certainty", entries.map(\.certainty))
        w.put("amount", entries.map { Int64($0.amount ?? Int.min) })
        w.putStrings("status", entries.map(\.status))
        w.putStrings("codes", entries.map { $0.codes.joined(separator: ";") })
        w.put("district", entries.map(\.district))
        w.put("street", entries.map(\.street))
        w.put("community", entries.map(\.community))
        var joined: [UInt8] = []
        joined.reserveCapacity(entries.reduce(0) { $0 + $1.explanation.count })
        for e in entries { joined.append(contentsOf: e.explanation) }
        w.put("explanation", joined)
        w.put("explanation_length", entries.map { Int32($0.explanation.count) })
        w.put("counts", [Int64(households), Int64(people)])
        try store.save(runDate: runDate, stage: MatchResult.stage, blobs: w)
    }

    static func load(from store: StageStore, runDate: CivilDate) throws -> MatchResult {
        guard let r = try store.load(runDate: runDate, stage: stage) else {
            throw PipelineError.badInput(stage: "emit", "no match result for \(runDate)", hint: "run 'pfp stage match --run-date \(runDate)' first")
        }
        let list = try r.strings("list"), hh = try r.strings("household_id"), person = try r.strings("person_id")
        let policy = try r.strings("policy"), certainty = try r.strings("certainty"), status = try r.strings("status")
        let codes = try r.strings("codes")
        let joined: [UInt8] = try r.get("explanation"), lengths: [Int32] = try r.get("explanation_length")
        let amount: [Int64] = try r.get("amount"), district: [Int32] = try r.get("district"), street: [Int32] = try r.get("street")
        let community: [Int64] = try r.get("community"), counts: [Int64] = try r.get("counts")
        let n = amount.count
        var entries: [PublishedEntry] = []
        entries.reserveCapacity(n)
        var at = 0
        for i in 0..<n {
            let explanation = Array(joined[at..<(at + Int(lengths[i]))])
            at += Int(lengths[i])
            entries.append(PublishedEntry(list: list[i], householdID: hh[i], personID: person[i], policy: policy[i], certainty: certainty[i],
                                          amount: amount[i] == Int64(Int.min) ? nil : Int(amount[i]), status: status[i],
                                          codes: codes[i].isEmpty ? [] : codes[i].split(separator: ";").map(String.init),
                                          district: district[i], street: street[i], community: community[i], explanation: explanation))
        }
        return MatchResult(entries: entries, state: RunState(runDate: runDate), households: Int(counts[0]), people: Int(counts[1]))
    }
}
