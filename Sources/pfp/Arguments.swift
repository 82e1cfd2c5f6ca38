import Foundation
import PFPCore

/// A small command-line parser (the project uses no packages): options are
/// declared per command, `--help` works everywhere, and misuse exits 64.
struct OptionSpec {
    var name: String
    var value: String?          // placeholder when the option takes a value
    var help: String
    var repeatable = false
}

struct CommandSpec {
    var name: String
    var summary: String
    var usage: String
    var options: [OptionSpec]
    var details: String = ""
    /// Whether bare words (not options) are allowed, as in `pfp stage ingest`.
    var takesWords = false

    func helpText() -> String {
        var s = "pfp \(name): \(summary)\n\nusage: \(usage)\n"
        if !details.isEmpty { s += "\n" + details + "\n" }
        if !options.isEmpty {
            s += "\noptions:\n"
            let all = options + [OptionSpec(name: "help", value: nil, help: "show this help")]
            for o in all {
                let left = "  --\(o.name)" + (o.value.map { " \($0)" } ?? "")
                s += left.padding(toLength: max(left.count + 2, 30), withPad: " ", startingAt: 0) + o.help
                    + (o.repeatable ? " (repeatable)" : "") + "\n"
            }
        }
        return s
    }
}

struct ParsedArguments {
    var values: [String: [String]] = [:]
    var flags: Set<String> = []
    var positional: [String] = []
    var help = false

    func value(_ name: String) -> String? { values[name]?.last }
    func all(_ name: String) -> [String] { values[name] ?? [] }
    func has(_ name: String) -> Bool { flags.contains(name) }

    func int(_ name: String, min: Int = Int.min) throws -> Int? {
        guard let v = value(name) else { return nil }
        guard let n = Int(v), n >= min else { throw PipelineError.usage("--\(name) expects a whole number\(min > Int.min ? " of at least \(min)" : ""), found '\(v)'") }
        return n
    }

    func date(_ name: String) throws -> CivilDate? {
        guard let v = value(name) else { return nil }
        guard let d = CivilDate.parse(v) else { throw PipelineError.usage("--\(name) expects a real date YYYY-MM-DD, found '\(v)'") }
        return d
    }
}

func parse(_ args: [String], spec: CommandSpec) throws -> ParsedArguments {
    var out = ParsedArguments()
    var i = 0
    while i < args.count {
        let a = args[i]
        if a == "--help" || a == "-h" { out.help = true; i += 1; continue }
        if a.hasPrefix("--") {
            var name = String(a.dropFirst(2))
            var inline: String?
            if let eq = name.firstIndex(of: "=") { inline = String(name[name.index(after: eq)...]); name = String(name[..<eq]) }
            guard let o = spec.options.first(where: { $0.name == name }) else {
                throw PipelineError.usage("pfp \(spec.name): unknown option --\(name)", hint: "see 'pfp \(spec.name) --help'")
            }
            if o.value != nil {
                let v: String
                if let inline { v = inline } else {
                    guard i + 1 < args.count else { throw PipelineError.usage("--\(name) needs a value \(o.value!)", hint: "see 'pfp \(spec.name) --help'") }
                    v = args[i + 1]
                    i += 1
                }
                if !o.repeatable && out.values[name] != nil {
                    throw PipelineError.usage("--\(name) given twice")
                }
                out.values[name, default: []].append(v)
            } else {
                out.flags.insert(name)
            }
        } else {
            guard spec.takesWords else {
                throw PipelineError.usage("pfp \(spec.name): unexpected argument '\(a)'", hint: "see 'pfp \(spec.name) --help'")
            }
            out.positional.append(a)
        }
        i += 1
    }
    return out
}
