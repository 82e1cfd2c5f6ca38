import PFPCore

/// A command's arguments, checked against its declarations before anything is
/// read: unknown options, a flag given a value, an option whose value looks like
/// another option, an option given twice, stray words and contradicting flags are
/// refused (exit 64) with what to write instead. The command then reads each
/// declared argument by its typed declaration; one it declares but never reads is
/// a programming error that `finish()` reports.
package final class ArgumentReader {
    package let command: String
    private let declarations: [ArgumentDeclaration]
    private var values: [String: [String]] = [:]
    private var flags: Set<String> = []
    private var words: [String] = []
    private var read: Set<String> = []
    /// `--help` or `-h` was given: nothing else is checked.
    package private(set) var wantsHelp = false

    package init(
        _ args: [String], command: String, declarations: [ArgumentDeclaration], conflicts: [[String]] = []
    ) throws {
        self.command = command
        self.declarations = declarations
        if args.contains(where: { $0 == "--help" || $0 == "-h" }) {
            wantsHelp = true
            return
        }
        var i = 0
        var onlyWords = false
        while i < args.count {
            let arg = args[i]
            i += 1
            if onlyWords || !arg.hasPrefix("--") {
                guard declarations.contains(where: \.isWords) else {
                    throw misuse("unexpected argument '\(arg)'")
                }
                words.append(arg)
                continue
            }
            if arg == "--" { onlyWords = true; continue }
            var name = String(arg.dropFirst(2))
            var inline: String?
            if let eq = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard let d = declarations.first(where: { $0.name == name && !$0.isWords }) else {
                throw misuse("unknown option --\(name)" + suggestion(for: name))
            }
            switch d.kind {
            case .flag:
                if inline != nil {
                    throw misuse("--\(name) takes no value: write --\(name) to turn it on, or leave it out")
                }
                if flags.contains(name) { throw misuse("--\(name) given twice") }
                flags.insert(name)
            case .option(let placeholder):
                let value: String
                if let inline {
                    value = inline
                } else {
                    guard i < args.count else { throw misuse("--\(name) needs a value: --\(name) \(placeholder)") }
                    value = args[i]
                    guard !value.hasPrefix("--") else {
                        throw misuse(
                            "--\(name) needs a value, but the next argument is '\(value.prefix(40))', "
                                + "which reads as an option; write --\(name) \(placeholder) "
                                + "(or --\(name)=\(value.prefix(40)) if that really is the value)")
                    }
                    i += 1
                }
                if !d.repeatable && values[name] != nil { throw misuse("--\(name) given twice; give it once") }
                values[name, default: []].append(value)
            case .words:
                throw misuse("unknown option --\(name)")
            }
        }
        for group in conflicts {
            let given = group.filter { flags.contains($0) || values[$0] != nil }
            if given.count > 1 {
                throw misuse(
                    given.map { "--" + $0 }.joined(separator: " and ") + " contradict each other: give one of them")
            }
        }
    }

    /// The value of an option, nil when it is not given.
    package func value<V>(_ option: Option<V>) throws -> V? {
        read.insert(option.name)
        guard let text = values[option.name]?.last else {
            if option.declaration.required {
                throw misuse("--\(option.name) \(placeholder(option.declaration)) is required")
            }
            return nil
        }
        return try convert(text, option)
    }

    /// The value of an option, or its default.
    package func value<V>(_ option: Option<V>, default fallback: V) throws -> V {
        try value(option) ?? fallback
    }

    /// Every value of a repeatable option, in the order given.
    package func values<V>(_ option: Option<V>) throws -> [V] {
        read.insert(option.name)
        return try (values[option.name] ?? []).map { try convert($0, option) }
    }

    package func flag(_ flag: Flag) -> Bool {
        read.insert(flag.name)
        return flags.contains(flag.name)
    }

    package func words(_ declared: Words) -> [String] {
        read.insert(declared.declaration.name)
        return words
    }

    /// Checks that the command read every argument it declares (a declaration it
    /// ignores would be parsed and shown in the help but do nothing).
    package func finish() throws {
        let unread = declarations.map(\.name).filter { !read.contains($0) }
        if !unread.isEmpty {
            throw PipelineError.failure(
                "pfp \(command) declares \(unread.map { "--" + $0 }.joined(separator: ", ")) but never reads it",
                hint: "a bug in pfp: please report it")
        }
    }

    private func convert<V>(_ text: String, _ option: Option<V>) throws -> V {
        guard let v = option.convert(text) else {
            throw misuse("--\(option.name) expects \(option.expected), found '\(text.prefix(40))'")
        }
        return v
    }

    private func placeholder(_ d: ArgumentDeclaration) -> String {
        if case .option(let p) = d.kind { return p }
        return ""
    }

    private func suggestion(for name: String) -> String {
        let options = declarations.filter { !$0.isWords }.map(\.name)
        let near = options.filter { ContractWords.distance(Array(name.utf8), Array($0.utf8), atMost: 2) <= 2 }
        return near.first.map { " (did you mean --\($0)?)" } ?? ""
    }

    private func misuse(_ message: String) -> PipelineError {
        .usage("pfp \(command): \(message)", hint: "see 'pfp \(command) --help'")
    }
}
