import Foundation

/// A small, readable settings format used by `Pipelines/*.conf`:
///
///     # comment
///     key = value
///     [feed population]
///     required = true
///
/// Values are text; the reader of each key decides its type and reports
/// errors with file and line.
public struct ConfigFile: Sendable {
    public struct Entry: Sendable {
        public var key: String
        public var value: String
        public var line: Int
    }
    public struct Section: Sendable {
        /// "" for the top, otherwise the words in brackets ("feed population").
        public var name: String
        public var line: Int
        public var entries: [Entry]

        public func value(_ key: String) -> Entry? { entries.last { $0.key == key } }
    }
    public var path: String
    public var sections: [Section]

    public init(path: String) throws {
        guard FileIO.exists(path) else {
            throw PipelineError.badInput(
                location: path, "configuration file not found",
                hint: "pass --config FILE or run from the project directory (the default is Pipelines/nightly.conf)")
        }
        try self.init(path: path, text: try FileIO.readText(path))
    }

    public init(path: String, text: String) throws {
        self.path = path
        var sections = [Section(name: "", line: 0, entries: [])]
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNo = i + 1
            var line = Substring(raw)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            if t.hasPrefix("[") {
                guard t.hasSuffix("]") else {
                    throw PipelineError.badInput(
                        location: "\(path):\(lineNo):\(t.count + 1)", "expected ']' to close the section name")
                }
                let name = t.dropFirst().dropLast().split(separator: " ").joined(separator: " ")
                sections.append(Section(name: name, line: lineNo, entries: []))
                continue
            }
            guard let eq = t.firstIndex(of: "=") else {
                throw PipelineError.badInput(
                    location: "\(path):\(lineNo):1", "expected 'key = value' or '[section]', found '\(t)'")
            }
            let key = t[..<eq].trimmingCharacters(in: .whitespaces)
            let value = t[t.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if key.isEmpty {
                throw PipelineError.badInput(location: "\(path):\(lineNo):1", "expected a key before '='")
            }
            sections[sections.count - 1].entries.append(Entry(key: key, value: value, line: lineNo))
        }
        self.sections = sections
    }

    public var top: Section { sections[0] }

    public func sections(kind: String) -> [(name: String, section: Section)] {
        sections.compactMap { s in
            let words = s.name.split(separator: " ")
            guard words.count == 2, words[0] == kind else { return nil }
            return (String(words[1]), s)
        }
    }

    public func location(_ e: Entry) -> String { "\(path):\(e.line)" }
}
