import Foundation
import PFPCore
import PFPSchema
import PFPIngest
import PFPRules
import PFPEmit

/// `pfp shard`: a delivery cut into shard deliveries (docs/SCALE.md).
package enum ShardCut {
    package static func run(
        options o: RunOptions, count: Int, out: String, console: Console
    ) throws -> ShardSplitSummary {
        let config = try PipelineConfig(path: o.configPath)
        let runDate = o.runDate ?? config.today()
        let inbox = o.inbox ?? config.inbox(for: runDate)
        let (catalogue, policies) = try config.loadCatalogue()
        console.info("pfp \(PFPVersion.pipeline): cutting the delivery of \(runDate) into \(count) shards")
        let t0 = FileIO.now()
        let s = try IngestStage(config: config, catalogue: catalogue, policies: policies, console: console).split(
            inbox: inbox, out: out, count: count, runDate: runDate, allowMissing: o.allowMissing,
            pipelineVersion: PFPVersion.pipeline)
        console.info(
            String(
                format: "cut in %.2f s: %@ households, %@ rows in %d shards (%@ to %@ households each), %@ rows "
                    + "rejected once here",
                FileIO.now() - t0, grouped(s.households.reduce(0, +)), grouped(s.rows.reduce(0, +)), count,
                grouped(s.households.min() ?? 0), grouped(s.households.max() ?? 0), grouped(s.rejects)))
        return s
    }
}

/// `pfp merge`: the published runs of every shard of one delivery merged into the
/// run one machine would have published: the lists, explain.jsonl and rejects.csv
/// k-way merged (each is sorted by its keys and a household is in one shard), the
/// manifest's counts added up, the report drawn from the shards' figures added up.
package enum ShardMerge {
    package struct Request {
        package var runDate: CivilDate
        package var outRoot: String
        package var shardRuns: [String]
        package var configPath = "Pipelines/nightly.conf"
        /// Hash every shard file against its manifest (by default: sizes only).
        package var verifyDigests = false
        package init(runDate: CivilDate, outRoot: String, shardRuns: [String]) {
            self.runDate = runDate
            self.outRoot = outRoot
            self.shardRuns = shardRuns
        }
    }

    /// A shard's published run, checked.
    struct ShardRun {
        var path: String
        var manifest: [String: Any]
        var index: Int
        var count: Int
        var split: String
        var files: [String: (rows: Int, sha256: String, bytes: Int)]
    }

    package static func run(_ q: Request, console: Console) throws -> String {
        let t0 = FileIO.now()
        let shards = try check(q)
        let first = shards[0]
        console.info(
            "pfp \(PFPVersion.pipeline): merging \(shards.count) shards of the run of \(q.runDate) "
                + "(split \(first.split))")
        // The rules the shards ran: the merge's own copy must be the same (labels, order of lists and policies).
        let config = try PipelineConfig(path: q.configPath)
        let (catalogue, policies) = try config.loadCatalogue()
        let feeds = try mergedFeeds(shards)
        let unavailable = Set(feeds.filter { $0.required && $0.status == .allowedMissing }.map(\.feed))
        let rules = try RuleSet.load(
            directory: config.resolve(config.rulesPath), catalogue: catalogue, policyCatalogue: policies,
            runDate: q.runDate, unavailableFeeds: unavailable,
            extraDigestFiles: [config.resolve(config.tagsPath), config.resolve(config.policiesPath)])
        let digest = first.manifest["rule_digest"] as? String ?? ""
        guard rules.digest == digest else {
            throw PipelineError.badInput(
                stage: "merge", location: config.resolve(config.rulesPath),
                "the rule files here (digest \(rules.digest.prefix(12))) are not those the shards ran "
                    + "(\(digest.prefix(12)))",
                hint: "merge with the Pipelines/ the shards ran (--config), or run the shards again")
        }
        let dir = try RunDirectory(root: q.outRoot, runDate: q.runDate)
        do {
            try mergeFiles(shards, rules: rules, verify: q.verifyDigests, into: dir, console: console)
            FaultPoint.hit("merge.files_merged")
            let rejects = try readRejects(dir.path("rejects.csv"))
            let history =
                previousFeeds(outRoot: q.outRoot, before: q.runDate) + [
                    (q.runDate, feeds.map(\.record))
                ]
            try Feedback.write(feeds: feeds, rejects: rejects, history: history, runDate: q.runDate, into: dir)
            var figures = RunFigures.sum(
                try shards.map { s in
                    let path = (s.path as NSString).appendingPathComponent(RunFigures.fileName)
                    guard let f = RunFigures(json: try FileIO.readAll(path)) else {
                        throw PipelineError.badInput(
                            stage: "merge", location: path, "not the figures a shard's run publishes",
                            hint: "run the shard again")
                    }
                    return f
                })
            figures.rejects = rejects.count
            let previous = previousRun(outRoot: q.outRoot, before: q.runDate)
            let report = RunReport.html(
                runDate: q.runDate, rules: rules, figures: figures, previousCounts: previous?.counts,
                previousDate: previous?.date.description,
                dataQuality: Feedback.section(feeds: feeds, history: history, runDate: q.runDate))
            try dir.write("report.html", Array(report.utf8), rows: 1)
            let manifest = merged(shards, feeds: feeds, figures: figures, rules: rules, dir: dir)
            try dir.write("manifest.json", Array((manifest.serialized(pretty: true) + "\n").utf8), rows: 1)
            try dir.publish()
            FaultPoint.hit("merge.published")
        } catch {
            dir.abandon()
            throw error
        }
        console.info(String(format: "merged in %.2f s: published %@", FileIO.now() - t0, dir.finalPath))
        return dir.finalPath
    }

    static func refuse(_ location: String?, _ message: String, _ hint: String) -> PipelineError {
        .badInput(stage: "merge", location: location, message, hint: hint)
    }

    /// Every shard's run: published whole, of the run date, one split, one pfp, one
    /// rule digest, every index of the count once.
    static func check(_ q: Request) throws -> [ShardRun] {
        guard !q.shardRuns.isEmpty else {
            throw PipelineError.usage("name the shards' published runs: pfp merge --run-date D --out DIR RUN_DIR...")
        }
        var runs: [ShardRun] = []
        for given in q.shardRuns {
            // The run's folder, or the shard's output root holding it.
            var path = given
            if !FileIO.exists((path as NSString).appendingPathComponent("manifest.json")) {
                path = (given as NSString).appendingPathComponent(q.runDate.description)
            }
            guard FileIO.exists((path as NSString).appendingPathComponent("_SUCCESS")) else {
                throw refuse(
                    given, "no published run of \(q.runDate) here (no _SUCCESS)",
                    "run the shard (pfp run on its shard inbox) until it publishes, then merge again")
            }
            let mpath = (path as NSString).appendingPathComponent("manifest.json")
            guard let m = JSON.parseObject(try FileIO.readAll(mpath)) else {
                throw refuse(mpath, "the manifest is not JSON", "run the shard again")
            }
            guard m["run_date"] as? String == q.runDate.description else {
                throw refuse(
                    mpath, "this is the run of \(m["run_date"] as? String ?? "another date"), not \(q.runDate)",
                    "give the shards' runs of \(q.runDate)")
            }
            guard let shard = m["shard"] as? [String: Any], let index = int(shard["index"]),
                let count = int(shard["count"]), let split = shard["split"] as? String
            else {
                throw refuse(
                    mpath, "not a shard's run (its manifest names no shard)",
                    "merge the runs of the shard deliveries that 'pfp shard' cut")
            }
            var files: [String: (Int, String, Int)] = [:]
            for o in m["outputs"] as? [[String: Any]] ?? [] {
                if let name = o["file"] as? String, let rows = int(o["rows"]), let sha = o["sha256"] as? String,
                    let bytes = int(o["bytes"])
                {
                    files[name] = (rows, sha, bytes)
                }
            }
            runs.append(ShardRun(path: path, manifest: m, index: index, count: count, split: split, files: files))
        }
        let first = runs[0]
        for r in runs {
            for key in ["pipeline_version", "rule_digest", "schema_version"] {
                guard "\(r.manifest[key] ?? "")" == "\(first.manifest[key] ?? "")" else {
                    throw refuse(
                        r.path, "its \(key) differs from shard \(first.index)'s",
                        "run every shard with the same pfp and Pipelines/")
                }
            }
            guard r.count == first.count, r.split == first.split else {
                throw refuse(
                    r.path,
                    "shard \(r.index) of \(r.count) (split \(r.split)) is not of the same cut as shard "
                        + "\(first.index) of \(first.count) (split \(first.split))",
                    "merge the runs of the shards of one 'pfp shard' cut")
            }
        }
        guard first.manifest["pipeline_version"] as? String == PFPVersion.pipeline else {
            throw refuse(
                first.path,
                "the shards ran pfp \(first.manifest["pipeline_version"] ?? "?"), this is "
                    + "\(PFPVersion.pipeline)", "merge with the pfp the shards ran")
        }
        let indices = runs.map(\.index).sorted()
        guard indices == Array(0..<first.count) else {
            let missing = Set(0..<first.count).subtracting(indices).sorted()
            let twice = Dictionary(grouping: indices, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
            var what: [String] = []
            if !missing.isEmpty { what.append("missing \(missing.map(String.init).joined(separator: ", "))") }
            if !twice.isEmpty { what.append("given twice \(twice.map(String.init).joined(separator: ", "))") }
            throw refuse(
                nil, "the cut has \(first.count) shards: \(what.joined(separator: "; "))",
                "give every shard's run once (0 to \(first.count - 1))")
        }
        return runs.sorted { $0.index < $1.index }
    }

    static func int(_ v: Any?) -> Int? {
        if let n = v as? Int { return n }
        if let n = v as? NSNumber { return n.intValue }
        return nil
    }

    /// The delivery's feeds: each feed's identity (status, file, as_of, sha256) is
    /// the same in every shard; its rows, rejects and conflicts add up.
    static func mergedFeeds(_ shards: [ShardRun]) throws -> [FeedReport] {
        var out: [FeedReport] = []
        for (k, s) in shards.enumerated() {
            let inputs = s.manifest["inputs"] as? [[String: Any]] ?? []
            let reports = inputs.compactMap(FeedReport.init(json:))
            guard reports.count == inputs.count else {
                throw refuse(s.path, "its manifest's inputs cannot be read", "run the shard again")
            }
            if k == 0 {
                out = reports
                continue
            }
            guard reports.map(\.feed) == out.map(\.feed) else {
                throw refuse(s.path, "its feeds differ from shard 0's", "run every shard with the same configuration")
            }
            for (i, r) in reports.enumerated() {
                guard r.status == out[i].status, r.sha256 == out[i].sha256, r.asOf == out[i].asOf else {
                    throw refuse(
                        s.path, "feed \(r.feed) is not the one shard 0 read (status, as_of or sha256)",
                        "merge the shards of one cut")
                }
                out[i].rowsRead += r.rowsRead
                out[i].accepted += r.accepted
                out[i].rejected += r.rejected
                out[i].conflicts += r.conflicts
                for (reason, n) in r.rejectCounts { out[i].rejectCounts[reason, default: 0] += n }
            }
        }
        return out
    }

    /// The lists, explain.jsonl and rejects.csv of the shards merged into `dir`,
    /// each shard's file checked against its manifest's size (and sha256 with `verify`).
    static func mergeFiles(
        _ shards: [ShardRun], rules: RuleSet, verify: Bool, into dir: RunDirectory, console: Console
    ) throws {
        var jobs: [(name: String, key: MergeKey)] = rules.lists.map { ("\($0.id).csv", .firstField) }
        jobs.append(("explain.jsonl", .listAndHousehold))
        jobs.append(("rejects.csv", .feedAndLine))
        // The largest first: explain.jsonl on one worker, the lists beside it.
        jobs.sort { a, b in
            shards.reduce(0) { $0 + ($1.files[a.name]?.bytes ?? 0) }
                > shards.reduce(0) { $0 + ($1.files[b.name]?.bytes ?? 0) }
        }
        var results = [Result<(rows: Int, sha256: String, bytes: Int), Error>?](repeating: nil, count: jobs.count)
        results.withUnsafeMutableBufferPointer { out in
            Parallel.forEach(jobs.count) { j in
                out[j] = Result {
                    try mergeFile(
                        jobs[j].name, key: jobs[j].key, shards: shards, verify: verify, target: dir.path(jobs[j].name))
                }
            }
        }
        for (j, r) in results.enumerated() {
            let f = try r!.get()
            dir.add(name: jobs[j].name, rows: f.rows, sha256: f.sha256, bytes: f.bytes)
            console.detail("    \(jobs[j].name): \(grouped(f.rows)) rows")
        }
    }

    /// How a merged file's lines are ordered (outputs.md: by their key columns, byte order).
    enum MergeKey {
        /// A list: the household id, the first field (`,` sorts before every character of an id).
        case firstField
        /// explain.jsonl: list id, then household id (`"` sorts before every character of either).
        case listAndHousehold
        /// rejects.csv: feed, then the line as a number.
        case feedAndLine
    }

    /// One file k-way merged: every shard's copy mapped, checked against its
    /// manifest (size; sha256 with `verify`), its header line (CSV) the same, its
    /// lines taken in key order.
    /// The merged files' direct-write blocks: 32 MiB (8 MiB left the merge of 10,000,000
    /// households waiting on the disk a fifth longer, docs/SCALE.md).
    static let blockBytes = 32 << 20

    static func mergeFile(
        _ name: String, key: MergeKey, shards: [ShardRun], verify: Bool, target: String
    ) throws -> (rows: Int, sha256: String, bytes: Int) {
        var inputs: [MappedFile] = []
        for s in shards {
            let path = (s.path as NSString).appendingPathComponent(name)
            guard let listed = s.files[name] else {
                throw refuse(s.path, "its manifest lists no \(name)", "run the shard again")
            }
            let m = try MappedFile(path: path, populate: false)
            guard m.bytes.count == listed.bytes, !verify || SHA256Digest.hex(of: m.bytes) == listed.sha256 else {
                throw refuse(
                    path, "the file differs from its manifest (\(verify ? "size or sha256" : "size"))",
                    "run the shard again, or copy its published run whole")
            }
            inputs.append(m)
        }
        let csv = name.hasSuffix(".csv")
        var cursors: [LineCursor] = inputs.map { LineCursor($0.bytes, key: key) }
        let total = inputs.reduce(0) { $0 + $1.bytes.count }
        let w =
            try total > 64 << 20 ? FileIO.Writer(path: target, directBlock: blockBytes) : FileIO.Writer(path: target)
        if csv {
            let header = cursors[0].line
            for c in cursors where !c.line.elementsEqual(header) {
                throw refuse(shards[0].path, "the shards' \(name) headers differ", "run every shard with the same pfp")
            }
            try w.write(header)
            for i in cursors.indices { cursors[i].advance() }
        }
        // A binary heap of the shards with lines left, by their current line's key
        // (found once per line); the shard's index breaks ties.
        var rows = 0
        // What each input has let go of: read once, start to end, a few pages stay resident.
        var dropped = [Int](repeating: 0, count: inputs.count)
        let dropEvery = 16 << 20
        // The page cache filled ahead of every input (cold files, one cursor each).
        let ahead = ReadAhead(inputs)
        defer { ahead.stop() }
        try cursors.withUnsafeMutableBufferPointer { c in
            var heap = c.indices.filter { !c[$0].atEnd }
            try heap.withUnsafeMutableBufferPointer { h in
                var n = h.count
                @inline(__always) func less(_ i: Int, _ j: Int) -> Bool {
                    let o = c[h[i]].order(c[h[j]])
                    return o != 0 ? o < 0 : h[i] < h[j]
                }
                func down(_ start: Int) {
                    var i = start
                    while true {
                        let l = 2 * i + 1, r = l + 1
                        var m = i
                        if l < n && less(l, m) { m = l }
                        if r < n && less(r, m) { m = r }
                        if m == i { return }
                        h.swapAt(i, m)
                        i = m
                    }
                }
                for i in stride(from: n / 2 - 1, through: 0, by: -1) { down(i) }
                while n > 0 {
                    let k = h[0]
                    try w.write(c[k].line)
                    rows += 1
                    c[k].advance()
                    if c[k].start - dropped[k] >= dropEvery {
                        inputs[k].dropResidentPages(from: dropped[k], upTo: c[k].start)
                        dropped[k] = c[k].start
                        ahead.reached(k, c[k].start)
                    }
                    if c[k].atEnd {
                        h[0] = h[n - 1]
                        n -= 1
                    }
                    if n > 0 { down(0) }
                }
            }
        }
        let sha = try w.finish()
        withExtendedLifetime(inputs) {}
        return (rows, sha, w.bytesWritten)
    }

    /// rejects.csv read back (feed, line, reason): a few per thousand rows.
    static func readRejects(_ path: String) throws -> [(feed: String, line: Int, reason: String)] {
        let text = try FileIO.readAll(path)
        var out: [(feed: String, line: Int, reason: String)] = []
        for l in text.split(separator: UInt8(ascii: "\n")).dropFirst() {
            let f = l.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
            guard f.count == 3, let n = Int(String(decoding: f[1], as: UTF8.self)) else { continue }
            out.append((String(decoding: f[0], as: UTF8.self), n, String(decoding: f[2], as: UTF8.self)))
        }
        return out
    }

    /// The published runs before `date` under the merge's output root, newest last.
    static func publishedBefore(outRoot: String, _ date: CivilDate) -> [(CivilDate, [String: Any])] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: outRoot)) ?? []
        let dates = names.compactMap(CivilDate.parse).filter { $0 < date }.sorted()
        return dates.compactMap { d in
            let run = (outRoot as NSString).appendingPathComponent(d.description)
            guard FileIO.exists((run as NSString).appendingPathComponent("_SUCCESS")),
                let bytes = try? FileIO.readAll((run as NSString).appendingPathComponent("manifest.json")),
                let m = JSON.parseObject(bytes)
            else { return nil }
            return (d, m)
        }
    }

    /// The feeds of the last merged runs (for the data-quality trends), oldest first.
    static func previousFeeds(outRoot: String, before date: CivilDate) -> Feedback.History {
        publishedBefore(outRoot: outRoot, date).suffix(Feedback.trendRuns - 1).map { d, m in
            (d, (m["inputs"] as? [[String: Any]] ?? []).compactMap(FeedReport.init(json:)).map(\.record))
        }
    }

    /// The latest merged run before `date`: its date and entries per list.
    static func previousRun(outRoot: String, before date: CivilDate) -> (date: CivilDate, counts: [String: Int])? {
        guard let (d, m) = publishedBefore(outRoot: outRoot, date).last else { return nil }
        var counts: [String: Int] = [:]
        for (list, v) in m["counts"] as? [String: Any] ?? [:] {
            if let total = int((v as? [String: Any])?["total"]) { counts[list] = total }
        }
        return (d, counts)
    }

    /// The merged run's manifest: the single run's, with the shards' counts added
    /// up, the earliest shard's start, and `shards` naming the shard runs merged.
    static func merged(
        _ shards: [ShardRun], feeds: [FeedReport], figures: RunFigures, rules: RuleSet, dir: RunDirectory
    ) -> JSON {
        let first = shards[0].manifest
        let runs: [JSON] = shards.map { s in
            .object([
                ("index", .int(s.index)), ("started_at", .string(s.manifest["started_at"] as? String ?? "")),
                ("ended_at", .string(s.manifest["ended_at"] as? String ?? "")),
            ])
        }
        return EmitStage.manifest(
            schemaVersion: int(first["schema_version"]) ?? PFPVersion.schema,
            runDate: CivilDate.parse(first["run_date"] as? String ?? "") ?? CivilDate(days: 0),
            startedAt: shards.compactMap { $0.manifest["started_at"] as? String }.min() ?? RunRegistry.timestamp(),
            pipelineVersion: PFPVersion.pipeline, rules: rules, feeds: feeds,
            allowedMissing: first["allowed_missing"] as? [String] ?? [], households: figures.households,
            people: figures.people, counts: figures.counts(rules), dir: dir,
            extra: [
                (
                    "shards",
                    .object([
                        ("count", .int(shards.count)), ("split", .string(shards[0].split)), ("runs", .array(runs)),
                    ])
                )
            ])
    }
}

/// The lines of a mapped file, one at a time (each with its `\n`), with the
/// current line's merge key found once.
struct LineCursor {
    let bytes: UnsafeRawBufferPointer
    let key: ShardMerge.MergeKey
    var start = 0
    var end = 0
    /// The current line's key: bytes `keyStart ..< keyEnd` of the file, then `number`.
    var keyStart = 0
    var keyEnd = 0
    var number = 0

    init(_ bytes: UnsafeRawBufferPointer, key: ShardMerge.MergeKey) {
        self.bytes = bytes
        self.key = key
        findEnd()
    }

    var atEnd: Bool { start >= bytes.count }
    var line: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[start..<end]) }

    mutating func advance() {
        start = end
        findEnd()
    }

    /// Negative, zero or positive as this line's key sorts before, with or after `other`'s.
    @inline(__always)
    func order(_ other: LineCursor) -> Int {
        let a = keyEnd - keyStart, b = other.keyEnd - other.keyStart
        let c = memcmp(bytes.baseAddress! + keyStart, other.bytes.baseAddress! + other.keyStart, min(a, b))
        if c != 0 { return Int(c) }
        if a != b { return a - b }
        return number - other.number
    }

    private mutating func findEnd() {
        guard start < bytes.count else { end = start; return }
        let base = bytes.baseAddress! + start
        if let nl = memchr(base, Int32(UInt8(ascii: "\n")), bytes.count - start) {
            end = start + (UnsafeRawPointer(nl) - UnsafeRawPointer(base)) + 1
        } else {
            end = bytes.count
        }
        let l = line
        switch key {
        case .firstField:
            // The household id through its comma: `,` sorts before every character of an id.
            keyStart = start
            keyEnd = start + LineCursor.prefixLength(l, through: UInt8(ascii: ","))
        case .listAndHousehold:
            // From after `{"list":"` through the household id's closing quote.
            let lead = min(9, l.count)
            var quotes = 0, i = lead
            while i < l.count {
                if l[i] == UInt8(ascii: "\"") {
                    quotes += 1
                    // the list's closing quote, three of ,"household_id":", then the id's closing one
                    if quotes == 5 { break }
                }
                i += 1
            }
            keyStart = start + lead
            keyEnd = start + min(i + 1, l.count)
        case .feedAndLine:
            let f = LineCursor.prefixLength(l, through: UInt8(ascii: ","))
            keyStart = start
            keyEnd = start + f
            var n = 0, i = f
            while i < l.count, l[i] >= UInt8(ascii: "0"), l[i] <= UInt8(ascii: "9") {
                n = n * 10 + Int(l[i] - UInt8(ascii: "0"))
                i += 1
            }
            number = n
        }
    }

    /// The length of the line up to and including the first `sep` (the whole line when none).
    static func prefixLength(_ line: UnsafeRawBufferPointer, through sep: UInt8) -> Int {
        guard let base = line.baseAddress, let p = memchr(base, Int32(sep), line.count) else { return line.count }
        return UnsafeRawPointer(p) - base + 1
    }
}
