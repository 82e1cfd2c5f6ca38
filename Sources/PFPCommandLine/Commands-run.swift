import Foundation
import PFPCore
import PFPSchema
import PFPRun

/// Arguments several commands share, declared once.
enum Shared {
    static let config = Option<String>(
        "config", "FILE", help: "pipeline configuration (default Pipelines/nightly.conf)")
    static let db = Option<String>("db", "FILE", help: "the pipeline database (run registry and stage results)")
    static let quiet = Flag("quiet", help: "print only warnings and errors")
    static let verbose = Flag("verbose", help: "print more detail")
    static let threads = Option.number(
        "threads", "N", help: "worker threads (default: the number of cores); output is the same for any N",
        in: 1...4096)
    static let logFormat = Option.choice(
        "log-format", "FORMAT",
        help: "text (default: for people; a live progress line on a terminal) or json (one JSON object per "
            + "line per event, for journald and log shippers)", Console.Format.allCases.map { ($0.rawValue, $0) })
    static let defaultConfig = "Pipelines/nightly.conf"
    static let stages = Stage.allCases.map { ($0.rawValue, $0) }
}

/// What `pfp run` and `pfp stage` share: where the run reads and writes, and how it talks.
struct RunArguments {
    static let runDate = Option.date(
        "run-date", help: "the run date (default: today in the configuration's time zone)")
    static let inbox = Option<String>(
        "inbox", "DIR", help: "the delivery directory (default: the configuration's inbox for the run date)")
    static let out = Option<String>("out", "DIR", help: "output root; the run appears as DIR/<run date>/")
    static let allowMissing = Option<String>(
        "allow-missing", "FEED",
        help: "go on without a missing, stale or broken feed; "
            + "the policies reading it are skipped", repeatable: true)
    static let metricsDir = Option<String>(
        "metrics-dir", "DIR",
        help: "write pfp.prom (Prometheus text format) here after the run (default: the configuration's metrics_dir)")
    static let allowDrift = Option<String>(
        "allow-drift", "FEED", help: "accept a feed whose row count fell by more than the configured share",
        repeatable: true)

    static let declarations = [
        Shared.config.declaration, runDate.declaration, inbox.declaration, out.declaration, Shared.db.declaration,
        allowMissing.declaration, allowDrift.declaration, Shared.threads.declaration, metricsDir.declaration,
    ]
    static let talk = [Shared.quiet.declaration, Shared.verbose.declaration, Shared.logFormat.declaration]
    static let conflicts = [[Shared.quiet.name, Shared.verbose.name]]

    var options = RunOptions()
    var level = Console.Level.normal
    var format = Console.Format.text

    init(_ a: ArgumentReader) throws {
        options = try RunArguments.delivery(a)
        options.outRoot = try a.value(RunArguments.out)
        options.dbPath = try a.value(Shared.db)
        options.allowDrift = Set(try a.values(RunArguments.allowDrift))
        options.metricsDir = try a.value(RunArguments.metricsDir)
        (level, format) = try RunArguments.talking(a)
    }

    /// The delivery a command reads: configuration, run date, inbox, the feeds
    /// allowed to be missing, threads (`pfp run`, `pfp stage`, `pfp shard`).
    static func delivery(_ a: ArgumentReader) throws -> RunOptions {
        var o = RunOptions()
        o.configPath = try a.value(Shared.config, default: Shared.defaultConfig)
        o.runDate = try a.value(RunArguments.runDate)
        o.inbox = try a.value(RunArguments.inbox)
        o.allowMissing = Set(try a.values(RunArguments.allowMissing))
        o.threads = try a.value(Shared.threads)
        return o
    }

    /// How a command talks: --quiet, --verbose, --log-format.
    static func talking(_ a: ArgumentReader) throws -> (Console.Level, Console.Format) {
        let quiet = a.flag(Shared.quiet), verbose = a.flag(Shared.verbose)  // both read: each is declared
        return (quiet ? .quiet : verbose ? .verbose : .normal, try a.value(Shared.logFormat) ?? .text)
    }

    /// Applies the thread count and verbosity, then runs the stages.
    func run(from: Stage, to: Stage, console: Console) throws {
        if let t = options.threads { Parallel.threads = t }
        console.level = level
        console.format = format
        try NightlyRun(options: options, console: console).run(from: from, to: to)
    }
}

/// `pfp run`: the nightly job.
struct RunCommand: PFPCommand {
    static let name = "run"
    static let summary = "run the nightly job: ingest, profile, match, emit"
    static let from = Option.choice(
        "from", "STAGE",
        help: "start from this stage (ingest, profile, match, emit), "
            + "reusing the stored results before it", Shared.stages)
    static let catchUp = Flag(
        "catch-up",
        help: "run every date since the last successful run up to today whose inbox is there, in order; "
            + "stop at the first that does not succeed")
    static let arguments = RunArguments.declarations + [from.declaration, catchUp.declaration] + RunArguments.talk
    /// --catch-up chooses the dates, inboxes and stages itself.
    static let conflicts =
        RunArguments.conflicts + [
            [catchUp.name, RunArguments.runDate.name], [catchUp.name, RunArguments.inbox.name],
            [catchUp.name, from.name],
        ]
    static let details = """
        ingest   checks every feed of the inbox against its manifest, rejects the rows the input
                 contract rejects and resolves the tags;
        profile  computes every value of the rule files for every household;
        match    evaluates every policy and list (Pipelines/rules/);
        emit     publishes <out>/<run date>/ whole: the lists, explain.jsonl, rejects.csv,
                 manifest.json and _SUCCESS last.
        Exit codes: 0 success, 65 the delivery or a rule file was refused, 64 misuse,
        75 another run holds the lock, 1 internal failure.
        """

    var job: RunArguments
    var from: Stage?
    var catchUp: Bool

    init(_ a: ArgumentReader) throws {
        job = try RunArguments(a)
        from = try a.value(RunCommand.from)
        catchUp = a.flag(RunCommand.catchUp)
    }

    func run(console: Console) throws {
        guard catchUp else { return try job.run(from: from ?? .ingest, to: .emit, console: console) }
        console.level = job.level
        console.format = job.format
        let config = try PipelineConfig(path: job.options.configPath)
        let dates = try RunCommand.catchUpDates(config: config, dbPath: job.options.dbPath)
        if dates.isEmpty { console.info("nothing to catch up: no inbox waits after the last successful run") }
        // Each date compares its warnings and statuses with the date before it; the
        // first that does not succeed stops the catch-up with its own message and exit code.
        for d in dates {
            var night = job
            night.options.runDate = d
            try night.run(from: .ingest, to: .emit, console: console)
        }
    }

    /// The dates after the last successful run, up to today in the bureau's zone,
    /// whose inbox is there, in order (today alone when nothing has succeeded yet).
    static func catchUpDates(config: PipelineConfig, dbPath: String?) throws -> [CivilDate] {
        let today = config.today()
        let path = dbPath ?? config.resolve(config.dbPath)
        var last: CivilDate?
        if FileIO.exists(path) {
            last = try RunRegistry(db: try Database(path: path)).list()
                .filter { $0.status == .succeeded }.compactMap { CivilDate.parse($0.runDate) }.max()
        }
        guard let last else { return FileIO.isDirectory(config.inbox(for: today)) ? [today] : [] }
        var out: [CivilDate] = []
        var d = last.adding(days: 1)
        while d <= today {
            if FileIO.isDirectory(config.inbox(for: d)) { out.append(d) }
            d = d.adding(days: 1)
        }
        return out
    }
}

/// `pfp stage NAME`: one stage from the stored result of the one before.
struct StageCommand: PFPCommand {
    static let name = "stage"
    static let summary = "rerun one stage of a run from the stored result of the stage before"
    static let stage = Words("ingest|profile|match|emit", help: "the stage to rerun")
    static let arguments = [stage.declaration] + RunArguments.declarations + RunArguments.talk
    static let conflicts = RunArguments.conflicts
    static let details = "A stage whose input is missing says which stage to run first."

    var job: RunArguments
    var words: [String]

    init(_ a: ArgumentReader) throws {
        words = a.words(StageCommand.stage)
        job = try RunArguments(a)
    }

    /// The one stage named.
    var stage: Stage? { words.count == 1 ? Stage(rawValue: words[0]) : nil }

    func validate() throws {
        guard stage != nil else {
            throw PipelineError.usage(
                "pfp stage needs one stage name: ingest, profile, match or emit",
                hint: "e.g. 'pfp stage match --run-date 2026-11-23'")
        }
    }

    func run(console: Console) throws {
        guard let stage else { return try validate() }
        try job.run(from: stage, to: stage, console: console)
    }
}
