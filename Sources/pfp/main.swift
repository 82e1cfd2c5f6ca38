import Foundation
import PFPCore

let console = Console.shared
// A file-size limit (or a quota) must surface as a write error with a message, not kill the process.
signal(SIGXFSZ, SIG_IGN)
FileIO.tuneMemory()
var args = Array(CommandLine.arguments.dropFirst())
guard let name = args.first, name != "--help", name != "-h", name != "help" else {
    if args.count >= 2, let c = commands.first(where: { $0.name == args[1] }) { print(c.helpText()) } else { print(topHelp()) }
    exit(args.isEmpty ? ExitCode.usage.rawValue : 0)
}
if name == "--version" { print("pfp \(PFPRunVersion.text)"); exit(0) }
guard let spec = commands.first(where: { $0.name == name }) else {
    console.error("unknown command '\(name)'")
    FileHandle.standardError.write(topHelp().data(using: .utf8)!)
    exit(ExitCode.usage.rawValue)
}
args.removeFirst()
do {
    let parsed = try parse(args, spec: spec)
    if parsed.help { print(spec.helpText()); exit(0) }
    switch spec.name {
    case "run": try commandRun(parsed, console: console)
    case "stage": try commandStage(parsed, console: console)
    case "sample": try commandSample(parsed, console: console)
    case "runs": try commandRuns(parsed, console: console)
    case "bench": try commandBench(parsed, console: console)
    case "explain": try commandExplain(parsed, console: console)
    case "purge": try commandPurge(parsed, console: console)
    case "test-rules": try commandTestRules(parsed, console: console)
    case "check-rules": try commandCheckRules(parsed, console: console)
    case "version": print("pfp \(PFPRunVersion.text)")
    default: break
    }
    exit(ExitCode.success.rawValue)
} catch let e as PipelineError {
    console.error(e.description)
    exit(e.exitCode.rawValue)
} catch let e as SQLiteError {
    console.error("database: \(e.description)\n  what to do: check that the disk holding the database (--db) has free space and is writable; published runs are untouched")
    exit(ExitCode.failure.rawValue)
} catch {
    console.error("internal failure: \(error)")
    exit(ExitCode.failure.rawValue)
}
