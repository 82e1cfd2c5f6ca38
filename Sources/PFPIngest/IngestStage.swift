import Foundation
import PFPCore

/// The ingest stage's whole outcome: the resolved data and what was refused, per feed.
public struct IngestOutcome {
    public var result: IngestResult
    public var reports: [FeedReport]
    /// Every rejected record: (feed, line, reason), sorted by feed then line.
    public var rejects: [(feed: String, reject: Reject)]
    /// Tags whose latest rows disagree, per feed and tag.
    public var conflicts: [String: Int]
}

/// Reads a delivery exactly as shared/spec/feeds.md says.
public struct IngestStage {
    public var config: PipelineConfig
    public var catalogue: TagCatalogue
    public var console: Console

    public init(config: PipelineConfig, catalogue: TagCatalogue, console: Console) {
        self.config = config
        self.catalogue = catalogue
        self.console = console
    }

    public func run(inbox: String, runDate: CivilDate, allowMissing: Set<String>) throws -> IngestOutcome {
        let t0 = FileIO.now()
        let check = try DeliveryCheck.run(inbox: inbox, config: config, catalogue: catalogue, runDate: runDate,
                                          allowMissing: allowMissing, console: console)
        if !check.problems.isEmpty {
            let lines = check.problems.map { "  - " + $0.description.replacingOccurrences(of: "\n", with: "\n    ") }
            throw PipelineError.badInput(stage: "ingest", location: inbox,
                                         "the delivery was refused:\n" + lines.joined(separator: "\n"),
                                         hint: "fix the feeds above, or run with --allow-missing FEED to go on without one (the policies that read it are skipped)")
        }
        var reports = check.reports
        let totalBytes = check.files.values.reduce(0) { $0 + $1.sizeBytes }
        console.progress("read and checked \(check.files.count) feeds, \(grouped(totalBytes / 1_000_000)) MB, in \(String(format: "%.2f", FileIO.now() - t0)) s")

        let result = IngestResult(runDate: runDate)
        var rejects: [(String, Reject)] = []

        // Population: per-record checks in parallel, then duplicates, then households.
        let popSpec = config.populationFeed
        let popFile = check.files[popSpec.name]!
        let rows = parsePopulation(popFile)
        var idCounts: [UInt64: Int] = [:]
        do {
            var valid = rows.compactMap { $0.id != 0 && $0.early != .malformedRow ? $0.id : nil }
            valid.sort()
            var i = 0
            while i < valid.count {
                var j = i + 1
                while j < valid.count && valid[j] == valid[i] { j += 1 }
                if j - i > 1 { idCounts[valid[i]] = j - i }
                i = j
            }
        }
        var popReport = reports[popSpec.name]!
        var accepted: [Int] = []
        accepted.reserveCapacity(rows.count)
        var sexMismatch = 0, birthMismatch = 0, upgraded = 0
        for (i, row) in rows.enumerated() {
            let reason: RejectReason? = row.early ?? (idCounts[row.id] != nil ? .duplicateID : row.late)
            if let reason {
                rejects.append((popSpec.name, Reject(line: row.line, reason: reason)))
                popReport.rejectCounts[reason, default: 0] += 1
            } else {
                accepted.append(i)
                if row.sexMismatch { sexMismatch += 1 }
                if row.birthMismatch { birthMismatch += 1 }
                if row.upgraded { upgraded += 1 }
            }
        }
        if sexMismatch > 0 { popReport.warnings["sex_differs_from_id"] = sexMismatch }
        if birthMismatch > 0 { popReport.warnings["birth_date_differs_from_id"] = birthMismatch }
        if upgraded > 0 { popReport.warnings["id_upgraded_15_to_18"] = upgraded }
        popReport.accepted = accepted.count
        popReport.rejected = rows.count - accepted.count
        reports[popSpec.name] = popReport
        if sexMismatch + birthMismatch > 0 {
            console.warn("population: \(sexMismatch) records give a sex and \(birthMismatch) a birth date that differ from their ID number; the ID's values are used")
        }
        assembleHouseholds(rows: rows, accepted: accepted, into: result)
        console.progress("population: \(grouped(accepted.count)) people in \(grouped(result.householdCount)) households accepted, \(grouped(rows.count - accepted.count)) rejected")

        // Tag feeds.
        let people = IDIndex(keys: result.personID)
        let lookup = ByteKeyTable(catalogue.tags.map(\.name))
        var observations: [[TagObservation]] = []
        for spec in config.feeds where spec.shape == .tags {
            guard let file = check.files[spec.name] else { continue }
            let (obs, rej, warnings) = parseTags(file, catalogue: catalogue, tagLookup: lookup, people: people)
            var rep = reports[spec.name]!
            for r in rej { rep.rejectCounts[r.reason, default: 0] += 1 }
            rep.accepted = obs.count
            rep.rejected = rej.count
            rep.warnings = warnings
            reports[spec.name] = rep
            rejects.append(contentsOf: rej.map { (spec.name, $0) })
            observations.append(obs)
            console.progress("\(spec.name): \(grouped(obs.count)) rows accepted, \(grouped(rej.count)) rejected")
        }
        for (name, rep) in reports where rep.used { result.feedAsOf[name] = rep.asOf }

        // Resolution: the latest as_of wins; disagreement on the same date is a conflict.
        let (resolved, conflictCounts) = resolve(observations, tagCount: catalogue.tags.count)
        result.tags = resolved
        var conflicts: [String: Int] = [:]
        for (t, n) in conflictCounts.enumerated() where n > 0 {
            let def = catalogue.tags[t]
            conflicts["\(def.feed)/\(def.name)"] = n
            reports[def.feed]?.conflicts += n
        }
        if !conflicts.isEmpty {
            console.warn("conflicts (same as_of, different values; the tag is unknown for the person): " +
                         conflicts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        result.tagUnavailable = catalogue.tags.map { def in
            let rep = reports[def.feed]
            return (rep?.required == true && rep?.status == .allowedMissing) ? 1 : 0
        }

        // Deceased members drop out of their households for this run.
        result.member = [UInt8](repeating: 1, count: result.personCount)
        if let dt = catalogue.index(of: config.deceasedTag) {
            let t = result.tags[dt]
            for i in 0..<t.person.count where t.conflict[i] == 0 && t.value[i] <= Int64(runDate.days) {
                result.member[Int(t.person[i])] = 0
            }
        }
        let deceased = result.member.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
        if deceased > 0 { console.progress("\(grouped(deceased)) people deceased on or before \(runDate): not members of any household") }

        let order = config.feeds.map(\.name)
        rejects.sort { a, b in
            if a.0 != b.0 { return order.firstIndex(of: a.0)! < order.firstIndex(of: b.0)! }
            return a.1.line < b.1.line
        }
        return IngestOutcome(result: result, reports: order.compactMap { reports[$0] }, rejects: rejects, conflicts: conflicts)
    }

    /// Groups accepted people by household id (byte order), then by ID number.
    func assembleHouseholds(rows: [PopulationRow], accepted: [Int], into result: IngestResult) {
        var hhIndex: [String: Int32] = [:]
        var hhNames: [String] = []
        var rowHH = [Int32](repeating: 0, count: accepted.count)
        for (k, i) in accepted.enumerated() {
            let name = rows[i].household
            if let h = hhIndex[name] { rowHH[k] = h } else {
                let h = Int32(hhNames.count)
                hhIndex[name] = h
                hhNames.append(name)
                rowHH[k] = h
            }
        }
        let sortedHH = hhNames.indices.sorted { hhNames[$0].utf8.lexicographicallyPrecedes(hhNames[$1].utf8) }
        var rank = [Int32](repeating: 0, count: hhNames.count)
        for (r, h) in sortedHH.enumerated() { rank[h] = Int32(r) }
        var order = Array(0..<accepted.count)
        order.sort { a, b in
            let ha = rank[Int(rowHH[a])], hb = rank[Int(rowHH[b])]
            if ha != hb { return ha < hb }
            return rows[accepted[a]].id < rows[accepted[b]].id
        }
        let n = order.count
        result.personID = order.map { rows[accepted[$0]].id }
        result.birth = order.map { rows[accepted[$0]].birth }
        result.male = order.map { rows[accepted[$0]].male ? 1 : 0 }
        result.relation = order.map { rows[accepted[$0]].relation }
        result.hukou = order.map { rows[accepted[$0]].hukou }
        result.district = order.map { rows[accepted[$0]].district }
        result.street = order.map { rows[accepted[$0]].street }
        result.community = order.map { rows[accepted[$0]].community }
        result.household = order.map { rank[Int(rowHH[$0])] }
        result.householdIDs = sortedHH.map { hhNames[$0] }
        var start = [Int32](repeating: 0, count: hhNames.count + 1)
        var p = 0
        for h in 0..<hhNames.count {
            start[h] = Int32(p)
            while p < n && result.household[p] == Int32(h) { p += 1 }
        }
        start[hhNames.count] = Int32(n)
        result.householdStart = start
    }

    /// Per tag: sort the observations by person and as_of; the latest wins, and
    /// different values on the latest date make the tag unknown (a conflict).
    func resolve(_ parts: [[TagObservation]], tagCount: Int) -> ([ResolvedTag], [Int]) {
        var byTag = [[TagObservation]](repeating: [], count: tagCount)
        for part in parts { for o in part { byTag[Int(o.tag)].append(o) } }
        var out = [ResolvedTag](repeating: ResolvedTag(), count: tagCount)
        var conflicts = [Int](repeating: 0, count: tagCount)
        out.withUnsafeMutableBufferPointer { outBuf in
            conflicts.withUnsafeMutableBufferPointer { confBuf in
                Parallel.forEach(tagCount) { t in
                    var obs = byTag[t]
                    obs.sort { ($0.person, $0.asOf) < ($1.person, $1.asOf) }
                    var r = ResolvedTag()
                    var i = 0
                    var nConf = 0
                    while i < obs.count {
                        var j = i + 1
                        while j < obs.count && obs[j].person == obs[i].person { j += 1 }
                        // rows i..<j are one person's, ascending as_of: the latest are at the end
                        let latest = obs[j - 1].asOf
                        var k = j - 1
                        var disagree = false
                        while k > i && obs[k - 1].asOf == latest {
                            if obs[k - 1].value != obs[j - 1].value { disagree = true }
                            k -= 1
                        }
                        r.person.append(obs[i].person)
                        r.value.append(obs[j - 1].value)
                        r.asOf.append(latest)
                        r.conflict.append(disagree ? 1 : 0)
                        if disagree { nConf += 1 }
                        i = j
                    }
                    outBuf[t] = r
                    confBuf[t] = nConf
                }
            }
        }
        return (out, conflicts)
    }
}
