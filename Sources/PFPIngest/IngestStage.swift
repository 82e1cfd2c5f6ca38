import Foundation
import PFPCore
import PFPSchema

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
    /// The policies an outreach row may name.
    public var policies: PolicyCatalogue
    public var console: Console

    public init(
        config: PipelineConfig, catalogue: TagCatalogue, policies: PolicyCatalogue = PolicyCatalogue(policies: []),
        console: Console
    ) {
        self.config = config
        self.catalogue = catalogue
        self.policies = policies
        self.console = console
    }

    /// `previousRows`: rows read of each feed's previous accepted delivery (drift guard).
    public func run(
        inbox: String, runDate: CivilDate, allowMissing: Set<String>,
        previousRows: [String: Int] = [:], allowDrift: Set<String> = []
    ) throws -> IngestOutcome {
        // The delivery is checked on a thread of its own, a feed or more ahead of the
        // parsing (CheckAhead); nothing parsed is used unless the whole check passes.
        let ahead = checkAhead(inbox: inbox, runDate: runDate, allowMissing: allowMissing)
        // Whatever happens below, the check's thread has ended when this returns.
        defer { _ = try? ahead.finish() }
        // Reading and parsing make and drop gigabytes of buffers: freed memory is
        // used again instead of fresh pages, until the resolution. The tag columns
        // made from there on are mapped as usual: the match reads them at random,
        // and columns made in reused heap memory are slower to read so.
        FileIO.reuseFreedMemory(true)
        defer { FileIO.reuseFreedMemory(false) }
        let run = IngestRun(
            stage: self, ahead: ahead, inbox: inbox, runDate: runDate, previousRows: previousRows,
            allowDrift: allowDrift)
        let result = IngestResult(runDate: runDate)
        try run.population(into: result)
        var observations = try run.tagFeeds(people: IDIndex(keys: result.personID))
        result.outreach = try run.outreach()
        var reports = try run.reports()
        for (name, rep) in reports where rep.used { result.feedAsOf[name] = rep.asOf }
        FileIO.reuseFreedMemory(false)
        let conflicts = run.resolve(&observations, into: result, reports: &reports)
        run.markDeceased(result)
        // outputs.md: sorted by the key columns, feed (byte order) then line.
        let rejects = run.rejects.sorted { a, b in
            if a.0 != b.0 { return a.0.utf8.lexicographicallyPrecedes(b.0.utf8) }
            return a.1.line < b.1.line
        }
        return IngestOutcome(
            result: result, reports: config.feeds.compactMap { reports[$0.name] }, rejects: rejects,
            conflicts: conflicts)
    }

    /// The delivery's check, started on a thread of its own.
    func checkAhead(inbox: String, runDate: CivilDate, allowMissing: Set<String>) -> CheckAhead {
        let (config, catalogue, console) = (self.config, self.catalogue, self.console)
        return CheckAhead { decided in
            try DeliveryCheck.run(
                inbox: inbox, config: config, catalogue: catalogue, runDate: runDate,
                allowMissing: allowMissing, console: console, decided: decided)
        }
    }

    /// Groups accepted people by household id (byte order), then by ID number.
    /// `pieceRows`: the least rows per parallel piece (smaller in tests).
    static func assembleHouseholds(
        rows: [PopulationRow], accepted: [Int], into result: IngestResult, pieceRows: Int = 65_536
    ) {
        let a = HouseholdAssembly(count: accepted.count, pieceRows: pieceRows)
        var keys = a.keys(rows: rows, accepted: accepted)
        a.sort(&keys)
        var (household, starts) = a.number(keys)
        a.columns(keys: keys, rows: rows, starts: starts, into: result)
        starts.append(Int32(accepted.count))
        result.household = Column(household)
        result.householdStart = Column(starts)
    }

    /// An array of `n` elements of a plain type, every one of them written by `fill`
    /// (in parallel pieces) before it is used: no zeroing pass first, no copy after.
    static func filled<T: BitwiseCopyable>(_ n: Int, _ fill: (UnsafeMutableBufferPointer<T>) -> Void) -> [T] {
        [T](unsafeUninitializedCapacity: n) { b, count in
            fill(b)
            count = n
        }
    }

    /// Per tag: the latest as_of wins, and rows with that same latest as_of that
    /// disagree make the tag unknown (a conflict). `byTag[tag]`: the tag's rows in
    /// pieces, in delivery order. Tags are taken largest first by whichever worker
    /// is free; a worker scans a tag's rows with a dense per-person slot array of its
    /// own, then gives the people in index order (see below).
    static func resolve(_ byTag: [[[TagObservation]]], personCount: Int) -> ([ResolvedTag], [Int]) {
        let tagCount = byTag.count
        var out = [ResolvedTag](repeating: ResolvedTag(), count: tagCount)
        var conflicts = [Int](repeating: 0, count: tagCount)
        let rows = byTag.map { $0.reduce(0) { $0 + $1.count } }
        let order = (0..<tagCount).sorted { rows[$0] != rows[$1] ? rows[$0] > rows[$1] : $0 < $1 }
        final class Scratch {
            var best: [Int64], clash: [UInt8]
            /// The people a tag has rows for, in the order first met.
            var touched: [Int32] = []
            init(_ n: Int) { best = [Int64](repeating: -1, count: n); clash = [UInt8](repeating: 0, count: n) }
        }
        let busy = order.filter { rows[$0] > 0 }
        let scratch = (0..<Parallel.workers(for: busy.count)).map { _ in Scratch(personCount) }
        out.withUnsafeMutableBufferPointer { outBuf in
            conflicts.withUnsafeMutableBufferPointer { confBuf in
                Parallel.forEach(busy.count) { (w: Int, k: Int) in
                    let t = busy[k], parts = byTag[t], s = scratch[w]
                    s.best.withUnsafeMutableBufferPointer { best in
                        s.clash.withUnsafeMutableBufferPointer { clash in
                            s.touched.removeAll(keepingCapacity: true)
                            // best/clash hold (piece << 32 | index) of the winning row, -1 for none
                            for (c, piece) in parts.enumerated() {
                                piece.withUnsafeBufferPointer { ob in
                                    for i in 0..<ob.count {
                                        let p = Int(ob[i].person)
                                        let b = best[p]
                                        if b < 0 {
                                            best[p] = Int64(c) << 32 | Int64(i); s.touched.append(Int32(p)); continue
                                        }
                                        let cur = parts[Int(b >> 32)][Int(b & 0xFFFF_FFFF)]
                                        if cur.asOf < ob[i].asOf {
                                            best[p] = Int64(c) << 32 | Int64(i); clash[p] = 0
                                        } else if cur.asOf == ob[i].asOf && cur.value != ob[i].value {
                                            clash[p] = 1
                                        }
                                    }
                                }
                            }
                            // The columns go in person order. Feeds come mostly in that order
                            // already, and then no pass over every person is needed (at city
                            // scale those passes, one per tag, cost more than the rows).
                            // Otherwise: sorted when few, found by a pass over everyone when many.
                            var inOrder = true
                            s.touched.withUnsafeBufferPointer { tb in
                                for i in tb.indices.dropFirst() where tb[i - 1] > tb[i] { inOrder = false; break }
                            }
                            if !inOrder {
                                if s.touched.count < personCount / 16 {
                                    s.touched.sort()
                                } else {
                                    s.touched.removeAll(keepingCapacity: true)
                                    for p in 0..<personCount where best[p] >= 0 { s.touched.append(Int32(p)) }
                                }
                            }
                            let n = s.touched.count
                            // a copy: touched is kept for the next tag
                            let person = s.touched.withUnsafeBufferPointer { Array($0) }
                            var value: [Int64] = [], asOf: [Int32] = [], conflict: [UInt8] = []
                            value.reserveCapacity(n)
                            asOf.reserveCapacity(n)
                            conflict.reserveCapacity(n)
                            var nConf = 0
                            for p32 in s.touched {
                                let p = Int(p32)
                                let o = parts[Int(best[p] >> 32)][Int(best[p] & 0xFFFF_FFFF)]
                                value.append(o.value)
                                asOf.append(o.asOf)
                                conflict.append(clash[p])
                                nConf += Int(clash[p])
                                best[p] = -1
                                clash[p] = 0
                            }
                            outBuf[t] = ResolvedTag(
                                person: Column(person), value: Column(value), asOf: Column(asOf),
                                conflict: Column(conflict))
                            confBuf[t] = nConf
                        }
                    }
                }
            }
        }
        return (out, conflicts)
    }
}

/// One run of the ingest stage, step by step: the delivery's check running ahead,
/// what parsing has found so far, and the time of each step.
final class IngestRun {
    let config: PipelineConfig
    let catalogue: TagCatalogue
    let policies: PolicyCatalogue
    let console: Console
    let ahead: CheckAhead
    let inbox: String
    let runDate: CivilDate
    let previousRows: [String: Int]
    let allowDrift: Set<String>
    /// What parsing found, per feed: merged into the check's reports once it has passed.
    var parsed: [String: FeedReport] = [:]
    var rejects: [(String, Reject)] = []
    /// Files handed over by the check are also kept here (`pfp shard` reads them twice).
    var keepFiles = false
    var kept: [String: FeedFile] = [:]
    private var stepStarted = FileIO.now()

    init(
        stage: IngestStage, ahead: CheckAhead, inbox: String, runDate: CivilDate, previousRows: [String: Int],
        allowDrift: Set<String>
    ) {
        config = stage.config
        catalogue = stage.catalogue
        policies = stage.policies
        console = stage.console
        self.ahead = ahead
        self.inbox = inbox
        self.runDate = runDate
        self.previousRows = previousRows
        self.allowDrift = allowDrift
    }

    /// The check's reports with what parsing found (refused when the check refused).
    func reports() throws -> [String: FeedReport] {
        var reports = try verdict()
        for (name, p) in parsed {
            reports[name]?.rejectCounts = p.rejectCounts
            reports[name]?.accepted = p.accepted
            reports[name]?.rejected = p.rejected
            reports[name]?.warnings = p.warnings
        }
        return reports
    }

    /// The time since the last step ended.
    func lap() -> String {
        let t = FileIO.now()
        defer { stepStarted = t }
        return String(format: "%.2f s", t - stepStarted)
    }

    /// A delivered file, once the check has reached it; a refused delivery (or a
    /// check that stopped) throws here, with every problem.
    func file(_ feed: String) throws -> FeedFile? {
        let f = try ahead.file(feed, refusal: { _ = try self.verdict() })
        if keepFiles, let f { kept[feed] = f }
        return f
    }

    /// The whole check's verdict: its reports, or the refusal listing every problem.
    func verdict() throws -> [String: FeedReport] {
        var check = try ahead.finish()
        // Drift guard: a half-delivered feed silently removes people from the lists.
        for (feed, rep) in check.reports.sorted(by: { $0.key < $1.key }) where rep.used {
            if let problem = drift(feed: feed, rowsRead: rep.rowsRead) { check.problems.append(problem) }
        }
        if !check.problems.isEmpty {
            for p in check.problems {
                var fields: [(String, JSON)] = [("status", .string("refused")), ("reason", .string(p.message))]
                if let f = p.feed { fields.insert(("feed", .string(f)), at: 0) }
                if let h = p.hint { fields.append(("what_to_do", .string(h))) }
                console.event("feed", fields, level: "error")
            }
            let lines = check.problems.map {
                "  - " + $0.description.replacingOccurrences(of: "\n", with: "\n    ")
            }
            throw PipelineError.badInput(
                stage: "ingest", location: inbox,
                "the delivery was refused:\n" + lines.joined(separator: "\n"),
                hint:
                    "fix the feeds above, or run with --allow-missing FEED to go on without one (the "
                    + "policies that read it are skipped)"
            )
        }
        FaultPoint.hit("ingest.read")
        console.progress(
            "read and checked \(ahead.checkedFeeds) feeds, \(grouped(ahead.checkedBytes / 1_000_000)) MB, in "
                + "\(String(format: "%.2f", ahead.checkedAt - ahead.started)) "
                + "s\(Parallel.threads > 1 ? " (beside the parsing)" : "")"
        )
        return check.reports
    }

    /// The drift guard's verdict on a feed: nil when it has not shrunk past the
    /// limit, or when the operator allowed it (a warning then).
    func drift(feed: String, rowsRead: Int) -> PipelineError? {
        guard let before = previousRows[feed], before >= config.driftMinRows else { return nil }
        let floor = Double(before) * (1 - config.driftMaxDrop)
        guard Double(rowsRead) < floor else { return nil }
        let drop = 100 * Double(before - rowsRead) / Double(before)
        let text = String(
            format:
                "suspicious delivery: %@ rows, %.1f%% fewer than the previous accepted delivery (%@ "
                + "rows; the limit is %.0f%%)",
            grouped(rowsRead), drop, grouped(before), config.driftMaxDrop * 100)
        if allowDrift.contains(feed) {
            console.warn("feed \(feed): \(text); accepted (--allow-drift)")
            return nil
        }
        return .badInput(
            stage: "ingest", feed: feed, text,
            hint: "ask the department whether the file is complete; if the drop is real, run with --allow-drift \(feed)"
        )
    }

    /// Population: per-record checks in parallel, then duplicates, then households.
    func population(into result: IngestResult) throws {
        let spec = config.populationFeed
        // Each feed's mapping is released once parsed (when the closure returns):
        // at city scale the feeds do not all stay resident (peak memory).
        let rows = try { () throws -> [PopulationRow] in
            guard let file = try file(spec.name) else {
                throw PipelineError.failure(
                    stage: "ingest", location: inbox, "the population feed \(spec.name) could not be read")
            }
            return parsePopulation(file)
        }()
        console.detail("    population parsed: \(lap())")
        let accepted = judgePopulation(rows, spec: spec)
        console.detail("    duplicates and rejects: \(lap())")
        IngestStage.assembleHouseholds(rows: rows, accepted: accepted, into: result)
        console.detail("    households assembled: \(lap())")
        console.progress(
            "population: \(grouped(accepted.count)) people in \(grouped(result.householdCount)) households "
                + "accepted, \(grouped(rows.count - accepted.count)) rejected"
        )
    }

    /// Each record's verdict (its own checks, then duplicate IDs): the accepted
    /// records' indices; the rejects and the feed's report kept.
    func judgePopulation(_ rows: [PopulationRow], spec: FeedSpec) -> [Int] {
        // IDs on more than one valid record (spread over buckets by hash, each
        // bucket checked on its own); looked up in an ID index (a multiply and a
        // probe per record, no hashing of its bytes).
        let repeated = IDIndex.repeatedKeys(rows.compactMap { $0.id != 0 && $0.early != .malformedRow ? $0.id : nil })
        let duplicates = IDIndex(keys: repeated)
        var report = FeedReport(feed: spec.name, required: spec.required, status: .ok)
        var accepted: [Int] = []
        accepted.reserveCapacity(rows.count)
        var sexMismatch = 0, birthMismatch = 0, upgraded = 0
        for (i, row) in rows.enumerated() {
            let reason: RejectReason? = row.early ?? (duplicates.find(row.id) >= 0 ? .duplicateID : row.late)
            if let reason {
                rejects.append((spec.name, Reject(line: row.line, reason: reason)))
                report.rejectCounts[reason, default: 0] += 1
            } else {
                accepted.append(i)
                if row.sexMismatch { sexMismatch += 1 }
                if row.birthMismatch { birthMismatch += 1 }
                if row.upgraded { upgraded += 1 }
            }
        }
        if sexMismatch > 0 { report.warnings["sex_differs_from_id"] = sexMismatch }
        if birthMismatch > 0 { report.warnings["birth_date_differs_from_id"] = birthMismatch }
        if upgraded > 0 { report.warnings["id_upgraded_15_to_18"] = upgraded }
        report.accepted = accepted.count
        report.rejected = rows.count - accepted.count
        parsed[spec.name] = report
        if sexMismatch + birthMismatch > 0 {
            console.warn(
                "population: \(sexMismatch) records give a sex and \(birthMismatch) a birth date that differ "
                    + "from their ID number; the ID's values are used"
            )
        }
        return accepted
    }

    /// Every tag feed parsed: `observations[feed][chunk][tag]`.
    func tagFeeds(people: IDIndex) throws -> [[[[TagObservation]]]] {
        var observations = [[[[TagObservation]]]](repeating: [], count: config.feeds.count)
        try eachTagFeed(people: people) { f, obs in observations[f] = obs }
        return observations
    }

    /// Each delivered tag feed parsed in turn, its report and rejects kept, its
    /// observations given to `body` with the feed's index in the configuration.
    func eachTagFeed(people: IDIndex, _ body: (Int, [[[TagObservation]]]) throws -> Void) throws {
        let lookup = ByteKeyTable(catalogue.tags.map(\.name))
        let feedNames = config.feeds.map(\.name)
        let compiled = CompiledTags(catalogue, feeds: feedNames)
        for (f, spec) in config.feeds.enumerated() where spec.shape == .tags {
            guard let file = try file(spec.name) else { continue }
            let (obs, rej, warnings) = parseTags(
                file, compiled: compiled, feedIndex: Int32(f), tagLookup: lookup, people: people)
            var rep = FeedReport(feed: spec.name, required: spec.required, status: .ok)
            for r in rej { rep.rejectCounts[r.reason, default: 0] += 1 }
            rep.accepted = obs.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } }
            rep.rejected = rej.count
            rep.warnings = warnings
            parsed[spec.name] = rep
            rejects.append(contentsOf: rej.map { (spec.name, $0) })
            console.progress(
                "\(spec.name): \(grouped(rep.accepted)) rows accepted, \(grouped(rej.count)) rejected (\(lap()))")
            try body(f, obs)
        }
    }

    /// The outreach feed's events (none without the feed, or when it is missing).
    func outreach() throws -> [OutreachEvent] {
        guard let spec = config.outreachFeed, let file = try file(spec.name) else { return [] }
        let (events, rej, warnings) = parseOutreach(file, policies: policies)
        var rep = FeedReport(feed: spec.name, required: spec.required, status: .ok)
        for r in rej { rep.rejectCounts[r.reason, default: 0] += 1 }
        rep.accepted = file.layout.records - rej.count
        rep.rejected = rej.count
        rep.warnings = warnings
        parsed[spec.name] = rep
        rejects.append(contentsOf: rej.map { (spec.name, $0) })
        console.progress(
            "\(spec.name): \(grouped(rep.accepted)) rows accepted (\(grouped(events.count)) distinct events), "
                + "\(grouped(rej.count)) rejected (\(lap()))")
        return events
    }

    /// Resolution: the latest as_of wins; disagreement on the same date is a
    /// conflict (counted per feed and tag). Tags of a required feed allowed to be
    /// missing are unavailable. `observations` is let go.
    func resolve(
        _ observations: inout [[[[TagObservation]]]], into result: IngestResult, reports: inout [String: FeedReport]
    ) -> [String: Int] {
        _ = lap()
        let feedNames = config.feeds.map(\.name)
        let byTag = catalogue.tags.indices.map { t -> [[TagObservation]] in
            guard let f = feedNames.firstIndex(of: catalogue.tags[t].feed) else { return [] }
            return observations[f].map { $0[t] }
        }
        observations = []
        let (resolved, conflictCounts) = IngestStage.resolve(byTag, personCount: result.personCount)
        console.detail("    tags resolved: \(lap())")
        result.tags = resolved
        var conflicts: [String: Int] = [:]
        for (t, n) in conflictCounts.enumerated() where n > 0 {
            let def = catalogue.tags[t]
            conflicts["\(def.feed)/\(def.name)"] = n
            reports[def.feed]?.conflicts += n
        }
        if !conflicts.isEmpty {
            console.warn(
                "conflicts (same as_of, different values; the tag is unknown for the person): "
                    + conflicts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        result.tagUnavailable = Column(
            catalogue.tags.map { def in
                let rep = reports[def.feed]
                return (rep?.required == true && rep?.status == .allowedMissing) ? 1 : 0
            })
        return conflicts
    }

    /// Deceased members drop out of their households for this run.
    func markDeceased(_ result: IngestResult) {
        var member = [UInt8](repeating: 1, count: result.personCount)
        if let dt = catalogue.index(of: config.deceasedTag) {
            let t = result.tags[dt]
            for i in 0..<t.person.count where t.conflict[i] == 0 && t.value[i] <= Int64(runDate.days) {
                member[Int(t.person[i])] = 0
            }
        }
        result.member = Column(member)
        let deceased = member.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
        if deceased > 0 {
            console.progress(
                "\(grouped(deceased)) people deceased on or before \(runDate): not members of any household")
        }
    }
}
