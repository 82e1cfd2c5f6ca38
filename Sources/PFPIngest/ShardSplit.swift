import Foundation
import PFPCore
import PFPSchema

/// What `pfp shard` leaves in each shard's inbox beside the feeds, as `.shard.json`
/// (a dot file: a pfp that knows nothing of shards ignores it): which shard of how
/// many, of which split and run date, the source delivery's feeds as the sharding
/// judged them, and the rejects it gives this shard to report (`.shard-rejects.csv`,
/// lines of the original files). docs/SCALE.md.
public struct ShardPlan: Sendable {
    public static let fileName = ".shard.json"
    public static let rejectsName = ".shard-rejects.csv"
    static let format = "pfp-shard 1"

    public var index: Int
    public var count: Int
    public var runDate: CivilDate
    public var pipelineVersion: String
    /// Names the split: the same for every shard cut from one delivery with one count.
    public var split: String
    /// The source delivery's feeds, as the sharding judged them (counts of the whole delivery).
    public var feeds: [FeedReport]
    public var allowedMissing: [String]
    /// The rejects this shard reports: (feed, line in the original file, reason).
    public var rejects: [(feed: String, line: Int, reason: String)] = []

    public var json: JSON {
        .object([
            ("format", .string(ShardPlan.format)), ("index", .int(index)), ("count", .int(count)),
            ("run_date", .string(runDate.description)), ("pipeline_version", .string(pipelineVersion)),
            ("split", .string(split)), ("allowed_missing", .array(allowedMissing.map { .string($0) })),
            ("feeds", .array(feeds.map { $0.json(withBytes: true) })), ("rejects", .int(rejects.count)),
        ])
    }

    /// The plan in a shard's inbox, or nil when the inbox is not a shard's. Read
    /// through the inbox's descriptor like the feeds; a plan that cannot be used refuses.
    public static func read(inbox: String) throws -> ShardPlan? {
        let dir = try InboxDirectory(path: inbox)
        func load(_ name: String, limit: Int) throws -> [UInt8]? {
            switch dir.open(Array(name.utf8)) {
            case .failure(.missing): return nil
            case .failure(let problem):
                throw refusal(inbox, "\(name) is refused: \(problem)")
            case .success(let file):
                guard let bytes = try file.readAll(limit: limit) else {
                    throw refusal(inbox, "\(name) is larger than a shard plan can be")
                }
                return bytes
            }
        }
        guard let bytes = try load(fileName, limit: 16 << 20) else { return nil }
        guard let o = JSON.parseObject(bytes), o["format"] as? String == format,
            let index = o["index"] as? Int, let count = o["count"] as? Int, count >= 1, index >= 0, index < count,
            let date = (o["run_date"] as? String).flatMap(CivilDate.parse),
            let version = o["pipeline_version"] as? String,
            let split = o["split"] as? String, let feeds = o["feeds"] as? [[String: Any]],
            let reports = Optional(feeds.compactMap(FeedReport.init(json:))), reports.count == feeds.count,
            let missing = o["allowed_missing"] as? [String], let nRejects = o["rejects"] as? Int
        else { throw refusal(inbox, "\(fileName) is not a shard plan pfp shard wrote") }
        var plan = ShardPlan(
            index: index, count: count, runDate: date, pipelineVersion: version, split: split, feeds: reports,
            allowedMissing: missing)
        let text = try load(rejectsName, limit: Int.max) ?? []
        var lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).dropFirst()
        while let l = lines.popFirst() {
            let f = l.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
            guard f.count == 3, let line = Int(String(decoding: f[1], as: UTF8.self)),
                RejectReason(spelling: String(decoding: f[2], as: UTF8.self)) != nil
            else { throw refusal(inbox, "\(rejectsName) is not the rejects file pfp shard wrote") }
            plan.rejects.append((String(decoding: f[0], as: UTF8.self), line, String(decoding: f[2], as: UTF8.self)))
        }
        guard plan.rejects.count == nRejects else {
            throw refusal(inbox, "\(rejectsName) holds \(plan.rejects.count) rejects, \(fileName) says \(nRejects)")
        }
        return plan
    }

    static func refusal(_ inbox: String, _ message: String) -> PipelineError {
        .badInput(
            stage: "ingest", location: inbox, "shard delivery: " + message,
            hint: "cut the shards again with 'pfp shard' (and the same pfp version as the runs)")
    }

    /// A shard's ingest outcome as the whole delivery's share: the feeds' identity
    /// (status, file, as_of, sha256) from the source, the rows read and rejected
    /// counting the rejects this shard reports, conflicts and accepted rows its own.
    /// A row the sharding accepted that the shard rejects means the two disagree
    /// (another pfp version or configuration): refused, since its line would not be
    /// the original file's.
    public func apply(to o: inout IngestOutcome) throws {
        if !o.rejects.isEmpty {
            throw PipelineError.badInput(
                stage: "ingest", feed: o.rejects[0].feed,
                "shard \(index) of \(count) rejected \(o.rejects.count) rows that the sharding accepted",
                hint: "shard and run with the same pfp version and configuration (cut the shards again)")
        }
        var byFeed: [String: [(line: Int, reason: RejectReason)]] = [:]
        for r in rejects { byFeed[r.feed, default: []].append((r.line, RejectReason(spelling: r.reason)!)) }
        let own = Dictionary(uniqueKeysWithValues: o.reports.map { ($0.feed, $0) })
        o.reports = feeds.map { source in
            var rep = source
            let mine = own[source.feed]
            let rej = byFeed[source.feed] ?? []
            rep.accepted = mine?.used == true ? mine!.accepted : 0
            rep.rejected = rej.count
            rep.rowsRead = source.used ? rep.accepted + rej.count : 0
            rep.rejectCounts = [:]
            for r in rej { rep.rejectCounts[r.reason, default: 0] += 1 }
            rep.conflicts = mine?.conflicts ?? 0
            rep.warnings = mine?.warnings ?? [:]
            return rep
        }
        o.rejects = rejects.map {
            (feed: $0.feed, reject: Reject(line: Int32($0.line), reason: RejectReason(spelling: $0.reason)!))
        }
    }
}

extension FeedReport {
    /// The report as the manifest's `inputs` give it (feed, required, status, file,
    /// as_of, sha256, counts, and the message of a feed not used); a shard plan
    /// keeps the file's size too (`withBytes`). `init(json:)` reads either back.
    public func json(withBytes: Bool = false) -> JSON {
        .object(
            [
                ("feed", .string(feed)), ("required", .bool(required)), ("status", .string(status.rawValue)),
                ("file", file.map { .string($0) } ?? .null),
                ("as_of", asOf.map { .string($0.description) } ?? .null),
                ("sha256", sha256.map { .string($0) } ?? .null),
            ] + counts + (message.map { [("message", JSON.string($0))] } ?? [])
                + (withBytes ? [("bytes", .int(bytes))] : []))
    }

    /// A report read back from a shard plan or a manifest's inputs; nil when it is not one.
    public init?(json o: [String: Any]) {
        guard let feed = o["feed"] as? String, let required = o["required"] as? Bool,
            let status = (o["status"] as? String).flatMap(Status.init(rawValue:)),
            let rows = o["rows_read"] as? Int, let accepted = o["accepted"] as? Int,
            let rejected = o["rejected"] as? Int,
            let conflicts = o["conflicts"] as? Int, let reasons = o["rejects_by_reason"] as? [String: Int]
        else { return nil }
        self.init(feed: feed, required: required, status: status)
        message = o["message"] as? String
        file = o["file"] as? String
        asOf = (o["as_of"] as? String).flatMap(CivilDate.parse)
        sha256 = o["sha256"] as? String
        bytes = o["bytes"] as? Int ?? 0
        rowsRead = rows
        self.accepted = accepted
        self.rejected = rejected
        self.conflicts = conflicts
        for (k, v) in reasons {
            guard let r = RejectReason(spelling: k) else { return nil }
            rejectCounts[r] = v
        }
    }
}

/// `pfp shard`'s outcome.
public struct ShardSplitSummary: Sendable {
    public var path: String
    public var count: Int
    /// Households, rows written and bytes written per shard.
    public var households: [Int]
    public var rows: [Int]
    public var bytes: [Int]
    public var rejects: Int
    public var reports: [FeedReport]
}

extension IngestStage {
    /// Splits the delivery in `inbox` into `count` shard deliveries under `out`
    /// (`out/0/` … `out/<count-1>/`), a household in shard CRC-32(household id) mod
    /// `count`, each person's tag rows and each household's outreach rows with it.
    /// Every row is judged here exactly as a run judges it: the rejected rows go to
    /// no shard (each reported once, by the shard `line mod count`, against the
    /// original line); the accepted ones are copied byte for byte (GB18030 text
    /// converted to UTF-8 where the run converts it). A delivery the run would
    /// refuse is refused here, with the same message. `out` appears whole (built
    /// beside it, renamed into place, `_SUCCESS` last).
    public func split(
        inbox: String, out: String, count: Int, runDate: CivilDate, allowMissing: Set<String>,
        pipelineVersion: String
    ) throws -> ShardSplitSummary {
        precondition(count >= 1)
        let (config, console) = (self.config, self.console)
        let ahead = checkAhead(inbox: inbox, runDate: runDate, allowMissing: allowMissing)
        defer { _ = try? ahead.finish() }
        let run = IngestRun(
            stage: self, ahead: ahead, inbox: inbox, runDate: runDate, previousRows: [:], allowDrift: [])
        run.keepFiles = true
        let target = (out as NSString).standardizingPath
        let dir = try RunDirectory(
            root: (target as NSString).deletingLastPathComponent, name: (target as NSString).lastPathComponent)
        var done = false
        defer { if !done { dir.abandon() } }
        let writer = try ShardWriter(dir: dir, count: count)

        // Population: each accepted record goes to its household's shard.
        let result = IngestResult(runDate: runDate)
        try run.population(into: result)
        let pop = config.populationFeed.name
        if let file = run.kept.removeValue(forKey: pop) {
            let rejected = run.rejectedLines(pop)
            let hhCol = file.columns["household_id"]!
            try writer.route(file, rejected: rejected, console: console) { text, fields in
                withField(text, fields[hhCol]) { CRC32.shard(of: $0, count: count) }
            }
        }
        FaultPoint.hit("shard.population_routed")
        // Each person's shard, from their household's.
        let householdShard = result.householdIDs.map { id -> UInt32 in
            var id = id
            return id.withUTF8 { UInt32(CRC32.shard(of: UnsafeRawBufferPointer($0), count: count)) }
        }
        let personShard = result.household.map { householdShard[Int($0)] }
        var households = [Int](repeating: 0, count: count)
        for s in householdShard { households[Int(s)] += 1 }
        let people = IDIndex(keys: result.personID)
        try run.eachTagFeed(people: people) { f, _ in
            let name = config.feeds[f].name
            guard let file = run.kept.removeValue(forKey: name) else { return }
            let rejected = run.rejectedLines(name)
            let idCol = file.columns["id_number"]!
            try writer.route(file, rejected: rejected, console: console) { text, fields in
                // An accepted row's ID is valid and its person known.
                guard case .valid(let id, _) = withField(text, fields[idCol], { IDNumber.parse($0) }) else { return -1 }
                let p = people.find(id.key)
                return p < 0 ? -1 : Int(personShard[Int(p)])
            }
        }
        _ = try run.outreach()
        if let spec = config.outreachFeed, let file = run.kept.removeValue(forKey: spec.name) {
            let rejected = run.rejectedLines(spec.name)
            let hhCol = file.columns["household_id"]!
            try writer.route(file, rejected: rejected, console: console) { text, fields in
                withField(text, fields[hhCol]) { CRC32.shard(of: $0, count: count) }
            }
        }
        let judged = try run.reports()
        let reports = config.feeds.compactMap { judged[$0.name] }
        let rejects = run.rejects.sorted { a, b in
            if a.0 != b.0 { return a.0.utf8.lexicographicallyPrecedes(b.0.utf8) }
            return a.1.line < b.1.line
        }
        let split = SHA256Digest.hex(
            of: Array(
                ([runDate.description, String(count)] + reports.map { "\($0.feed)=\($0.sha256 ?? $0.status.rawValue)" })
                    .joined(separator: "\n").utf8)
        ).prefix(16)
        for k in 0..<count {
            let mine = rejects.filter { Int($0.1.line) % count == k }
            let plan = ShardPlan(
                index: k, count: count, runDate: runDate, pipelineVersion: pipelineVersion, split: String(split),
                feeds: reports, allowedMissing: allowMissing.sorted(),
                rejects: mine.map { ($0.0, Int($0.1.line), $0.1.reason.code) })
            try writer.finish(shard: k, plan: plan)
        }
        try dir.publish()
        done = true
        return ShardSplitSummary(
            path: dir.finalPath, count: count, households: households, rows: writer.rows, bytes: writer.bytes,
            rejects: rejects.count, reports: reports)
    }
}

extension IngestRun {
    /// The lines of a feed's rejected records, sorted.
    func rejectedLines(_ feed: String) -> [Int32] {
        rejects.filter { $0.0 == feed }.map(\.1.line).sorted()
    }
}

/// Writes the shards' feed files: each feed's accepted records copied, in their
/// order, into the file of their shard, with the feed's header line and a manifest.
final class ShardWriter {
    let root: RunDirectory
    let count: Int
    private(set) var rows: [Int]
    private(set) var bytes: [Int]

    init(dir: RunDirectory, count: Int) throws {
        root = dir
        self.count = count
        rows = [Int](repeating: 0, count: count)
        bytes = [Int](repeating: 0, count: count)
        for k in 0..<count { try dir.makeFolder(String(k)) }
    }

    func dir(_ k: Int) -> String { root.path(String(k)) }

    /// `shard(text, fields)`: the shard of an accepted record (-1: none, which
    /// cannot happen for a row the run accepts). Chunks are routed in parallel,
    /// a batch at a time, and written in order.
    func route(
        _ file: FeedFile, rejected: [Int32], console: Console,
        shard: @escaping (UnsafeRawBufferPointer, [CSVField]) -> Int
    ) throws {
        // The delivered name when the run may show it (made of the contract's
        // words), else the feed's: a file name is delivered text too.
        let shown = file.shownName
        let name =
            !shown.isEmpty
                && shown.utf8.allSatisfy({ $0 < 128 && ($0 == 46 || $0 == 45 || $0 == 95 || isalnum(Int32($0)) != 0) })
            ? shown : file.spec.name + ".csv"
        let writers = try (0..<count).map { k in
            try FileIO.Writer(path: (dir(k) as NSString).appendingPathComponent(name))
        }
        var perShard = [Int](repeating: 0, count: count)
        let t0 = FileIO.now()
        let chunks = file.layout.chunks
        let expected = file.layout.header.count
        let batch = max(2, Parallel.threads * 2)
        let count = self.count
        var unowned = 0
        var failure: Error?
        file.withText { text in
            do {
                var header = Array(UnsafeRawBufferPointer(rebasing: text[..<file.layout.headerEnd]))
                if header.last != UInt8(ascii: "\n") { header.append(UInt8(ascii: "\n")) }
                for w in writers { try w.write(header) }
                // Pipelined: while a batch of chunks is routed, the batch before it
                // is written, each shard's file by a task of its own.
                var pending: [([[UInt8]], [Int], Int)] = []
                var lo = 0
                while lo < chunks.count || !pending.isEmpty {
                    let hi = min(chunks.count, lo + batch)
                    var parts = [([[UInt8]], [Int], Int)](repeating: ([], [], 0), count: hi - lo)
                    let writing = pending
                    var failures = [Error?](repeating: nil, count: count)
                    parts.withUnsafeMutableBufferPointer { out in
                        failures.withUnsafeMutableBufferPointer { fail in
                            Parallel.forEach(hi - lo + (writing.isEmpty ? 0 : count)) { j in
                                if j >= hi - lo {
                                    let k = j - (hi - lo)
                                    do {
                                        for (buf, _, _) in writing where !buf[k].isEmpty {
                                            try writers[k].write(buf[k])
                                        }
                                    } catch { fail[k] = error }
                                    return
                                }
                                let chunk = chunks[lo + j]
                                var records = ChunkRecords(text: text, chunk: chunk, expectedFields: expected)
                                var fields: [CSVField] = []
                                var buf = [[UInt8]](repeating: [], count: count)
                                var n = [Int](repeating: 0, count: count)
                                var none = 0
                                // The rejected lines of this chunk, found by binary search once.
                                var r = ShardWriter.lowerBound(rejected, Int32(chunk.firstLine))
                                while let info = records.next(&fields) {
                                    let line = Int32(info.line)
                                    while r < rejected.count && rejected[r] < line { r += 1 }
                                    if r < rejected.count && rejected[r] == line { continue }
                                    let k = info.wellFormed ? shard(text, fields) : -1
                                    guard k >= 0 else { none += 1; continue }
                                    let end = records.position
                                    buf[k].append(contentsOf: UnsafeRawBufferPointer(rebasing: text[info.start..<end]))
                                    if buf[k].last != UInt8(ascii: "\n") { buf[k].append(UInt8(ascii: "\n")) }
                                    n[k] += 1
                                }
                                out[j] = (buf, n, none)
                            }
                        }
                    }
                    if let f = failures.compactMap({ $0 }).first { throw f }
                    for (_, n, none) in parts {
                        for k in 0..<count { perShard[k] += n[k] }
                        unowned += none
                    }
                    pending = parts
                    lo = hi
                }
            } catch { failure = error }
        }
        if let failure { throw failure }
        guard unowned == 0 else {
            throw PipelineError.failure(
                stage: "shard",
                "\(file.spec.name): \(unowned) accepted rows could not be given a shard (a fault of pfp shard, "
                    + "not of the delivery)")
        }
        let t1 = FileIO.now()
        for k in 0..<count {
            let sha = try writers[k].finish()
            let encoding = file.converted != nil ? FeedEncoding.utf8 : file.manifest.encoding
            let manifest = JSON.object([
                ("feed", .string(file.manifest.feed)), ("department", .string(file.manifest.department)),
                ("as_of", .string(file.manifest.asOf.description)), ("rows", .int(perShard[k])),
                ("sha256", .string(sha)), ("encoding", .string(encoding.rawValue)),
            ])
            _ = try FileIO.write(
                (dir(k) as NSString).appendingPathComponent(name + ".manifest.json"),
                Array((manifest.serialized(pretty: true) + "\n").utf8))
            rows[k] += perShard[k]
            bytes[k] += writers[k].bytesWritten
        }
        console.detail(
            String(
                format: "    %@: routed and written in %.2f s, synced in %.2f s", file.spec.name,
                t1 - t0, FileIO.now() - t1))
        console.progress(
            "\(file.spec.name): \(grouped(perShard.reduce(0, +))) rows into \(count) shards "
                + "(\(grouped(rejected.count)) rejected)")
    }

    static func lowerBound(_ a: [Int32], _ x: Int32) -> Int {
        var lo = 0, hi = a.count
        while lo < hi {
            let m = (lo + hi) / 2
            if a[m] < x { lo = m + 1 } else { hi = m }
        }
        return lo
    }

    /// The shard's plan and its rejects, written last in its folder.
    func finish(shard k: Int, plan: ShardPlan) throws {
        var text = "feed,line,reason\n"
        for r in plan.rejects { text += "\(r.feed),\(r.line),\(r.reason)\n" }
        _ = try FileIO.write((dir(k) as NSString).appendingPathComponent(ShardPlan.rejectsName), Array(text.utf8))
        _ = try FileIO.write(
            (dir(k) as NSString).appendingPathComponent(ShardPlan.fileName),
            Array((plan.json.serialized(pretty: true) + "\n").utf8))
    }
}
