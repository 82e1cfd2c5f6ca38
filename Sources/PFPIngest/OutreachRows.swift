import PFPCore
import PFPSchema

/// Parses the outreach feed (outreach.md) in parallel chunks: the accepted events,
/// each once, in their order (`OutreachEvent <`), and the rejects. A row gets the
/// first reason that applies, in the contract's order: malformed_row,
/// missing_field, bad_id, bad_date, future_as_of, unknown_enum, bad_household_id,
/// bad_value.
func parseOutreach(
    _ file: FeedFile, policies: PolicyCatalogue
) -> (events: [OutreachEvent], rejects: [Reject], warnings: [String: Int]) {
    let cols = file.columns
    let cHH = cols["household_id"]!, cPerson = cols["person_id"]!, cPolicy = cols["policy"]!
    let cOutcome = cols["outcome"]!, cChannel = cols["channel"]!, cDate = cols["event_date"]!
    let deliveryAsOf = file.manifest.asOf.days
    let policyLookup = ByteKeyTable(policies.policies.map(\.id))
    let personPolicy = policies.policies.map { $0.level == .person }
    let outcomes = ByteKeyTable(Outcome.allCases.map(\.code))
    let channels = ByteKeyTable(Channel.allCases.map(\.code))
    let parts = file.parseChunks { text, records, _ -> ([OutreachEvent], [Reject], Int) in
        var fields: [CSVField] = []
        var events: [OutreachEvent] = []
        var rejects: [Reject] = []
        var upgraded = 0
        while let info = records.next(&fields) {
            let ln = Int32(info.line)
            func reject(_ r: RejectReason) { rejects.append(Reject(line: ln, reason: r)) }
            guard info.wellFormed else { reject(.malformedRow); continue }
            func empty(_ c: Int) -> Bool { fields[c].end == fields[c].start }
            let outcome = withField(text, fields[cOutcome]) { outcomes.find($0) }
            let householdWide = outcome == Int(Outcome.doNotContact.rawValue)
            if empty(cHH) || empty(cOutcome) || empty(cChannel) || empty(cDate)
                || (empty(cPolicy) && !householdWide)
            {
                reject(.missingField); continue
            }
            var person: UInt64 = 0
            if !empty(cPerson) {
                guard
                    case .valid(let id, let up) = withField(
                        text, fields[cPerson], { IDNumber.parse($0) })
                else { reject(.badID); continue }
                person = id.key
                if up { upgraded += 1 }
            }
            guard let date = withField(text, fields[cDate], { CivilDate.parse($0) }) else {
                reject(.badDate); continue
            }
            if date.days > deliveryAsOf { reject(.futureAsOf); continue }
            let channel = withField(text, fields[cChannel]) { channels.find($0) }
            let policy =
                empty(cPolicy) ? -1 : withField(text, fields[cPolicy]) { policyLookup.find($0) }
            if outcome < 0 || channel < 0 || (!empty(cPolicy) && policy < 0) {
                reject(.unknownEnum); continue
            }
            guard let household = withField(text, fields[cHH], { householdID($0) }) else {
                reject(.badHouseholdID); continue
            }
            if policy >= 0 && personPolicy[policy] != (person != 0) { reject(.badValue); continue }
            events.append(
                OutreachEvent(
                    household: household, person: person,
                    policy: policy >= 0 ? policies.policies[policy].id : "",
                    outcome: Outcome(rawValue: UInt8(outcome))!,
                    channel: Channel(rawValue: UInt8(channel))!,
                    date: date.days))
        }
        return (events, rejects, upgraded)
    }
    let eventParts = parts.map(\.0), rejectParts = parts.map(\.1), upgradedParts = parts.map(\.2)
    // The same event delivered twice counts once.
    var events = eventParts.flatMap { $0 }
    events.sort()
    var unique: [OutreachEvent] = []
    unique.reserveCapacity(events.count)
    for e in events where unique.last != e { unique.append(e) }
    var warnings: [String: Int] = [:]
    let up = upgradedParts.reduce(0, +)
    if up > 0 { warnings["id_upgraded_15_to_18"] = up }
    return (unique, rejectParts.flatMap { $0 }, warnings)
}

/// A household id's text when it keeps the contract's format (1 to 32 characters
/// of `A-Z a-z 0-9 -`), else nil.
func householdID(_ b: UnsafeRawBufferPointer) -> String? {
    guard b.count >= 1, b.count <= 32 else { return nil }
    for ch in b {
        guard
            (ch >= UInt8(ascii: "0") && ch <= UInt8(ascii: "9")) || (ch >= UInt8(ascii: "A") && ch <= UInt8(ascii: "Z"))
                || (ch >= UInt8(ascii: "a") && ch <= UInt8(ascii: "z")) || ch == UInt8(ascii: "-")
        else { return nil }
    }
    return String(decoding: b, as: UTF8.self)
}
