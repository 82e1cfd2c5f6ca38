import Foundation
import PFPCore
import PFPSchema
import PFPIngest
import PFPRules
import PFPRun

/// What both rule commands read: the configuration, its catalogues and the rule files' folder.
struct RulesArguments {
    static let rules = Option<String>("rules", "DIR", help: "rule files (default: the configuration's rules)")
    static let declarations = [Shared.config.declaration, rules.declaration]

    var configPath: String
    var rulesDirectory: String?

    init(_ a: ArgumentReader) throws {
        configPath = try a.value(Shared.config, default: Shared.defaultConfig)
        rulesDirectory = try a.value(RulesArguments.rules)
    }

    /// The configuration, its tag and policy catalogues, and the rule files' folder.
    func load() throws -> (config: PipelineConfig, tags: TagCatalogue, policies: PolicyCatalogue, rules: String) {
        let config = try PipelineConfig(path: configPath)
        let (tags, policies) = try config.loadCatalogue()
        return (config, tags, policies, rulesDirectory ?? config.resolve(config.rulesPath))
    }
}

/// `pfp test-rules`: the rule tests against the rule files.
struct TestRulesCommand: PFPCommand {
    static let name = "test-rules"
    static let summary = "run the rule tests (Pipelines/tests/*.cases) against the rule files"
    static let tests = Option<String>("tests", "DIR", help: "test cases (default: the configuration's rule_tests)")
    static let only = Option<String>("case", "ID", help: "run only this case")
    static let arguments = RulesArguments.declarations + [tests.declaration, only.declaration]
    static let details = """
        Each case describes a small household on a date and the expected outcome of policies and lists.
        A failure is reported with its file:line and the criteria that held, failed or were unknown.
        The last line is 'rules: N passed, N failed' (cases).
        """

    var rules: RulesArguments
    var testsDirectory: String?
    var only: String?

    init(_ a: ArgumentReader) throws {
        rules = try RulesArguments(a)
        testsDirectory = try a.value(TestRulesCommand.tests)
        only = try a.value(TestRulesCommand.only)
    }

    func run(console: Console) throws {
        let (config, tags, policies, directory) = try rules.load()
        let runner = RuleCaseRunner(rulesDirectory: directory, catalogue: tags, policyCatalogue: policies)
        var cases = try RuleCaseFile.load(directory: testsDirectory ?? config.resolve(config.ruleTestsPath))
        if let only { cases = cases.filter { $0.id == only } }
        guard !cases.isEmpty else {
            throw PipelineError.usage(
                only.map { "no rule case '\($0)'" } ?? "no rule cases found",
                hint: "check --tests, --case or the configuration's rule_tests")
        }
        let r = try runner.run(cases)
        for f in r.failures { print("FAIL \(f.caseID) (\(f.location)): \(f.message)") }
        print("rule tests: \(cases.count) cases, \(r.checks) checks, \(r.failures.count) failed")
        print("rules: \(r.passed) passed, \(cases.count - r.passed) failed")
        if !r.failures.isEmpty {
            throw PipelineError(.badInput, "rule tests failed", hint: "the FAIL lines above say which case and line")
        }
    }
}

/// `pfp check-rules`: the rule files loaded and checked for a date, without data.
struct CheckRulesCommand: PFPCommand {
    static let name = "check-rules"
    static let summary = "load and check the rule files for a run date, without any data"
    static let runDate = Option.date("run-date", help: "the date parameters are read for (default: today)")
    static let arguments = RulesArguments.declarations + [runDate.declaration]

    var rules: RulesArguments
    var runDate: CivilDate?

    init(_ a: ArgumentReader) throws {
        rules = try RulesArguments(a)
        runDate = try a.value(CheckRulesCommand.runDate)
    }

    func run(console: Console) throws {
        let (config, tags, policies, directory) = try rules.load()
        let date = runDate ?? config.today()
        let rs = try RuleSet.load(directory: directory, catalogue: tags, policyCatalogue: policies, runDate: date)
        print(
            "rules for \(date): \(rs.parameters.count) parameters, \(rs.values.count) values, "
                + "\(rs.policies.count) policies, "
                + "\(rs.lists.count) lists; digest \(rs.digest.prefix(16))")
        for (id, why) in rs.skippedPolicies { print("  skipped: \(id) (\(why))") }
    }
}

/// `pfp whatif`: a reform tried on a stored night.
struct WhatIfCommand: PFPCommand {
    static let name = "whatif"
    static let summary = "try a reform (*.reform) on a stored night: the lists it would give and what changes"
    static let runDate = Option.date("run-date", help: "the stored run to start from", required: true)
    static let reform = Option<String>(
        "reform", "FILE", help: "a reform file (Pipelines/reforms/*.reform)", repeatable: true)
    static let sweep = Option<String>(
        "sweep", "PARAMETER=FROM..TO:STEP",
        help: "one reform per value of a parameter, each an entry from the run date (e.g. dibao.standard=1500..1800:50)"
    )
    static let out = Option<String>(
        "out", "DIR", help: "where the reforms' folders go (default out/whatif/<run date>/)")
    static let everyHousehold = Flag(
        "every-household",
        help: "decide every household again, not only those a changed number can reach (slower; the same files)")
    static let arguments = [
        runDate.declaration, reform.declaration, sweep.declaration, out.declaration, everyHousehold.declaration,
        Shared.config.declaration, Shared.db.declaration,
        Shared.threads.declaration, Shared.quiet.declaration, Shared.verbose.declaration,
    ]
    static let conflicts = [[Shared.quiet.name, Shared.verbose.name]]
    static let details = """
        Reads the stored results of the run of that date (no feed is read again) and evaluates each
        reform's rules: its parameter entries merged into the rules' (an entry of the same date
        replaced, otherwise added), its rule files' statements replacing those of the same id.
        Writes <out>/<reform name>/ whole or not at all: the lists as the nightly run would publish
        them, changes.csv (every entry added, removed or changed against the published run),
        changes.jsonl (why each changed), summary.csv (push entries and cost per policy and
        district, before and after), report.html and manifest.json. The changes of up to ten
        reforms (a sweep's values) are explained in one pass over the households, and their folders
        published after it, in order. Never changes a published run, the run registry or the state
        later runs read.

        A reform that changes only numbers (parameter entries) decides again only the households
        those numbers can reach: where a comparison reading a changed number gives another result
        for the household or one of its people, or where an entry's amount reads one; every other
        household keeps its published entries (docs/WHATIF.md, "How it stays fast"). A reform with
        rule files decides every household again.
        """

    var request: WhatIfRequest
    var threads: Int?
    var verbose = false, quiet = false

    init(_ a: ArgumentReader) throws {
        var o = RunOptions()
        o.runDate = try a.value(WhatIfCommand.runDate)
        o.configPath = try a.value(Shared.config, default: Shared.defaultConfig)
        o.dbPath = try a.value(Shared.db)
        threads = try a.value(Shared.threads)
        verbose = a.flag(Shared.verbose)
        quiet = a.flag(Shared.quiet)
        request = WhatIfRequest(
            options: o, reformPaths: try a.values(WhatIfCommand.reform), outRoot: try a.value(WhatIfCommand.out),
            sweep: try a.value(WhatIfCommand.sweep))
        request.everyHousehold = a.flag(WhatIfCommand.everyHousehold)
    }

    func run(console: Console) throws {
        if let t = threads { Parallel.threads = t }
        if verbose { console.level = .verbose }
        if quiet { console.level = .quiet }
        for o in try WhatIf.run(request, console: console) {
            if o.isSweepSummary {
                print("summary of the sweep: \(o.path)")
                continue
            }
            print("\(o.reform): \(o.added) added, \(o.removed) removed, \(o.changed) changed: \(o.path)")
        }
    }
}
