import XCTest
@testable import PFPCore
@testable import PFPCommandLine
@testable import PFPRun

/// The command line parsed in process, the way swift-argument-parser tests itself
/// (`AssertParse`): what each command line becomes, and what is refused with which message.
final class ParseTests: XCTestCase {
    func parse<C: PFPCommand>(
        _ args: [String], as type: C.Type, file: StaticString = #filePath, line: UInt = #line
    ) throws -> C {
        guard case .command(let c) = try Tool.parse(args) else {
            XCTFail("expected a command", file: file, line: line)
            throw PipelineError.failure("not a command")
        }
        return try XCTUnwrap(c as? C, file: file, line: line)
    }

    /// The usage error a command line gives (exit 64), or a failure.
    func refusal(_ args: [String], file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try Tool.parse(args)
            XCTFail("expected \(args) to be refused", file: file, line: line)
        } catch let e as PipelineError {
            XCTAssertEqual(e.exitCode, .usage, e.description, file: file, line: line)
            return e.description
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
        return ""
    }

    func testRunReadsEveryOptionWithItsType() throws {
        let run = try parse(
            [
                "run", "--run-date", "2026-11-23", "--inbox", "in", "--out=o", "--db", "d.sqlite", "--allow-missing",
                "utilities",
                "--allow-missing", "community", "--allow-drift", "hr", "--threads", "3", "--from", "match", "--verbose",
                "--config", "c.conf",
            ], as: RunCommand.self)
        XCTAssertEqual(run.job.options.runDate, CivilDate.parse("2026-11-23"))
        XCTAssertEqual(run.job.options.inbox, "in")
        XCTAssertEqual(run.job.options.outRoot, "o")
        XCTAssertEqual(run.job.options.dbPath, "d.sqlite")
        XCTAssertEqual(run.job.options.allowMissing, ["utilities", "community"])
        XCTAssertEqual(run.job.options.allowDrift, ["hr"])
        XCTAssertEqual(run.job.options.threads, 3)
        XCTAssertEqual(run.job.options.configPath, "c.conf")
        XCTAssertEqual(run.job.level, .verbose)
        XCTAssertEqual(run.from, .match)
        let plain = try parse(["run"], as: RunCommand.self)
        XCTAssertEqual(plain.job.options.configPath, "Pipelines/nightly.conf")
        XCTAssertNil(plain.job.options.runDate)
        XCTAssertNil(plain.from, "from the first stage")
        XCTAssertEqual(plain.job.level, .normal)
    }

    func testStageTakesOneStageName() throws {
        XCTAssertEqual(
            try parse(["stage", "profile", "--run-date", "2026-11-23"], as: StageCommand.self).stage, .profile)
        XCTAssertTrue(refusal(["stage"]).contains("needs one stage name"))
        XCTAssertTrue(refusal(["stage", "ingest", "match"]).contains("needs one stage name"))
        XCTAssertTrue(refusal(["stage", "bogus"]).contains("needs one stage name"))
        XCTAssertTrue(refusal(["stage", "match", "--from", "ingest"]).contains("unknown option --from"))
    }

    func testAmbiguousCommandLinesAreRefusedWithWhatToWrite() {
        let db = refusal(["runs", "--db", "--config", "x"])
        XCTAssertTrue(
            db.contains("--db needs a value, but the next argument is '--config', which reads as an option"), db)
        XCTAssertTrue(db.contains("write --db FILE"), db)
        let quiet = refusal(["run", "--quiet=false"])
        XCTAssertTrue(quiet.contains("--quiet takes no value: write --quiet to turn it on, or leave it out"), quiet)
        XCTAssertTrue(refusal(["run", "--quiet", "--verbose"]).contains("--quiet and --verbose contradict each other"))
        XCTAssertTrue(refusal(["run", "--db", "a", "--db", "b"]).contains("--db given twice"))
        XCTAssertTrue(refusal(["run", "--quiet", "--quiet"]).contains("--quiet given twice"))
        XCTAssertTrue(refusal(["run", "--db"]).contains("--db needs a value: --db FILE"))
        XCTAssertTrue(refusal(["run", "--thread", "2"]).contains("unknown option --thread (did you mean --threads?)"))
        XCTAssertTrue(
            refusal(["run", "--threads", "0"]).contains("--threads expects a whole number from 1 to 4,096, found '0'"))
        XCTAssertTrue(
            refusal(["run", "--run-date", "2026-02-30"]).contains("--run-date expects a real date YYYY-MM-DD"))
        XCTAssertTrue(
            refusal(["run", "--from", "middle"]).contains("--from expects one of ingest, profile, match, emit"))
        XCTAssertTrue(refusal(["run", "stray"]).contains("unexpected argument 'stray'"))
        XCTAssertTrue(refusal(["rnu"]).contains("unknown command 'rnu' (did you mean run?)"))
        XCTAssertTrue(refusal([]).contains("a command is needed"))
        XCTAssertTrue(
            refusal(["sample", "--run-date", "2026-11-23", "--out", "x"]).contains("--households N is required"))
        XCTAssertTrue(
            refusal(["sample", "--households", "5", "--run-date", "2026-11-23", "--out", "x"]).contains(
                "from 10 to 10,000,000"))
        XCTAssertTrue(refusal(["bench", "--sizes", "100,x"]).contains("--sizes expects numbers of households"))
        XCTAssertTrue(refusal(["explain", "--run-date", "2026-11-23"]).contains("--household ID is required"))
    }

    func testAValueThatLooksLikeAnOptionCanStillBeGivenInline() throws {
        XCTAssertEqual(try parse(["runs", "--db=--odd-name"], as: RunsCommand.self).dbPath, "--odd-name")
    }

    func testHelpIsAskedAnywhere() throws {
        for args in [["run", "--help"], ["run", "--bogus", "-h"], ["help", "run"], ["--help", "run"]] {
            guard case .help(let type) = try Tool.parse(args) else { return XCTFail("\(args)") }
            XCTAssertEqual(type.name, "run")
        }
        guard case .topHelp = try Tool.parse(["--help"]) else { return XCTFail("top help") }
        guard case .version = try Tool.parse(["--version"]) else { return XCTFail("version") }
    }

    func testTestRulesNamesTheMissingCase() throws {
        let c = try parse(["test-rules", "--case", "no-such-case"], as: TestRulesCommand.self)
        XCTAssertEqual(c.only, "no-such-case")
    }
}
