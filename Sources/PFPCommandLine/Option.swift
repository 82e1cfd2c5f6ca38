import PFPCore

/// How an argument appears on the command line: one declaration serves the
/// parser, the usage line and the help, so the three cannot disagree.
package struct ArgumentDeclaration: Sendable, Equatable {
    package enum Kind: Sendable, Equatable {
        /// `--name VALUE`.
        case option(placeholder: String)
        /// `--name`, on or off; it takes no value.
        case flag
        /// Bare words, as the stage of `pfp stage ingest`.
        case words(placeholder: String)
    }
    package var name: String
    package var kind: Kind
    package var help: String
    package var repeatable = false
    package var required = false

    var isWords: Bool {
        if case .words = kind { return true }
        return false
    }

    /// `--name VALUE`, `--name` or the words' placeholder, as usage shows it.
    var synopsis: String {
        switch kind {
        case .option(let placeholder): return "--\(name) \(placeholder)"
        case .flag: return "--\(name)"
        case .words(let placeholder): return placeholder
        }
    }
}

/// An option that takes a value of a type, declared once with its name,
/// placeholder, help and how a value is read.
package struct Option<Value: Sendable>: Sendable {
    package let declaration: ArgumentDeclaration
    /// What a value must be, for the message when it is not ("a real date YYYY-MM-DD").
    let expected: String
    let convert: @Sendable (String) -> Value?

    package init(
        _ name: String, _ placeholder: String, help: String, expected: String,
        repeatable: Bool = false, required: Bool = false, convert: @escaping @Sendable (String) -> Value?
    ) {
        declaration = ArgumentDeclaration(
            name: name, kind: .option(placeholder: placeholder), help: help,
            repeatable: repeatable, required: required)
        self.expected = expected
        self.convert = convert
    }

    package var name: String { declaration.name }
}

extension Option where Value == String {
    /// Any text: a path, a feed, an id.
    package init(_ name: String, _ placeholder: String, help: String, repeatable: Bool = false, required: Bool = false)
    {
        self.init(name, placeholder, help: help, expected: "text", repeatable: repeatable, required: required) {
            $0.isEmpty ? nil : $0
        }
    }
}

extension Option where Value == CivilDate {
    /// A real calendar date.
    package static func date(_ name: String, help: String, required: Bool = false) -> Option {
        Option(name, "YYYY-MM-DD", help: help, expected: "a real date YYYY-MM-DD", required: required) {
            CivilDate.parse($0)
        }
    }
}

extension Option where Value == Int {
    /// A whole number within bounds.
    package static func number(
        _ name: String, _ placeholder: String, help: String, in range: ClosedRange<Int>,
        required: Bool = false
    ) -> Option {
        let bounds =
            range.upperBound == Int.max
            ? "of at least \(grouped(range.lowerBound))"
            : "from \(grouped(range.lowerBound)) to \(grouped(range.upperBound))"
        return Option(name, placeholder, help: help, expected: "a whole number \(bounds)", required: required) { text in
            Int(text.replacingOccurrences(of: "_", with: "")).flatMap { range.contains($0) ? $0 : nil }
        }
    }
}

extension Option {
    /// One of a fixed set of words (`ingest`, `profile`, …).
    package static func choice(
        _ name: String, _ placeholder: String, help: String,
        _ choices: [(String, Value)]
    ) -> Option {
        let words = choices.map(\.0)
        return Option(name, placeholder, help: help, expected: "one of \(words.joined(separator: ", "))") { text in
            choices.first { $0.0 == text }?.1
        }
    }
}

/// An option that is on when given and takes no value.
package struct Flag: Sendable {
    package let declaration: ArgumentDeclaration

    package init(_ name: String, help: String) {
        declaration = ArgumentDeclaration(name: name, kind: .flag, help: help)
    }

    package var name: String { declaration.name }
}

/// The bare words a command takes (not options).
package struct Words: Sendable {
    package let declaration: ArgumentDeclaration

    package init(_ placeholder: String, help: String) {
        declaration = ArgumentDeclaration(
            name: placeholder, kind: .words(placeholder: placeholder), help: help, required: true)
    }
}
