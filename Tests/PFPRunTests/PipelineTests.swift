import XCTest
import PFPTestSupport
@testable import PFPCore
import PFPSchema
@testable import PFPIngest
@testable import PFPRules
@testable import PFPRun
@testable import PFPMatch

/// Runs the pipeline in-process on the committed sample data.
final class PipelineTests: XCTestCase {
    var work = ""
    override func setUp() {
        work = NSTemporaryDirectory() + "pfp-run-\(UUID().uuidString)"
        try? FileIO.makeDirectory(work)
        setenv("SOURCE_DATE_EPOCH", "1795000000", 1)
    }
    override func tearDown() {
        try? FileIO.remove(work)
        unsetenv("SOURCE_DATE_EPOCH")
        Parallel.threads = ProcessInfo.processInfo.activeProcessorCount
    }

    func options(_ date: String, out: String, threads: Int? = nil) -> RunOptions {
        var o = RunOptions()
        o.configPath = repoRoot + "/Pipelines/nightly.conf"
        o.runDate = CivilDate.parse(date)!
        o.inbox = repoRoot + "/SampleData/inbox-\(date)"
        o.outRoot = out + "/published"
        o.dbPath = out + "/pfp.sqlite"
        o.threads = threads
        return o
    }

    @discardableResult
    func run(_ date: String, out: String, from: Stage = .ingest, to: Stage = .emit) throws -> NightlyRun.Summary {
        try NightlyRun(options: options(date, out: out), console: Console(level: .quiet)).run(from: from, to: to)
    }

    /// name -> sha256 of every file of a published directory.
    func digests(_ dir: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for n in try publishedFiles(dir) {
            out[n] = try SHA256Digest.hex(ofFile: dir + "/" + n)
        }
        return out
    }

    func testTwoDaysPublishEveryFileOwnerOnly() throws {
        try run("2026-11-23", out: work)
        let s = try run("2026-11-24", out: work)
        let dir = work + "/published/2026-11-24"
        let feeds =
            ["population", "hr", "tax", "medical", "disability", "health", "civil", "education", "housing"]
            + ["verification", "utilities", "community", "outreach"]
        XCTAssertEqual(
            Set(try publishedFiles(dir)),
            Set(
                [
                    "push.csv", "suppressed.csv", "review.csv", "referral.csv", "watch.csv", "warning.csv",
                    "explain.jsonl", "rejects.csv", "report.html", "manifest.json", "_SUCCESS",
                ] + feeds.flatMap { ["feedback/\($0).csv", "feedback/\($0).html"] }))
        for (name, _) in try digests(dir) {
            var st = stat()
            stat(dir + "/" + name, &st)
            XCTAssertEqual(st.st_mode & 0o777, 0o600, name)
        }
        // Headers as outputs.md says.
        XCTAssertTrue(
            try FileIO.readText(dir + "/push.csv").hasPrefix(
                "household_id,person_id,policy,certainty,amount,status,district,street,community,unknown_facts,"
                    + "last_outcome,last_outcome_date\n"))
        XCTAssertTrue(
            try FileIO.readText(dir + "/suppressed.csv").hasPrefix(
                "household_id,person_id,policy,certainty,amount,outcome,outcome_date,until,district,street,community\n")
        )
        XCTAssertTrue(
            try FileIO.readText(dir + "/review.csv").hasPrefix(
                "household_id,person_id,policy,failed_criteria,district,street,community\n"))
        XCTAssertTrue(
            try FileIO.readText(dir + "/warning.csv").hasPrefix("household_id,triggers,district,street,community\n"))
        // Day two: warnings against day one's watch list, repeat status.
        let push = try FileIO.readText(dir + "/push.csv")
        XCTAssertTrue(push.contains(",repeat,"))
        XCTAssertTrue(push.contains(",new,"))
        XCTAssertGreaterThan(try FileIO.readText(dir + "/warning.csv").split(separator: "\n").count, 1)
        // explain.jsonl: one line per entry of every list.
        let entries = ["push", "suppressed", "review", "referral", "watch", "warning"].map {
            (try? FileIO.readText(dir + "/\($0).csv").split(separator: "\n").count - 1) ?? 0
        }.reduce(0, +)
        let explain = try FileIO.readText(dir + "/explain.jsonl").split(separator: "\n")
        XCTAssertEqual(explain.count, entries)
        // Sorted by its key columns (outputs.md): list id in byte order, then each list's keys in its file's order.
        let explainLists = explain.map { JSON.parseObject(Array($0.utf8))?["list"] as? String ?? "" }
        XCTAssertEqual(explainLists, explainLists.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        // Day two of SampleData has an outreach feed: some push entries are held back.
        XCTAssertEqual(Set(explainLists), ["push", "suppressed", "review", "referral", "watch", "warning"])
        for list in ["push", "suppressed", "referral"] {
            let rows = try FileIO.readText(dir + "/\(list).csv").split(separator: "\n").dropFirst()
            let keys = explain.compactMap { line -> String? in
                guard let o = JSON.parseObject(Array(line.utf8)), o["list"] as? String == list else { return nil }
                return [o["household_id"] as? String, o["person_id"] as? String, o["policy"] as? String].compactMap {
                    $0
                }.joined(separator: ",")
            }
            XCTAssertEqual(
                keys,
                rows.map {
                    $0.split(separator: ",", omittingEmptySubsequences: false).prefix(list == "referral" ? 1 : 3)
                        .joined(
                            separator: ",")
                }, list)
        }
        // The manifest counts the files' rows and digests them.
        let m = try XCTUnwrap(JSON.parseObject(try FileIO.readAll(dir + "/manifest.json")))
        let outputs = try XCTUnwrap(m["outputs"] as? [[String: Any]])
        for o in outputs {
            let name = o["file"] as! String
            XCTAssertEqual(o["sha256"] as? String, try SHA256Digest.hex(ofFile: dir + "/" + name), name)
        }
        XCTAssertEqual((m["rule_digest"] as? String)?.count, 64)
        XCTAssertNotNil(s.published)
    }

    func testOutputIsByteIdenticalWhateverTheThreadCount() throws {
        let one = work + "/one", two = work + "/two"
        for date in ["2026-11-23", "2026-11-24"] {
            Parallel.threads = 1
            try run(date, out: one)
            Parallel.threads = 2
            try run(date, out: two)
            XCTAssertEqual(try digests(one + "/published/\(date)"), try digests(two + "/published/\(date)"), date)
        }
    }

    func testStageRerunsGiveTheSamePublication() throws {
        let full = work + "/full", staged = work + "/staged"
        try run("2026-11-23", out: full)
        // A full run writes the ingest and profile results beside the stage after
        // each: both are registered and load again.
        let first = try digests(full + "/published/2026-11-23")
        try run("2026-11-23", out: full, from: .profile, to: .profile)
        try run("2026-11-23", out: full, from: .match)
        XCTAssertEqual(try digests(full + "/published/2026-11-23"), first)
        try run("2026-11-23", out: staged, from: .ingest, to: .ingest)
        XCTAssertThrowsError(try run("2026-11-23", out: staged, from: .match, to: .match)) { e in
            XCTAssertTrue("\(e)".contains("pfp stage profile"), "\(e)")
        }
        for s in [Stage.profile, .match, .emit] { try run("2026-11-23", out: staged, from: s, to: s) }
        XCTAssertEqual(try digests(full + "/published/2026-11-23"), try digests(staged + "/published/2026-11-23"))
        // --from match after a full run, and a rerun of the date: the same files again.
        try run("2026-11-23", out: staged, from: .match)
        try run("2026-11-23", out: staged)
        XCTAssertEqual(try digests(full + "/published/2026-11-23"), try digests(staged + "/published/2026-11-23"))
    }

    /// The state a run keeps (written as the match's first pass goes): every
    /// household of the watch list, with exactly its living members, each with as
    /// many values as every other.
    func testTheStateRemembersEachWatchHouseholdWithItsMembers() throws {
        let out = work + "/state", date = CivilDate.parse("2026-11-23")!
        try run("2026-11-23", out: out)
        let store = try StageStore(db: try Database(path: out + "/pfp.sqlite"))
        let state = try XCTUnwrap(try RunState.load(from: store, runDate: date))
        let data = try IngestResult.load(from: store, runDate: date)
        let watch = try FileIO.readText(out + "/published/2026-11-23/watch.csv").split(separator: "\n").dropFirst()
            .map { String($0.prefix { $0 != "," }) }
        XCTAssertGreaterThan(watch.count, 0)
        XCTAssertEqual(state.rememberedCount, watch.count)
        var householdValues = Set<Int>(), personValues = Set<Int>()
        for hid in watch {
            let h = try XCTUnwrap(state.remembered(hid), hid)
            let index = try XCTUnwrap(data.householdIDs.firstIndex(of: hid))
            let living = (Int(data.householdStart[index])..<Int(data.householdStart[index + 1])).filter {
                data.member[$0] != 0
            }.map { data.personID[$0] }
            XCTAssertEqual(Set(h.members.keys), Set(living), hid)
            householdValues.insert(h.values.count)
            for (_, mv) in h.members { personValues.insert(mv.count) }
        }
        XCTAssertEqual(householdValues.count, 1)
        XCTAssertEqual(personValues.count, 1)
        XCTAssertGreaterThan(householdValues.first! + personValues.first!, 0)
    }

    /// Finding a household's tag rows when a tag is first read, with the tags it
    /// has no rows for passed over (TagPresence), fills the same tag slots as
    /// looking for every tag at once, over the orders the stages load households
    /// in: forward, skipping ahead, and jumping back (each list of the match's
    /// second pass starts its chunk again), and whichever tags were read for the
    /// households before (a tag not read for a while catches up).
    func testLoadingWithTagPresenceFindsTheSameRows() throws {
        let out = work + "/presence", date = CivilDate.parse("2026-11-23")!
        try run("2026-11-23", out: out, from: .ingest, to: .ingest)
        let data = try IngestResult.load(from: StageStore(db: try Database(path: out + "/pfp.sqlite")), runDate: date)
        let (tags, policies) = try PipelineConfig(path: repoRoot + "/Pipelines/nightly.conf").loadCatalogue()
        let rules = try RuleSet.load(
            directory: repoRoot + "/Pipelines/rules", catalogue: tags, policyCatalogue: policies, runDate: date,
            unavailableFeeds: [])
        let presence = try XCTUnwrap(TagPresence(data: data.households))
        // Made letting the pages go behind it (as a what-if does): the same presence.
        var drops = 0
        let dropping = try XCTUnwrap(TagPresence(data: data.households) { drops += 1 })
        XCTAssertEqual(dropping.masks, presence.masks)
        XCTAssertEqual(dropping.skips, presence.skips)
        XCTAssertGreaterThan(drops, 0)
        let plain = EvalContext(rules: rules, data: data.households),
            skipping = EvalContext(rules: rules, data: data.households, presence: presence)
        var rng = SystemRandomNumberGenerator()
        var h = 0, loads = 0, skipped = 0
        while loads < 20_000 {
            let a = plain.load(household: h), b = skipping.load(household: h)
            XCTAssertEqual(a, b)
            plain.resolveAllTags()
            if Int.random(in: 0..<3, using: &rng) == 0 {
                skipping.resolveAllTags()
                XCTAssertEqual(plain.slots.array, skipping.slots.array, "household \(h)")
            } else {
                // Only some tags read for this household: the others' cursors lag behind.
                for t in 0..<data.tags.count where Bool.random(using: &rng) { skipping.resolve(tag: t) }
                for t in 0..<data.tags.count where skipping.tagReady[t] == skipping.loadGeneration {
                    for m in 0..<skipping.memberCount {
                        XCTAssertEqual(
                            plain.slots[m * data.tags.count + t], skipping.slots[m * data.tags.count + t],
                            "household \(h), tag \(t)")
                    }
                }
            }
            skipped += presence.masks[h].nonzeroBitCount < data.tags.count ? 1 : 0
            loads += 1
            switch Int.random(in: 0..<10, using: &rng) {
            case 0: h = Int.random(in: 0..<data.householdCount, using: &rng)  // anywhere, back included
            case 1, 2: h = min(data.householdCount - 1, h + Int.random(in: 2...50, using: &rng))
            default: h = h + 1 < data.householdCount ? h + 1 : 0
            }
        }
        XCTAssertGreaterThan(skipped, loads / 2, "most households should lack some tag")
    }

    func testAStageWithoutItsInputSaysWhatToRunFirst() throws {
        XCTAssertThrowsError(try run("2026-11-23", out: work, from: .profile, to: .profile)) { e in
            XCTAssertTrue("\(e)".contains("pfp run --run-date 2026-11-23") || "\(e)".contains("stage ingest"), "\(e)")
        }
    }

    func testPublicationReplacesTheDateAndKeepsOthers() throws {
        try run("2026-11-23", out: work)
        try run("2026-11-24", out: work)
        let before = try digests(work + "/published/2026-11-23")
        try run("2026-11-24", out: work)
        XCTAssertEqual(try digests(work + "/published/2026-11-23"), before)
        let names = try FileManager.default.contentsOfDirectory(atPath: work + "/published").filter {
            !$0.hasPrefix(".")
        }.sorted()
        XCTAssertEqual(names, ["2026-11-23", "2026-11-24"])
    }
}
