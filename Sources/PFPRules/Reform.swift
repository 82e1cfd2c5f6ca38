import Foundation
import PFPCore

/// A reform (`*.reform`): parameter entries merged into the rules, and
/// optionally rule files whose statements replace those with the same id or add
/// new ones. What `pfp whatif` evaluates beside the rules of a stored run.
///
///     # comment
///     reform dibao_1650 "低保标准提高到1650元"
///       dibao.standard from 2026-01-01 = 1650
///       elderly_allowance.bands from 2026-06-01 = 65: 100, 70: 150, 80: 200
///       rules extra_rules
///
/// A `PARAMETER from DATE = VALUE` line is merged into that parameter's entries:
/// an entry of the same date is replaced, otherwise the entry is added in date
/// order; the value on a date is, as always, the latest entry on or before it.
/// `rules DIRECTORY` (relative to the reform file) adds that directory's
/// `*.rules`. Everything is checked when the reform is loaded, as the nightly
/// rules are: nothing in a reform can run code or read other files.
public struct Reform: Sendable {
    public struct Entry: Sendable {
        public var parameter: String
        public var from: CivilDate
        /// One number, or a table's bands (key: value, ...).
        public var value: String?
        public var bands: [(key: String, value: String)]?
        public var pos: SourcePos

        /// An entry made on the command line (a sweep's value): a table's bands are not given so.
        public init(parameter: String, from: CivilDate, value: String, origin: String) {
            self.parameter = parameter
            self.from = from
            self.value = value
            self.bands = nil
            self.pos = SourcePos(file: origin, line: 1, column: 1)
        }

        init(parameter: String, from: CivilDate, value: String?, bands: [(key: String, value: String)]?, pos: SourcePos)
        {
            self.parameter = parameter; self.from = from; self.value = value; self.bands = bands; self.pos = pos
        }
    }

    public var name: String
    public var label: String
    public var path: String
    public var entries: [Entry] = []
    /// The `rules` directory, resolved against the reform file's folder.
    public var rulesDirectory: String?
    /// sha256 of the reform file (and of its rule files, once loaded).
    public var digest: String

    public init(name: String, label: String = "", path: String = "", entries: [Entry] = [], digest: String = "") {
        self.name = name
        self.label = label
        self.path = path
        self.entries = entries
        self.digest = digest
    }

    /// The reform as a file would say it (its digest joins the rules' digest).
    public var text: String {
        var s = "reform \(name) \"\(label)\"\n"
        if let d = rulesDirectory { s += "  rules \"\((d as NSString).lastPathComponent)\"\n" }
        for e in entries {
            let value = e.bands.map { $0.map { "\($0.key): \($0.value)" }.joined(separator: ", ") } ?? e.value ?? ""
            s += "  \(e.parameter) from \(e.from) = \(value)\n"
        }
        return s
    }

    /// Reads and parses a reform file; a syntax error names file:line:column.
    public static func load(path: String) throws -> Reform {
        guard FileIO.exists(path), !FileIO.isDirectory(path) else {
            throw PipelineError.badInput(
                location: path, "no reform file here", hint: "give the path of a *.reform file (see docs/WHATIF.md)")
        }
        let bytes = try FileIO.readAll(path)
        guard bytes.count <= RuleSource.maxFileBytes else {
            throw PipelineError.badInput(
                location: path, "the reform file is \(bytes.count) bytes; at most \(RuleSource.maxFileBytes)")
        }
        guard bytes.withUnsafeBytes({ TextDecoding.firstInvalidUTF8($0) }) == nil else {
            throw PipelineError.badInput(location: path, "the reform file is not UTF-8 text")
        }
        var reform = try parse(file: path, text: String(decoding: bytes, as: UTF8.self))
        reform.digest = SHA256Digest.hex(of: bytes)
        return reform
    }

    static func parse(file: String, text: String) throws -> Reform {
        let lines = try Lexer.lines(file: file, text: text, continuations: false)
        guard let first = lines.first else {
            throw PipelineError.badInput(
                location: file, "the reform file is empty", hint: "begin it with: reform NAME \"label\"")
        }
        var r = LineReader(first)
        try r.expectWord("reform")
        let name = try r.identifier("the reform's name")
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
            throw ruleError(r.prevPos, "a reform's name is letters, digits, _ and - (it names a folder)")
        }
        let label = r.optionalString() ?? ""
        try r.end()
        var reform = Reform(name: name, label: label, path: file)
        for line in lines.dropFirst() {
            guard line.indent > first.indent else {
                throw ruleError(line.pos, "one reform per file: indent its lines under 'reform \(name)'")
            }
            var c = LineReader(line)
            if c.takeWord("rules") {
                guard reform.rulesDirectory == nil else { throw ruleError(line.pos, "one 'rules' line per reform") }
                let dir = try c.directoryName()
                try c.end()
                reform.rulesDirectory = ((file as NSString).deletingLastPathComponent as NSString)
                    .appendingPathComponent(dir)
                continue
            }
            let parameter = try c.identifier("a parameter id or 'rules'")
            try c.expectWord("from")
            let (d, _) = try c.date()
            try c.expectSymbol("=")
            let k = try c.number()
            var entry = Entry(parameter: parameter, from: d, value: k, bands: nil, pos: line.pos)
            if c.takeSymbol(":") {
                var bands = [(key: k, value: try c.number())]
                while c.takeSymbol(",") {
                    let key = try c.number()
                    try c.expectSymbol(":")
                    bands.append((key, try c.number()))
                }
                entry.value = nil
                entry.bands = bands
            }
            try c.end()
            reform.entries.append(entry)
        }
        return reform
    }
}

extension LineReader {
    /// A folder name: a word, or a string for a name a word cannot spell.
    mutating func directoryName() throws -> String {
        if let s = optionalString() { return s }
        return try identifier("a directory name")
    }
}

extension RuleSource {
    /// Merges a reform: its rule files' statements replace those of the same id
    /// (or are added), then each parameter entry replaces the entry of its date
    /// or is added in date order. An unknown parameter, or an entry of the wrong
    /// shape, names the reform's line.
    mutating func apply(_ reform: Reform, extra: RuleSource?) throws {
        if let extra {
            func merge<T>(_ mine: inout [T], _ theirs: [T], id: (T) -> String) {
                for t in theirs {
                    if let i = mine.firstIndex(where: { id($0) == id(t) }) { mine[i] = t } else { mine.append(t) }
                }
            }
            merge(&parameters, extra.parameters, id: \.id)
            merge(&values, extra.values, id: \.id)
            merge(
                &policies,
                extra.policies.map { p in
                    var p = p
                    p.newInReform = !policies.contains { $0.id == p.id }
                    return p
                }, id: \.id)
            merge(&lists, extra.lists, id: \.id)
            if let o = extra.outcomes { outcomes = o }
        }
        for e in reform.entries {
            guard let p = parameters.firstIndex(where: { $0.id == e.parameter }) else {
                let near = parameters.map(\.id).min {
                    ContractWords.distance(Array(e.parameter.utf8), Array($0.utf8), atMost: 64)
                        < ContractWords.distance(Array(e.parameter.utf8), Array($1.utf8), atMost: 64)
                }
                throw ruleError(
                    e.pos, "no parameter \(e.parameter) in the rules" + (near.map { " (did you mean \($0)?)" } ?? ""))
            }
            if parameters[p].isTable {
                guard let bands = e.bands else {
                    throw ruleError(e.pos, "\(e.parameter) is a table: write its bands, KEY: VALUE, KEY: VALUE, ...")
                }
                var entries = parameters[p].bands.filter { $0.from != e.from }
                entries.append((e.from, bands, e.pos))
                parameters[p].bands = entries.sorted { $0.from < $1.from }
            } else {
                guard let value = e.value else {
                    throw ruleError(e.pos, "\(e.parameter) is a parameter of one value, not a table of bands")
                }
                var entries = parameters[p].values.filter { $0.from != e.from }
                entries.append((e.from, value, e.pos))
                parameters[p].values = entries.sorted { $0.from < $1.from }
            }
        }
    }
}
