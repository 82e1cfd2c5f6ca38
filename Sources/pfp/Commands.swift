import Foundation
import PFPCore
import PFPIngest
import PFPRules
import PFPRun
import PFPSample

/// Options several commands share, declared once.
let configOption = OptionSpec(name: "config", value: "FILE", help: "pipeline configuration (default Pipelines/nightly.conf)")
let dbOption = OptionSpec(name: "db", value: "FILE", help: "the pipeline database (run registry and stage results)")
let quietOption = OptionSpec(name: "quiet", value: nil, help: "print only warnings and errors")

/// The --config value, or the default.
func configPath(_ a: ParsedArguments) -> String { a.value("config") ?? "Pipelines/nightly.conf" }

let runOptions: [OptionSpec] = [
    configOption,
    OptionSpec(name: "run-date", value: "YYYY-MM-DD", help: "the run date (default: today)"),
    OptionSpec(name: "inbox", value: "DIR", help: "the delivery directory (default: the configuration's inbox for the run date)"),
    OptionSpec(name: "out", value: "DIR", help: "output root; the run appears as DIR/<run date>/"),
    dbOption,
    OptionSpec(name: "allow-missing", value: "FEED", help: "go on without a missing, stale or broken feed; the policies reading it are skipped", repeatable: true),
    OptionSpec(name: "allow-drift", value: "FEED", help: "accept a feed whose row count fell by more than the configured share", repeatable: true),
    OptionSpec(name: "threads", value: "N", help: "worker threads (default: the number of cores); output is the same for any N"),
    OptionSpec(name: "from", value: "STAGE", help: "start from this stage (ingest, profile, match, emit), reusing the stored results before it"),
    quietOption,
    OptionSpec(name: "verbose", value: nil, help: "print more detail"),
]

let commands: [CommandSpec] = [
    CommandSpec(name: "run", summary: "run the nightly job: ingest, profile, match, emit",
                usage: "pfp run [--run-date D] [--inbox DIR] [--out DIR] [--db FILE] [--allow-missing FEED]... [--from STAGE]",
                options: runOptions,
                details: """
                ingest   checks every feed of the inbox against its manifest, rejects the rows the input
                         contract rejects and resolves the tags;
                profile  computes every value of the rule files for every household;
                match    evaluates every policy and list (Pipelines/rules/);
                emit     publishes <out>/<run date>/ whole: the lists, explain.jsonl, rejects.csv,
                         manifest.json and _SUCCESS last.
                Exit codes: 0 success, 65 the delivery or a rule file was refused, 64 misuse,
                75 another run holds the lock, 1 internal failure.
                """),
    CommandSpec(name: "stage", summary: "rerun one stage of a run from the stored result of the stage before",
                usage: "pfp stage ingest|profile|match|emit --run-date D [options as for 'pfp run']",
                options: runOptions,
                details: "A stage whose input is missing says which stage to run first.",
                takesWords: true),
    CommandSpec(name: "sample", summary: "write synthetic deliveries that follow the input contract",
                usage: "pfp sample --households N --seed S --run-date D --out DIR [--days K]",
                options: [
                    OptionSpec(name: "households", value: "N", help: "households in the city (10 to 10,000,000)"),
                    OptionSpec(name: "seed", value: "S", help: "random seed: the same seed gives the same bytes (default 1)"),
                    OptionSpec(name: "run-date", value: "YYYY-MM-DD", help: "run date of the first delivery (feeds are as of the day before)"),
                    OptionSpec(name: "out", value: "DIR", help: "directory that receives inbox-<date>/ folders"),
                    OptionSpec(name: "days", value: "K", help: "consecutive deliveries to write, each the day after the last with realistic changes (default 1)"),
                    OptionSpec(name: "settings", value: "FILE", help: "generator settings (default Pipelines/sample.conf)"),
                    configOption,
                    OptionSpec(name: "threads", value: "N", help: "worker threads"),
                    quietOption,
                ],
                details: "Every dirty-input feature of feeds.md appears in small numbers: GB18030, BOM, CRLF, quoted\nline breaks, 15-digit IDs, each reject reason, conflicts, tag history, deceased members, households\nwith no or two heads."),
    CommandSpec(name: "runs", summary: "list past runs with status, timings and counts",
                usage: "pfp runs [--db FILE] [--config FILE]",
                options: [
                    configOption,
                    dbOption,
                ]),
    CommandSpec(name: "bench", summary: "benchmark the nightly job on generated deliveries",
                usage: "pfp bench [--sizes 100000,1000000] [--data DIR] [--threads N] [--repeat N]",
                options: [
                    OptionSpec(name: "sizes", value: "N,N", help: "households per benchmark run (default 100000,1000000)"),
                    OptionSpec(name: "data", value: "DIR", help: "where generated deliveries are cached (default bench-data)"),
                    OptionSpec(name: "threads", value: "N", help: "worker threads for the runs"),
                    OptionSpec(name: "repeat", value: "N", help: "runs per size; the run of median total time is shown (default 1)"),
                ],
                details: "Each size runs in its own process, release build recommended (make bench). Prints per stage wall and CPU\nseconds, peak RSS and throughput, and writes the table to DIR/bench-latest.json. With --repeat N each size\nruns N times and the run of median total time is shown, with the range of the totals (this machine's\ntimes vary from run to run)."),
    CommandSpec(name: "explain", summary: "why a household is or is not listed: every value read, parameter and criterion",
                usage: "pfp explain --run-date D --household H [--policy P] [--json]",
                options: [
                    OptionSpec(name: "run-date", value: "YYYY-MM-DD", help: "the run to explain"),
                    OptionSpec(name: "household", value: "ID", help: "the household id"),
                    OptionSpec(name: "policy", value: "ID", help: "only this policy"),
                    OptionSpec(name: "json", value: nil, help: "one JSON object per decision, as in explain.jsonl (full ID numbers: personal data)"),
                    configOption,
                    dbOption,
                ],
                details: "Recomputed from the stored ingest result of that run with the rule files as they are now.\nThe text form masks ID numbers (310101********1234)."),
    CommandSpec(name: "test-rules", summary: "run the rule tests (Pipelines/tests/*.cases) against the rule files",
                usage: "pfp test-rules [--rules DIR] [--tests DIR] [--config FILE] [--case ID]",
                options: [
                    configOption,
                    OptionSpec(name: "rules", value: "DIR", help: "rule files (default: the configuration's rules)"),
                    OptionSpec(name: "tests", value: "DIR", help: "test cases (default: the configuration's rule_tests)"),
                    OptionSpec(name: "case", value: "ID", help: "run only this case"),
                ],
                details: "Each case describes a small household on a date and the expected outcome of policies and lists.\nA failure is reported with its file:line and the criteria that held, failed or were unknown."),
    CommandSpec(name: "check-rules", summary: "load and check the rule files for a run date, without any data",
                usage: "pfp check-rules [--run-date D] [--rules DIR] [--config FILE]",
                options: [
                    configOption,
                    OptionSpec(name: "rules", value: "DIR", help: "rule files (default: the configuration's rules)"),
                    OptionSpec(name: "run-date", value: "YYYY-MM-DD", help: "the date parameters are read for (default: today)"),
                ]),
    CommandSpec(name: "purge", summary: "delete run state and published runs before a date",
                usage: "pfp purge --before D [--out DIR] [--db FILE] [--config FILE]",
                options: [
                    OptionSpec(name: "before", value: "YYYY-MM-DD", help: "delete every run dated before this day"),
                    OptionSpec(name: "out", value: "DIR", help: "output root"),
                    dbOption,
                    configOption,
                ],
                details: "Deletes the stage results, registry rows and rejects of those runs and their published\ndirectories. The warning list of the next run compares with the latest run that is kept."),
    CommandSpec(name: "version", summary: "print the version", usage: "pfp version", options: []),
]

func topHelp() -> String {
    var s = """
    pfp: PolicyFindsPeople, the nightly "policy finds people" job of a civil-affairs bureau.

    usage: pfp <command> [options]

    commands:

    """
    for c in commands { s += "  " + c.name.padding(toLength: 13, withPad: " ", startingAt: 0) + c.summary + "\n" }
    s += "\n'pfp <command> --help' describes a command.\n"
    return s
}

func runOptions(from a: ParsedArguments, console: Console) throws -> RunOptions {
    var o = RunOptions()
    o.configPath = configPath(a)
    o.runDate = try a.date("run-date")
    o.inbox = a.value("inbox")
    o.outRoot = a.value("out")
    o.dbPath = a.value("db")
    o.allowMissing = Set(a.all("allow-missing"))
    o.allowDrift = Set(a.all("allow-drift"))
    if let t = try a.int("threads", min: 1) { Parallel.threads = t }
    if a.has("quiet") { console.level = .quiet }
    if a.has("verbose") { console.level = .verbose }
    return o
}

func stageNamed(_ s: String) throws -> Stage {
    guard let st = Stage(rawValue: s) else {
        throw PipelineError.usage("unknown stage '\(s)'", hint: "stages: " + Stage.allCases.map(\.rawValue).joined(separator: ", "))
    }
    return st
}

func commandRun(_ a: ParsedArguments, console: Console) throws {
    let o = try runOptions(from: a, console: console)
    let from = try a.value("from").map(stageNamed) ?? .ingest
    try NightlyRun(options: o, console: console).run(from: from, to: .emit)
}

func commandStage(_ a: ParsedArguments, console: Console) throws {
    guard let name = a.positional.first, a.positional.count == 1 else {
        throw PipelineError.usage("pfp stage needs one stage name", hint: "stages: " + Stage.allCases.map(\.rawValue).joined(separator: ", "))
    }
    let stage = try stageNamed(name)
    if a.value("from") != nil { throw PipelineError.usage("--from goes with 'pfp run', not 'pfp stage'") }
    let o = try runOptions(from: a, console: console)
    try NightlyRun(options: o, console: console).run(from: stage, to: stage)
}

func commandSample(_ a: ParsedArguments, console: Console) throws {
    guard let n = try a.int("households", min: 1) else { throw PipelineError.usage("--households N is required", hint: "see 'pfp sample --help'") }
    guard n <= 10_000_000 else { throw PipelineError.usage("--households is at most 10,000,000") }
    guard let date = try a.date("run-date") else { throw PipelineError.usage("--run-date YYYY-MM-DD is required") }
    guard let out = a.value("out") else { throw PipelineError.usage("--out DIR is required") }
    if let t = try a.int("threads", min: 1) { Parallel.threads = t }
    if a.has("quiet") { console.level = .quiet }
    let seedText = a.value("seed") ?? "1"
    guard let seed = UInt64(seedText) else { throw PipelineError.usage("--seed expects a whole number, found '\(seedText)'") }
    let days = try a.int("days", min: 1) ?? 1
    let configPath = configPath(a)
    let config = try PipelineConfig(path: configPath)
    let settingsPath = a.value("settings") ?? config.resolve("Pipelines/sample.conf")
    let knobs = try SampleKnobs(path: settingsPath)
    let gen = SampleGenerator(settings: .init(households: n, seed: seed, firstRunDate: date, days: days, outDirectory: out), knobs: knobs)
    let t0 = FileIO.now()
    let inboxes = try gen.generate(console: console)
    console.info("wrote \(inboxes.count) deliveries of \(grouped(n)) households in \(String(format: "%.1f", FileIO.now() - t0)) s under \(out)")
}

func commandRuns(_ a: ParsedArguments, console: Console) throws {
    let configPath = configPath(a)
    let dbPath: String
    if let d = a.value("db") { dbPath = d } else {
        let config = try PipelineConfig(path: configPath)
        dbPath = config.resolve(config.dbPath)
    }
    guard FileIO.exists(dbPath) else {
        throw PipelineError.badInput(location: dbPath, "no database yet", hint: "run 'pfp run' first, or pass --db FILE")
    }
    let registry = try RunRegistry(db: try Database(path: dbPath))
    let runs = try registry.list()
    if runs.isEmpty { print("no runs recorded in \(dbPath)"); return }
    print("run date    status     started               ended                 households  lists")
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
        func pad(_ x: String, _ n: Int) -> String { x.padding(toLength: max(n, x.count), withPad: " ", startingAt: 0) }
        print("\(r.runDate)  \(pad(r.status, 9))  \(pad(r.startedAt, 20))  \(pad(r.endedAt ?? "-", 20))  \(pad(households, 10))  \(text)")
        if let d = CivilDate.parse(r.runDate) {
            for t in try registry.stageTimings(runDate: d) {
                print("    \(pad(t.stage, 8)) \(String(format: "%6.2f", t.wall)) s wall, \(String(format: "%6.2f", t.cpu)) s cpu, peak \(t.rss >> 20) MiB")
            }
        }
    }
}

func commandTestRules(_ a: ParsedArguments, console: Console) throws {
    let config = try PipelineConfig(path: configPath(a))
    let (tags, policies) = try config.loadCatalogue()
    let runner = RuleCaseRunner(rulesDirectory: a.value("rules") ?? config.resolve(config.rulesPath), catalogue: tags, policyCatalogue: policies)
    var cases = try RuleCaseFile.load(directory: a.value("tests") ?? config.resolve(config.ruleTestsPath))
    if let only = a.value("case") { cases = cases.filter { $0.id == only } }
    guard !cases.isEmpty else { throw PipelineError.usage("no rule cases found") }
    let r = try runner.run(cases)
    for f in r.failures { print("FAIL \(f.caseID) (\(f.location)): \(f.message)") }
    print("rule tests: \(r.passed) passed, \(r.failures.count) failed (\(cases.count) cases, \(r.checks) checks)")
    print("\(r.passed) passed, \(cases.count - r.passed) failed")
    if !r.failures.isEmpty { throw PipelineError(.badInput, "rule tests failed") }
}

func commandCheckRules(_ a: ParsedArguments, console: Console) throws {
    let config = try PipelineConfig(path: configPath(a))
    let (tags, policies) = try config.loadCatalogue()
    let date = try a.date("run-date") ?? CivilDate.today()
    let rs = try RuleSet.load(directory: a.value("rules") ?? config.resolve(config.rulesPath), catalogue: tags, policyCatalogue: policies, runDate: date)
    print("rules for \(date): \(rs.parameters.count) parameters, \(rs.values.count) values, \(rs.policies.count) policies, \(rs.lists.count) lists; digest \(rs.digest.prefix(16))")
    for (id, why) in rs.skippedPolicies { print("  skipped: \(id) (\(why))") }
}

func commandExplain(_ a: ParsedArguments, console: Console) throws {
    var o = RunOptions()
    o.configPath = configPath(a)
    o.dbPath = a.value("db")
    guard let d = try a.date("run-date") else { throw PipelineError.usage("--run-date is required") }
    o.runDate = d
    guard let h = a.value("household") else { throw PipelineError.usage("--household is required") }
    print(try ExplainCommand.run(ExplainRequest(options: o, household: h, policy: a.value("policy"), json: a.has("json"))), terminator: "")
}

func commandPurge(_ a: ParsedArguments, console: Console) throws {
    guard let before = try a.date("before") else { throw PipelineError.usage("--before YYYY-MM-DD is required") }
    var o = RunOptions()
    o.configPath = configPath(a)
    o.outRoot = a.value("out")
    o.dbPath = a.value("db")
    _ = try Purge.run(options: o, before: before, console: console)
}
