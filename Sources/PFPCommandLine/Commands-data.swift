import Foundation
import PFPCore
import PFPRules
import PFPSchema
import PFPIngest
import PFPRun
import PFPSample

/// `pfp sample`: synthetic deliveries that follow the input contract.
struct SampleCommand: PFPCommand {
    static let name = "sample"
    static let summary = "write synthetic deliveries that follow the input contract"
    static let households = Option.number(
        "households", "N", help: "households in the city", in: 10...10_000_000, required: true)
    static let seed = Option<UInt64>(
        "seed", "S", help: "random seed: the same seed gives the same bytes (default 1)",
        expected: "a whole number"
    ) { UInt64($0) }
    static let runDate = Option.date(
        "run-date", help: "run date of the first delivery (feeds are as of the day before)", required: true)
    static let out = Option<String>("out", "DIR", help: "directory that receives inbox-<date>/ folders", required: true)
    static let days = Option.number(
        "days", "K",
        help: "consecutive deliveries to write, each the day after the last "
            + "with realistic changes (default 1)", in: 1...366)
    static let settings = Option<String>("settings", "FILE", help: "generator settings (default Pipelines/sample.conf)")
    static let arguments = [
        households.declaration, seed.declaration, runDate.declaration, out.declaration, days.declaration,
        settings.declaration, Shared.config.declaration, Shared.threads.declaration, Shared.quiet.declaration,
    ]
    static let details = """
        Every dirty-input feature of feeds.md appears in small numbers: GB18030, BOM, CRLF, quoted
        line breaks, 15-digit IDs, each reject reason, conflicts, tag history, deceased members, households
        with no or two heads.
        """

    var settings: SampleGenerator.Settings
    var knobsPath: String?
    var configPath: String
    var threads: Int?
    var quiet: Bool

    init(_ a: ArgumentReader) throws {
        settings = .init(
            households: try a.value(SampleCommand.households) ?? 0, seed: try a.value(SampleCommand.seed, default: 1),
            firstRunDate: try a.value(SampleCommand.runDate) ?? CivilDate(days: 0),
            days: try a.value(SampleCommand.days, default: 1), outDirectory: try a.value(SampleCommand.out) ?? "")
        knobsPath = try a.value(SampleCommand.settings)
        configPath = try a.value(Shared.config, default: Shared.defaultConfig)
        threads = try a.value(Shared.threads)
        quiet = a.flag(Shared.quiet)
    }

    func run(console: Console) throws {
        if let threads { Parallel.threads = threads }
        if quiet { console.level = .quiet }
        let config = try PipelineConfig(path: configPath)
        let knobs = try SampleKnobs(path: knobsPath ?? config.resolve("Pipelines/sample.conf"))
        let t0 = FileIO.now()
        let inboxes = try SampleGenerator(settings: settings, knobs: knobs).generate(console: console)
        // The second and later deliveries get an outreach feed made from the first day's push list.
        if inboxes.count > 1 {
            try writeSampleOutreach(
                from: inboxes[0], sourceDate: settings.firstRunDate,
                into: inboxes.enumerated().dropFirst().map { ($1, settings.firstRunDate.adding(days: $0)) },
                configPath: configPath, seed: settings.seed, console: console)
        }
        console.info(
            "wrote \(inboxes.count) deliveries of \(grouped(settings.households)) households in "
                + "\(String(format: "%.1f", FileIO.now() - t0)) s under \(settings.outDirectory)")
    }
}

/// An outreach feed made from a delivery's own push list (outreach.md; the
/// sample's data for cooling-off): the nightly job runs on `source` for
/// `sourceDate` in a scratch directory, its push.csv is read back, and each
/// target inbox gets events about those entries as of the day before its date,
/// on and around the cooling-off boundaries the rule files set for that date.
func writeSampleOutreach(
    from source: String, sourceDate: CivilDate, into targets: [(inbox: String, date: CivilDate)], configPath: String,
    seed: UInt64, console: Console
) throws {
    let scratch = NSTemporaryDirectory() + "pfp-sample-\(getpid())-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    var options = RunOptions()
    options.configPath = configPath
    options.runDate = sourceDate
    options.inbox = source
    options.outRoot = scratch + "/out"
    options.dbPath = scratch + "/pfp.sqlite"
    try NightlyRun(options: options, console: Console(level: .quiet)).run()
    let push = try FileIO.readText(scratch + "/out/\(sourceDate)/push.csv")
    let entries = push.split(separator: "\n").dropFirst().map { line in
        let f = line.split(separator: ",", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        return OutreachSample.Entry(household: f[0], person: f[1], policy: f[2])
    }
    let config = try PipelineConfig(path: configPath)
    let (catalogue, policies) = try config.loadCatalogue()
    for (inbox, date) in targets {
        let rules = try RuleSet.load(
            directory: config.resolve(config.rulesPath), catalogue: catalogue, policyCatalogue: policies,
            runDate: date, unavailableFeeds: [])
        var days: [String: Int] = [:]
        for o in Outcome.allCases { if let d = rules.outreach.cooling[Int(o.rawValue)]?.days { days[o.code] = d } }
        try OutreachSample(entries: entries, coolingDays: days, seed: seed).write(inbox: inbox, runDate: date)
        console.progress("sample \(date): outreach feed from the \(grouped(entries.count)) pushes of \(sourceDate)")
    }
}

/// `pfp status`: for monitoring checks. The last run of each recent date, and
/// whether the expected date (today in the configuration's time zone) succeeded.
struct StatusCommand: PFPCommand {
    static let name = "status"
    static let summary = "the recent runs; exit 0 when the expected date's run succeeded, 1 otherwise"
    static let days = Option.number("days", "N", help: "recent run dates to show (default 7)", in: 1...366)
    static let runDate = Option.date(
        "run-date", help: "the date that must have succeeded (default: today in the configuration's time zone)")
    static let arguments = [Shared.config.declaration, Shared.db.declaration, days.declaration, runDate.declaration]
    static let details = """
        For a monitoring check or an alert: exit 0 when the last run of the expected date succeeded; exit 1,
        with the reason, when it failed, was refused, is still running, stopped part way, or has not run.
        The registry is only read.
        """

    var configPath: String
    var dbPath: String?
    var days: Int
    var expected: CivilDate?

    init(_ a: ArgumentReader) throws {
        configPath = try a.value(Shared.config, default: Shared.defaultConfig)
        dbPath = try a.value(Shared.db)
        days = try a.value(StatusCommand.days, default: 7)
        expected = try a.value(StatusCommand.runDate)
    }

    func run(console: Console) throws {
        let config = try PipelineConfig(path: configPath)
        let path = dbPath ?? config.resolve(config.dbPath)
        let date = expected ?? config.today()
        guard FileIO.exists(path) else {
            throw PipelineError.failure(
                location: path, "no run of \(date): there is no database yet",
                hint: "check that the nightly job is scheduled (deploy/), or pass --db FILE")
        }
        let runs = try RunRegistry(db: try Database(path: path)).list()
        // The registry keeps one row per run date: its last run.
        let recent = runs.filter {
            CivilDate.parse($0.runDate).map { $0 <= date && $0.days > date.days - Int32(days) } ?? false
        }
        .sorted { $0.runDate > $1.runDate }
        for r in recent {
            let why = r.message?.split(separator: "\n").first.map { "  " + $0 } ?? ""
            let status = r.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
            print("\(r.runDate)  \(status)  \(r.endedAt ?? "-")\(why)")
        }
        guard let last = runs.first(where: { $0.runDate == date.description }) else {
            let before = runs.map(\.runDate).filter { $0 < date.description }.max()
            throw PipelineError.failure(
                "no run of \(date) recorded\(before.map { "; the last run date before it is \($0)" } ?? "")",
                hint: "run 'pfp run --run-date \(date)' (or 'pfp run --catch-up') once the delivery is in its inbox")
        }
        guard last.status == .succeeded else {
            let what = last.status == .running ? "is still running" : "did not succeed: \(last.status.rawValue)"
            throw PipelineError.failure(
                "the run of \(date) \(what)" + (last.message?.split(separator: "\n").first.map { ": \($0)" } ?? ""),
                hint: "see 'pfp runs' and the run's log; rerun with 'pfp run --run-date \(date)'")
        }
        print("ok: the run of \(date) succeeded at \(last.endedAt ?? "-")")
    }
}

/// `pfp runs`: the run registry, one run a line.
struct RunsCommand: PFPCommand {
    static let name = "runs"
    static let summary = "list past runs with status, timings and counts"
    static let arguments = [Shared.config.declaration, Shared.db.declaration]

    var configPath: String
    var dbPath: String?

    init(_ a: ArgumentReader) throws {
        configPath = try a.value(Shared.config, default: Shared.defaultConfig)
        dbPath = try a.value(Shared.db)
    }

    func run(console: Console) throws {
        let path: String
        if let dbPath {
            path = dbPath
        } else {
            let config = try PipelineConfig(path: configPath)
            path = config.resolve(config.dbPath)
        }
        guard FileIO.exists(path) else {
            throw PipelineError.badInput(
                location: path, "no database yet", hint: "run 'pfp run' first, or pass --db FILE")
        }
        let registry = try RunRegistry(db: try Database(path: path))
        let runs = try registry.list()
        if runs.isEmpty { print("no runs recorded in \(path)"); return }
        print("run date    status     started               ended                 households  lists")
        func pad(_ x: String, _ n: Int) -> String { x.padding(toLength: max(n, x.count), withPad: " ", startingAt: 0) }
        for r in runs {
            // The summary is JSON: show the households and each list's total, or the message.
            var text = r.message?.split(separator: "\n").first.map(String.init) ?? ""
            var households = "-"
            if let s = r.summary, let obj = JSON.parseObject(Array(s.utf8)) {
                if let h = obj["households"] as? Int { households = grouped(h) }
                if let counts = obj["counts"] as? [String: Any] {
                    text = counts.keys.sorted().compactMap { k in
                        ((counts[k] as? [String: Any])?["total"] as? Int).map { "\(k) \(grouped($0))" }
                    }.joined(separator: ", ")
                }
            }
            print(
                "\(r.runDate)  \(pad(r.status.rawValue, 9))  \(pad(r.startedAt, 20))  "
                    + "\(pad(r.endedAt ?? "-", 20))  \(pad(households, 10))  \(text)"
            )
            if let d = CivilDate.parse(r.runDate) {
                for t in try registry.stageTimings(runDate: d) {
                    print(
                        "    \(pad(t.stage, 8)) \(String(format: "%6.2f", t.wall)) s wall, "
                            + "\(String(format: "%6.2f", t.cpu)) s cpu, "
                            + "peak \(t.rss >> 20) MiB")
                }
            }
        }
    }
}

/// `pfp explain`: why a household is or is not listed.
struct ExplainCommand: PFPCommand {
    static let name = "explain"
    static let summary = "why a household is or is not listed: every value read, parameter and criterion"
    static let runDate = Option.date("run-date", help: "the run to explain", required: true)
    static let household = Option<String>("household", "ID", help: "the household id", required: true)
    static let policy = Option<String>("policy", "ID", help: "only this policy")
    static let json = Flag(
        "json", help: "one JSON object per decision, as in explain.jsonl (full ID numbers: personal data)")
    static let arguments = [
        runDate.declaration, household.declaration, policy.declaration, json.declaration,
        Shared.config.declaration, Shared.db.declaration,
    ]
    static let details = """
        Recomputed from the stored ingest result of that run with the rule files as they are now.
        The text form masks ID numbers (310101********1234).
        """

    var request: ExplainRequest

    init(_ a: ArgumentReader) throws {
        var o = RunOptions()
        o.runDate = try a.value(ExplainCommand.runDate)
        o.configPath = try a.value(Shared.config, default: Shared.defaultConfig)
        o.dbPath = try a.value(Shared.db)
        request = ExplainRequest(
            options: o, household: try a.value(ExplainCommand.household) ?? "",
            policy: try a.value(ExplainCommand.policy), json: a.flag(ExplainCommand.json))
    }

    func run(console: Console) throws {
        print(try PFPRun.ExplainCommand.run(request), terminator: "")
    }
}

/// `pfp purge`: run state and published runs before a date deleted.
struct PurgeCommand: PFPCommand {
    static let name = "purge"
    static let summary = "delete run state and published runs before a date"
    static let before = Option.date("before", help: "delete every run dated before this day", required: true)
    static let out = Option<String>("out", "DIR", help: "output root")
    static let arguments = [before.declaration, out.declaration, Shared.db.declaration, Shared.config.declaration]
    static let details = """
        Deletes the stage results, registry rows and rejects of those runs and their published
        directories. The warning list of the next run compares with the latest run that is kept.
        """

    var options = RunOptions()
    var before: CivilDate

    init(_ a: ArgumentReader) throws {
        before = try a.value(PurgeCommand.before) ?? CivilDate(days: 0)
        options.outRoot = try a.value(PurgeCommand.out)
        options.dbPath = try a.value(Shared.db)
        options.configPath = try a.value(Shared.config, default: Shared.defaultConfig)
    }

    func run(console: Console) throws {
        _ = try Purge.run(options: options, before: before, console: console)
    }
}

/// `pfp version`.
struct VersionCommand: PFPCommand {
    static let name = "version"
    static let summary = "print the version"
    static let arguments: [ArgumentDeclaration] = []

    init(_ a: ArgumentReader) throws {}

    func run(console: Console) throws { print("pfp \(PFPRunVersion.text)") }
}

enum PFPRunVersion {
    static var text: String { "\(PFPVersion.pipeline) (output schema \(PFPVersion.schema))" }
}
