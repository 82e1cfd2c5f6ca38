import Foundation
import PFPCore

/// The sample's outreach feed (outreach.md): events the advisers' case system
/// could have recorded about the entries of a first day's push list, written as
/// a full snapshot into each later day's inbox. About one event per two entries,
/// every outcome, event dates on and around every cooling-off boundary of the
/// later days, same-day ties, household-wide `do_not_contact`, and a few rows of
/// every reject reason. The cooling-off days come from the rule files
/// (`coolingDays`), so that the boundaries follow what a policy officer set.
package struct OutreachSample {
    /// A push entry of the first day: household id, person ID (empty for a
    /// household policy) and policy id.
    package struct Entry: Sendable {
        package var household: String
        package var person: String
        package var policy: String
        package init(household: String, person: String, policy: String) {
            self.household = household; self.person = person; self.policy = policy
        }
    }

    static let outcomes = [
        "attempted", "unreachable", "declined", "data_error", "applied", "granted", "denied", "do_not_contact",
    ]
    static let channels = ["phone", "visit", "message", "letter", "other"]
    static let notes = ["电话已接通", "上门走访", "短信已发送", "社区顾问回访", ""]

    let entries: [Entry]
    let coolingDays: [String: Int]
    let seed: UInt64

    package init(entries: [Entry], coolingDays: [String: Int], seed: UInt64) {
        self.entries = entries
        self.coolingDays = coolingDays
        self.seed = seed
    }

    /// The rows of the delivery for `runDate` (as of the day before), header first.
    package func rows(runDate: CivilDate) -> [String] {
        let asOf = runDate.adding(days: -1)
        var rng = SplitMix64(seed, 0x0_07E4_EAC4)
        var out = ["household_id,person_id,policy,outcome,channel,event_date,note"]
        func row(_ e: Entry, _ outcome: String, daysBefore: Int, person: String? = nil, policy: String? = nil) {
            let date = runDate.adding(days: -max(1, daysBefore))
            guard date <= asOf else { return }
            let channel = OutreachSample.channels[rng.below(OutreachSample.channels.count)]
            let note = OutreachSample.notes[rng.below(OutreachSample.notes.count)]
            out.append(
                "\(e.household),\(person ?? e.person),\(policy ?? e.policy),\(outcome),\(channel),\(date),\(note)")
        }
        var households: Set<String> = []
        for (k, e) in entries.enumerated() {
            guard rng.chance(50) else { continue }
            let outcome = OutreachSample.outcomes[k % OutreachSample.outcomes.count]
            if outcome == "do_not_contact" && !households.insert(e.household).inserted { continue }
            if outcome == "do_not_contact" && rng.chance(70) {
                row(e, outcome, daysBefore: rng.range(1, 40), person: "", policy: "")  // the whole household
                continue
            }
            let c = coolingDays[outcome] ?? 30
            // On and around the boundary (c - 1, c, c + 1 days before the run date), or anywhere within 2c.
            let daysBefore = [c - 1, c, c + 1, rng.range(1, 2 * c + 1)][rng.below(4)]
            row(e, outcome, daysBefore: daysBefore)
            if rng.chance(5) {  // a same-day tie with another outcome
                row(e, OutreachSample.outcomes[rng.below(OutreachSample.outcomes.count)], daysBefore: daysBefore)
            }
            if rng.chance(3) { row(e, "attempted", daysBefore: rng.range(1, 10)) }  // a later attempt
        }
        // A few rows of every reject reason, in the contract's order.
        if let e = entries.first {
            let d = asOf.description
            out += [
                "\(e.household),\(e.person),\(e.policy),declined,phone",  // malformed_row
                "\(e.household),\(e.person),\(e.policy),declined,,\(d),",  // missing_field
                "\(e.household),123,\(e.policy),declined,phone,\(d),",  // bad_id
                "\(e.household),\(e.person),\(e.policy),declined,phone,2026-02-30,",  // bad_date
                "\(e.household),\(e.person),\(e.policy),declined,phone,\(runDate.adding(days: 30)),",  // future_as_of
                "\(e.household),\(e.person),\(e.policy),refused,phone,\(d),",  // unknown_enum
                "H_0!,\(e.person),\(e.policy),declined,phone,\(d),",  // bad_household_id
                // bad_value: a person for a household policy, or none for a person policy
                "\(e.household),\(e.person.isEmpty ? "11010519491231002X" : ""),\(e.policy),declined,phone,\(d),",
            ]
        }
        return out
    }

    /// Writes `outreach.csv` and its manifest into the inbox of `runDate`.
    package func write(inbox: String, runDate: CivilDate) throws {
        let lines = rows(runDate: runDate)
        let bytes = Array((lines.joined(separator: "\n") + "\n").utf8)
        let sha = try FileIO.write((inbox as NSString).appendingPathComponent("outreach.csv"), bytes)
        let manifest = JSON.object([
            ("feed", .string("outreach")),
            ("department", .string("assistance-advisers-case-system")),
            ("as_of", .string(runDate.adding(days: -1).description)),
            ("rows", .int(lines.count - 1)),
            ("sha256", .string(sha)),
            ("encoding", .string("utf-8")),
        ])
        _ = try FileIO.write(
            (inbox as NSString).appendingPathComponent("outreach.csv.manifest.json"),
            Array((manifest.serialized(pretty: true) + "\n").utf8))
    }
}
