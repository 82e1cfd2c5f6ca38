import XCTest
@testable import PFPCore
@testable import PFPCommandLine

/// Each command is declared once: its usage line and help show every argument it
/// parses, it reads every argument it declares, and every command is wired.
final class DeclarationTests: XCTestCase {
    /// A plausible value for an option, by its placeholder.
    func sample(_ placeholder: String) -> String {
        switch placeholder {
        case "YYYY-MM-DD": return "2026-11-23"
        case "N", "K", "S": return "12"
        case "N,N": return "100,200"
        case "STAGE": return "match"
        case "FORMAT": return "json"
        default: return "x"
        }
    }

    func testEveryCommandIsWiredOnceAndListed() {
        let names = Tool.commands.map { $0.name }
        XCTAssertEqual(Set(names).count, names.count, "names are unique")
        for name in names {
            XCTAssertTrue(Tool.topHelp.contains("  " + name), name)
            XCTAssertNotNil(try? Tool.parse([name, "--help"]), name)
        }
    }

    func testUsageAndHelpShowEveryDeclaredArgument() {
        for type in Tool.commands {
            XCTAssertTrue(type.help.contains("usage: \(type.usage)\n"), type.name)
            for d in type.arguments {
                XCTAssertTrue(type.usage.contains(d.synopsis), "\(type.name): usage lacks \(d.synopsis)")
                if !d.isWords {
                    XCTAssertTrue(type.help.contains("  " + d.synopsis + " "), "\(type.name): help lacks \(d.synopsis)")
                }
            }
        }
        XCTAssertEqual(RunsCommand.usage, "pfp runs [--config FILE] [--db FILE]")
        XCTAssertTrue(
            RunCommand.usage.hasSuffix("[--from STAGE | --catch-up] [--quiet | --verbose] [--log-format FORMAT]"),
            RunCommand.usage)
        XCTAssertTrue(RunCommand.usage.contains("[--allow-missing FEED...]"), RunCommand.usage)
        XCTAssertTrue(
            SampleCommand.usage.hasPrefix("pfp sample --households N [--seed S] --run-date YYYY-MM-DD --out DIR"),
            SampleCommand.usage)
    }

    /// Every argument given at once (one of each contradicting group) parses: a
    /// declaration the command does not read would fail here (`finish()`).
    func testEveryCommandReadsEveryArgumentItDeclares() throws {
        for type in Tool.commands {
            var args = [type.name]
            var skip: Set<String> = []
            for group in type.conflicts { skip.formUnion(group.dropFirst()) }
            for d in type.arguments where !skip.contains(d.name) {
                switch d.kind {
                case .option(let placeholder): args += ["--" + d.name, sample(placeholder)]
                case .flag: args.append("--" + d.name)
                case .words: args.insert("match", at: 1)
                }
            }
            XCTAssertNoThrow(try Tool.parse(args), args.joined(separator: " "))
        }
    }

    struct Forgetful: PFPCommand {
        static let name = "forgetful"
        static let summary = "declares an option it never reads"
        static let kept = Option<String>("kept", "X", help: "read")
        static let forgotten = Option<String>("forgotten", "X", help: "never read")
        static let arguments = [kept.declaration, forgotten.declaration]
        init(_ a: ArgumentReader) throws { _ = try a.value(Forgetful.kept) }
        func run(console: Console) throws {}
    }

    func testADeclarationThatIsNeverReadIsABug() {
        XCTAssertThrowsError(try Forgetful.parsed(["--kept", "a"])) { e in
            XCTAssertEqual((e as? PipelineError)?.exitCode, .failure)
            XCTAssertTrue("\(e)".contains("declares --forgotten but never reads it"), "\(e)")
        }
    }
}
