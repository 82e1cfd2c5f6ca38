import Foundation
import PFPCore
import PFPSchema
import PFPFormats
import PFPIngest
import PFPRules
import PFPProfile

/// The explanation of one list entry (explain.jsonl and `pfp explain`): enough to
/// reproduce the decision. Compact tuples keep city-scale files small:
///
///     "members":    [person_id, ...]                        (the people read, once)
///     "tags":       [member, tag, value, feed, as_of | "absent" | "conflict" | "unavailable"]
///     "values":     [name, member or null, value]           (derived values of the rule files)
///     "parameters": [id, value, effective_from]
///     "criteria" / "reasons": {code: "true" | "false" | "unknown"}
///
/// Written straight into bytes: at city scale there are millions of them.
public enum Explanation {
    /// The people an explanation names, each once, in the order the trace first
    /// read them (tags, then values); tags and values name them by position.
    public static func members(_ tracer: Tracer) -> [UInt64] {
        var people: [UInt64] = []
        for r in tracer.tagReads where !people.contains(r.person) { people.append(r.person) }
        for v in tracer.valuesRead where v.person != 0 && !people.contains(v.person) { people.append(v.person) }
        return people
    }

    /// `listJSON`, `policyJSON`: the names as JSON strings (ExplainFragments);
    /// `policyJSON` nil for a household list, whose codes are `triggers` or reasons.
    public static func bytes(
        listJSON: UnsafeBufferPointer<UInt8>, triggers: Bool, householdID: String, personID: String,
        policyJSON: UnsafeBufferPointer<UInt8>?, certainty: Certainty, amount: Int?,
        codes: [String], status: String, criteria: [(code: String, value: Val)], reasons: [(code: String, value: Val)],
        outreach: OutreachNote? = nil, tracer: Tracer, ctx: EvalContext, fragments: ExplainFragments,
        into w: ByteWriter
    ) {
        w.raw("{\"list\":"); w.append(listJSON)
        w.raw(",\"household_id\":"); w.string(householdID)
        if let policyJSON {
            w.raw(",\"person_id\":"); w.string(personID)
            w.raw(",\"policy\":"); w.append(policyJSON)
            w.raw(",\"decision\":{\"certainty\":"); w.string(certainty.text)
            w.raw(",\"amount\":"); if let amount { w.int(amount) } else { w.raw("null") }
            w.raw(certainty == .notEligible ? ",\"failed_criteria\":" : ",\"unknown_facts\":")
            w.strings(codes)
            if !status.isEmpty { w.raw(",\"status\":"); w.string(status) }
            w.raw("},\"criteria\":")
            w.truthMap(criteria)
        } else {
            let name = triggers ? "triggers" : "reasons"
            w.raw(",\"decision\":{\""); w.rawString(name); w.raw("\":"); w.strings(codes)
            w.raw("},\"reasons\":")
            w.truthMap(reasons)
        }
        if let outreach { outreach.write(into: w) }
        // People are listed once; tags and values name them by their position.
        let people = Explanation.members(tracer)
        func who(_ key: UInt64) -> Int { people.firstIndex(of: key)! }
        w.raw(",\"members\":[")
        for (k, p) in people.enumerated() { if k > 0 { w.byte(UInt8(ascii: ",")) }; w.id(p) }
        w.raw("],\"tags\":[")
        for (k, r) in tracer.tagReads.enumerated() {
            if k > 0 { w.byte(UInt8(ascii: ",")) }
            let t = Int(r.tag)
            w.byte(UInt8(ascii: "[")); w.int(who(r.person)); w.append(fragments.tagName(t))
            w.value(r.state == .delivered || r.state == .absent ? r.value : .unknownNoFacts, ctx: ctx, tag: t)
            w.append(fragments.tagFeed(t))
            switch r.state {
            case .delivered: w.date(r.asOf)
            case .absent: w.raw("\"absent\"")
            case .conflict: w.raw("\"conflict\"")
            case .unavailable: w.raw("\"unavailable\"")
            }
            w.byte(UInt8(ascii: "]"))
        }
        w.raw("],\"values\":[")
        for (k, v) in tracer.valuesRead.enumerated() {
            if k > 0 { w.byte(UInt8(ascii: ",")) }
            w.byte(UInt8(ascii: "["))
            w.append(v.value >= 0 ? fragments.valueName(Int(v.value)) : fragments.rememberedLabel(Int(-1 - v.value)))
            w.byte(UInt8(ascii: ","))
            if v.person == 0 { w.raw("null") } else { w.int(who(v.person)) }
            w.byte(UInt8(ascii: ","))
            w.value(v.result, ctx: ctx, tag: nil)
            w.byte(UInt8(ascii: "]"))
        }
        w.raw("],\"parameters\":[")
        for (k, rank) in tracer.parameters.sorted().enumerated() {
            if k > 0 { w.byte(UInt8(ascii: ",")) }
            w.append(fragments.parameter(rank))
        }
        w.raw("],\"run_date\":"); w.append(fragments.runDateJSON)
        w.raw("}")
    }
}

/// What an explanation shows besides its decision, as values: the members it
/// names, every tag read, value computed and parameter used. `pfp explain` prints
/// its text from these; the match stage writes the same content as JSON bytes
/// (`Explanation.bytes`), in the same order.
public struct ExplanationReads {
    /// A tag read: the member's position in `members`, the tag, its value as text,
    /// its feed, and its date (`as of …`) or why it has none (absent, conflict, unavailable).
    public struct TagRead { public var member: Int, tag: String, value: String, feed: String, asOf: String }
    /// A value computed: its name, the member's position (nil: the household), its value as text.
    public struct ValueRead { public var name: String, member: Int?, value: String }
    /// A parameter used: its id, its value on the run date and the date that value took effect.
    public struct ParameterRead { public var id: String, value: String, from: CivilDate? }

    public var members: [UInt64] = []
    public var tags: [TagRead] = []
    public var values: [ValueRead] = []
    public var parameters: [ParameterRead] = []

    /// `tags`: false leaves the tags read out (a what-if compares values and parameters only).
    public init(tracer: Tracer, ctx: EvalContext, tags readTags: Bool = true) {
        let rules = ctx.rules
        members = Explanation.members(tracer)
        let people = members
        func who(_ key: UInt64) -> Int { people.firstIndex(of: key)! }
        if readTags {
            tags = tracer.tagReads.map { r in
                let t = Int(r.tag), def = rules.catalogue.tags[t]
                let value = ctx.describe(
                    r.state == .delivered || r.state == .absent ? r.value : .unknownNoFacts, tag: t)
                let asOf: String
                switch r.state {
                case .delivered: asOf = "as of \(CivilDate(days: r.asOf))"
                case .absent: asOf = "absent"
                case .conflict: asOf = "conflict"
                case .unavailable: asOf = "unavailable"
                }
                return TagRead(member: who(r.person), tag: def.name, value: value, feed: def.feed, asOf: asOf)
            }
        }
        values = tracer.valuesRead.map { v in
            let name = v.value >= 0 ? rules.values[Int(v.value)].id : rules.remembered[Int(-1 - v.value)].label
            return ValueRead(name: name, member: v.person == 0 ? nil : who(v.person), value: ctx.describe(v.result))
        }
        parameters = tracer.parameters.sorted().map { rank in
            let id = rules.parameterIDs[Int(rank)], p = rules.parameters[id]!
            let value =
                p.isTable
                ? p.bands.map { "\($0.key): \($0.value)" }.joined(separator: ", ") : (p.value?.description ?? "none")
            return ParameterRead(id: id, value: value, from: p.from)
        }
    }
}

/// An entry's deciding outreach event as its explanation shows it (outreach.md):
///
///     "outreach": {"outcome", "event_date", "channel", "held_back": true|false,
///                  "until": date or null, "parameter": [id, days, effective_from] or null}
public struct OutreachNote: Sendable {
    public var event: OutreachEvent
    /// Whether the event holds the entry back on the run date (the entry is on the held list).
    public var heldBack: Bool
    /// The first run date the entry may return; nil for an outcome that never holds back.
    public var until: CivilDate?
    public var cooling: OutreachRules.Cooling?

    public init(event: OutreachEvent, heldBack: Bool, rules: OutreachRules) {
        self.event = event
        self.heldBack = heldBack
        until = rules.until(event)
        cooling = rules.cooling[Int(event.outcome.rawValue)]
    }

    func write(into w: ByteWriter) {
        w.raw(",\"outreach\":{\"outcome\":"); w.string(event.outcome.code)
        w.raw(",\"event_date\":"); w.date(event.date)
        w.raw(",\"channel\":"); w.string(event.channel.code)
        w.raw(heldBack ? ",\"held_back\":true" : ",\"held_back\":false")
        w.raw(",\"until\":"); if let until { w.date(until.days) } else { w.raw("null") }
        w.raw(",\"parameter\":")
        if let c = cooling, let days = c.days {
            w.raw("["); w.string(c.parameter); w.raw(","); w.int(days); w.raw(",")
            if let from = c.from { w.date(from.days) } else { w.raw("null") }
            w.raw("]")
        } else {
            w.raw("null")
        }
        w.raw("}")
    }
}
