import Foundation
import PFPCore
import PFPRun

/// A command of `pfp`, declared once: its name, summary, arguments (the parser,
/// the usage line and the help all come from them), how it reads them, a
/// validation that runs before anything is done, and what it does.
package protocol PFPCommand: Sendable {
    static var name: String { get }
    static var summary: String { get }
    /// Paragraphs of help after the usage line.
    static var details: String { get }
    static var arguments: [ArgumentDeclaration] { get }
    /// Groups of arguments of which at most one may be given.
    static var conflicts: [[String]] { get }
    /// Reads every declared argument; a value of the wrong type is refused here.
    init(_ arguments: ArgumentReader) throws
    /// Checks what the types cannot (a combination, a stage name), before `run`.
    func validate() throws
    func run(console: Console) throws
}

extension PFPCommand {
    /// Parses and validates this command from its arguments (`nil` for help).
    static func parsed(_ args: [String]) throws -> (any PFPCommand)? {
        let reader = try ArgumentReader(args, command: name, declarations: arguments, conflicts: conflicts)
        if reader.wantsHelp { return nil }
        let command = try Self(reader)
        try reader.finish()
        try command.validate()
        return command
    }

    package static var details: String { "" }
    package static var conflicts: [[String]] { [] }
    package func validate() throws {}

    /// `usage: pfp NAME …` with every argument: required ones bare, optional ones
    /// in brackets, repeatable ones with `...`, contradicting flags as `[--a | --b]`.
    package static var usage: String {
        var parts = ["pfp", name]
        var done: Set<String> = []
        for d in arguments where !done.contains(d.name) {
            if let group = conflicts.first(where: { $0.contains(d.name) }) {
                let members = arguments.filter { group.contains($0.name) }
                parts.append("[" + members.map(\.synopsis).joined(separator: " | ") + "]")
                done.formUnion(group)
                continue
            }
            let text = d.synopsis + (d.repeatable ? "..." : "")
            parts.append(d.required ? text : "[\(text)]")
            done.insert(d.name)
        }
        return parts.joined(separator: " ")
    }

    /// The whole help: summary, usage, details and every option with its help.
    package static var help: String {
        var s = "pfp \(name): \(summary)\n\nusage: \(usage)\n"
        if !details.isEmpty { s += "\n" + details + "\n" }
        let listed =
            arguments.filter { !$0.isWords } + [ArgumentDeclaration(name: "help", kind: .flag, help: "show this help")]
        s += "\noptions:\n"
        for d in listed {
            let left = "  " + d.synopsis
            var text = d.help
            if d.repeatable { text += " (repeatable)" }
            if d.required { text += " (required)" }
            s += left.padding(toLength: max(left.count + 2, 30), withPad: " ", startingAt: 0) + text + "\n"
        }
        return s
    }
}

/// What a command line asks for.
package enum Invocation {
    case topHelp
    case help(any PFPCommand.Type)
    case version
    /// A command, parsed and validated, ready to run.
    case command(any PFPCommand)
}

/// The `pfp` tool: its commands and how a command line becomes one of them.
package enum Tool {
    /// Every command; dispatch goes through this list, so a command cannot be
    /// declared and left unwired.
    package static let commands: [any PFPCommand.Type] = [
        RunCommand.self, StageCommand.self, SampleCommand.self, RunsCommand.self, BenchCommand.self,
        ExplainCommand.self, WhatIfCommand.self, TestRulesCommand.self, CheckRulesCommand.self, PurgeCommand.self,
        StatusCommand.self, ShardCommand.self, MergeCommand.self,
        VersionCommand.self,
    ]

    package static var topHelp: String {
        var s = """
            pfp: PolicyFindsPeople, the nightly "policy finds people" job of a civil-affairs bureau.

            usage: pfp <command> [options]

            commands:

            """
        for c in commands { s += "  " + c.name.padding(toLength: 13, withPad: " ", startingAt: 0) + c.summary + "\n" }
        s +=
            "\n'pfp <command> --help' describes a command.\nExit codes: 0 success, 65 the delivery or a rule "
            + "file was refused, "
            + "64 misuse,\n75 another run holds the lock, 1 internal failure.\n"
        return s
    }

    /// Parses a command line (without the program name) into what it asks for;
    /// misuse throws a usage error (exit 64) that says what to write instead.
    package static func parse(_ args: [String]) throws -> Invocation {
        guard let first = args.first else {
            throw PipelineError.usage("a command is needed", hint: "see 'pfp --help' for the commands")
        }
        switch first {
        case "--help", "-h", "help":
            if args.count >= 2, let c = commands.first(where: { $0.name == args[1] }) { return .help(c) }
            return .topHelp
        case "--version":
            return .version
        default:
            break
        }
        guard let type = commands.first(where: { $0.name == first }) else {
            let near = commands.map { $0.name }.filter {
                ContractWords.distance(Array(first.utf8), Array($0.utf8), atMost: 2) <= 2
            }
            throw PipelineError.usage(
                "unknown command '\(first.prefix(40))'" + (near.first.map { " (did you mean \($0)?)" } ?? ""),
                hint: "see 'pfp --help' for the commands")
        }
        guard let command = try type.parsed(Array(args.dropFirst())) else { return .help(type) }
        return .command(command)
    }

    /// Runs a command line and exits with the code the scheduler reads.
    package static func main(_ args: [String], console: Console) -> Never {
        do {
            switch try parse(args) {
            case .topHelp: print(topHelp)
            case .help(let type): print(type.help)
            case .version: print("pfp \(PFPRunVersion.text)")
            case .command(let command): try command.run(console: console)
            }
            exit(ExitCode.success.rawValue)
        } catch let e as PipelineError {
            console.failure(e)
            exit(e.exitCode.rawValue)
        } catch let e as SQLiteError {
            console.error(
                "database: \(e.description)\n  what to do: check that the disk holding the database (--db) has "
                    + "free space "
                    + "and is writable; published runs are untouched")
            exit(ExitCode.failure.rawValue)
        } catch {
            console.error("internal failure: \(error)")
            exit(ExitCode.failure.rawValue)
        }
    }
}
