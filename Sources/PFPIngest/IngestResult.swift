import Foundation
import PFPCore
import PFPSchema

/// What the ingest stage hands to the profile stage: accepted people grouped in
/// households, and every tag resolved per person.
public final class IngestResult: @unchecked Sendable {
    public var runDate: CivilDate
    /// People in household order (household id, then ID number).
    public var personID: Column<UInt64> = []
    public var birth: Column<Int32> = []
    public var male: Column<UInt8> = []
    public var relation: Column<UInt8> = []
    public var hukou: Column<UInt8> = []
    public var district: Column<Int32> = []
    public var street: Column<Int32> = []
    public var community: Column<Int64> = []
    /// 0 for a person who died on or before the run date: not a member of any household.
    public var member: Column<UInt8> = []
    /// Index into `householdIDs` for each person.
    public var household: Column<Int32> = []
    /// Household ids in byte order.
    public var householdIDs: [String] = []
    /// Persons of household h are `householdStart[h] ..< householdStart[h+1]`.
    public var householdStart: Column<Int32> = []
    /// One entry per catalogue tag.
    public var tags: [ResolvedTag] = []
    /// Tags of a required feed the operator allowed to be missing: unknown for everyone.
    public var tagUnavailable: Column<UInt8> = []
    /// The `as_of` of each used feed.
    public var feedAsOf: [String: CivilDate] = [:]
    /// The outreach feed's accepted events, each once, in their order (empty
    /// without the feed).
    public var outreach: [OutreachEvent] = []

    /// The stored result's file when its columns are read in place.
    private var mapping: MappedFile?

    public init(runDate: CivilDate) { self.runDate = runDate }

    /// Lets the pages of the columns read in place go from the resident set until
    /// they are read again (from the page cache): after a phase that read many of
    /// them, before one that reads few.
    public func dropResidentPages() { mapping?.dropResidentPages() }

    /// What the rule engine reads of the households (the arrays shared, not copied).
    public var households: Households {
        Households(
            personID: personID, birth: birth, male: male, relation: relation, hukou: hukou, living: member,
            household: household, householdIDs: householdIDs, householdStart: householdStart, tags: tags,
            tagUnavailable: tagUnavailable)
    }

    public var personCount: Int { personID.count }
    public var householdCount: Int { householdIDs.count }

    /// Households with at least one living member.
    public var livingHouseholdCount: Int {
        var n = 0
        for h in 0..<householdCount {
            let r = Int(householdStart[h])..<Int(householdStart[h + 1])
            if r.contains(where: { member[$0] != 0 }) { n += 1 }
        }
        return n
    }

    // MARK: persistence (stage result in the database, one blob per column)

    public static let stage = "ingest"

    public func save(to store: StageStore) throws {
        try store.save(runDate: runDate, stage: IngestResult.stage, blobs: blobs())
    }

    /// What `save` writes; the arrays are shared, not copied (nothing changes an
    /// ingest result once made).
    public func blobs() -> BlobWriter {
        var w = BlobWriter()
        w.put("person_id", personID)
        w.put("birth", birth)
        w.put("male", male)
        w.put("relation", relation)
        w.put("hukou", hukou)
        w.put("district", district)
        w.put("street", street)
        w.put("community", community)
        w.put("member", member)
        w.put("household", household)
        w.putStrings("household_ids", householdIDs)
        w.put("household_start", householdStart)
        w.put("tag_unavailable", tagUnavailable)
        w.putStrings("feed_as_of", feedAsOf.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
        w.putStrings("outreach.household", outreach.map(\.household))
        w.put("outreach.person", outreach.map(\.person))
        w.putStrings("outreach.policy", outreach.map(\.policy))
        w.put("outreach.outcome", outreach.map(\.outcome.rawValue))
        w.put("outreach.channel", outreach.map(\.channel.rawValue))
        w.put("outreach.date", outreach.map(\.date))
        w.put("tag_count", [Int32(tags.count)])
        for (i, t) in tags.enumerated() {
            w.put("tag.\(i).person", t.person)
            w.put("tag.\(i).value", t.value)
            w.put("tag.\(i).as_of", t.asOf)
            w.put("tag.\(i).conflict", t.conflict)
        }
        return w
    }

    public static func load(from store: StageStore, runDate: CivilDate) throws -> IngestResult {
        guard let r = try store.load(runDate: runDate, stage: stage) else {
            throw PipelineError.badInput(
                stage: "profile", "no ingest result for \(runDate)",
                hint: "run 'pfp stage ingest --run-date \(runDate)' first")
        }
        let res = IngestResult(runDate: runDate)
        if r.itemsAligned { res.mapping = r.mapping as? MappedFile }
        res.personID = try r.column("person_id")
        res.birth = try r.column("birth")
        res.male = try r.column("male")
        res.relation = try r.column("relation")
        res.hukou = try r.column("hukou")
        res.district = try r.column("district")
        res.street = try r.column("street")
        res.community = try r.column("community")
        res.member = try r.column("member")
        res.household = try r.column("household")
        res.householdIDs = try r.strings("household_ids")
        res.householdStart = try r.column("household_start")
        res.tagUnavailable = try r.column("tag_unavailable")
        for s in try r.strings("feed_as_of") {
            let parts = s.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2, let d = CivilDate.parse(parts[1]) { res.feedAsOf[parts[0]] = d }
        }
        if r.has("outreach.household") {
            let households = try r.strings("outreach.household")
            let persons: [UInt64] = try r.get("outreach.person"), policies = try r.strings("outreach.policy")
            let outcomes: [UInt8] = try r.get("outreach.outcome"), channels: [UInt8] = try r.get("outreach.channel")
            let dates: [Int32] = try r.get("outreach.date")
            res.outreach = try households.indices.map { i in
                guard let o = Outcome(rawValue: outcomes[i]), let c = Channel(rawValue: channels[i]) else {
                    throw PipelineError.failure(
                        stage: "profile", "the stored ingest result of \(runDate) has an outreach event it cannot read",
                        hint: "run 'pfp stage ingest --run-date \(runDate)' again")
                }
                return OutreachEvent(
                    household: households[i], person: persons[i], policy: policies[i], outcome: o, channel: c,
                    date: dates[i])
            }
        }
        let n: [Int32] = try r.get("tag_count")
        for i in 0..<Int(n.first ?? 0) {
            res.tags.append(
                ResolvedTag(
                    person: try r.column("tag.\(i).person"), value: try r.column("tag.\(i).value"),
                    asOf: try r.column("tag.\(i).as_of"), conflict: try r.column("tag.\(i).conflict")))
        }
        return res
    }
}
