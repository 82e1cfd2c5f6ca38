import Foundation
import PFPCore

/// The statements of the rule files, as written (before names and types are checked).
struct ParameterDecl {
    var id: String
    var unit: String
    var label: String
    /// (effective from, value) in file order; for a table the value is its bands.
    var values: [(from: CivilDate, value: String, pos: SourcePos)]
    var bands: [(from: CivilDate, bands: [(key: String, value: String)], pos: SourcePos)]
    var isTable: Bool
    var pos: SourcePos
}

public enum Level: String, Sendable { case person, household }

struct ValueDecl {
    var id: String
    var level: Level
    var label: String
    var expr: ExprNode
    var pos: SourcePos
}

struct PolicyDecl {
    var id: String
    var label: String
    var level: Level
    var criteria: [(code: String, expr: ExprNode, pos: SourcePos)] = []
    var branches: [(code: String, expr: ExprNode, amount: ExprNode?, pos: SourcePos)] = []
    var amount: ExprNode?
    /// `amount once EXPR`: the amount is paid once, not per month.
    var oneOff = false
    /// Brought by a reform and not in the policy catalogue: a policy that does not
    /// exist yet, so nobody receives it (there is no receiving.<id> tag).
    var newInReform = false
    var pos: SourcePos
}

struct ListDecl {
    var id: String
    var label: String
    var perPolicy: Bool
    var when: ExprNode?
    var lets: [(name: String, expr: ExprNode, pos: SourcePos)] = []
    var reasons: [(code: String, expr: ExprNode, pos: SourcePos)] = []
    var after: (list: String, pos: SourcePos)?
    /// The list whose entries an outreach event's cooling-off holds back into this one.
    var heldFrom: (list: String, pos: SourcePos)?
    var columns: [String] = []
    var pos: SourcePos
}

/// `outcomes`: the outreach outcomes in same-day precedence order (first wins),
/// each with the parameter that sets its cooling-off, or `never`.
struct OutcomesDecl {
    var label: String
    var entries: [(outcome: String, parameter: String?, pos: SourcePos)] = []
    var pos: SourcePos
}

struct RuleSource {
    var parameters: [ParameterDecl] = []
    var values: [ValueDecl] = []
    var policies: [PolicyDecl] = []
    var lists: [ListDecl] = []
    var outcomes: OutcomesDecl?

    /// Rule files are small; a huge one is refused before it is read.
    static let maxFileBytes = 1 << 20

    /// Reads every `*.rules` file of a directory, in name order.
    static func load(directory: String) throws -> (RuleSource, [(path: String, bytes: [UInt8])]) {
        guard FileIO.isDirectory(directory) else {
            throw PipelineError.badInput(
                location: directory, "the rules directory does not exist",
                hint: "check the 'rules' setting of the pipeline configuration")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".rules") }
            .sorted()
        var src = RuleSource()
        var files: [(String, [UInt8])] = []
        for n in names {
            let path = (directory as NSString).appendingPathComponent(n)
            let bytes = try FileIO.readAll(path)
            if bytes.count > maxFileBytes {
                throw PipelineError.badInput(
                    location: path, "the rule file is \(bytes.count) bytes; at most \(maxFileBytes) are accepted")
            }
            guard bytes.withUnsafeBytes({ TextDecoding.firstInvalidUTF8($0) }) == nil else {
                throw PipelineError.badInput(location: path, "the rule file is not UTF-8 text")
            }
            try src.parse(file: path, text: String(decoding: bytes, as: UTF8.self))
            files.append((path, bytes))
        }
        return (src, files)
    }

    mutating func parse(file: String, text: String) throws {
        let lines = try Lexer.lines(file: file, text: text)
        var i = 0
        while i < lines.count {
            let line = lines[i]
            var r = LineReader(line)
            let head = try r.word()
            switch head {
            case "parameter", "table":
                let id = try r.identifier("a parameter id")
                let unit = try r.word()
                guard unit == "money" || unit == "number" else {
                    throw ruleError(r.prevPos, "expected the unit money or number, found '\(unit)'")
                }
                let label = r.optionalString() ?? ""
                try r.end()
                var decl = ParameterDecl(
                    id: id, unit: unit, label: label, values: [], bands: [], isTable: head == "table", pos: line.pos)
                i += 1
                while i < lines.count, lines[i].indent > line.indent {
                    var c = LineReader(lines[i])
                    try c.expectWord("from")
                    let (d, dpos) = try c.date()
                    try c.expectSymbol("=")
                    if head == "parameter" {
                        let v = try c.number()
                        try c.end()
                        decl.values.append((d, v, dpos))
                    } else {
                        var bands: [(String, String)] = []
                        repeat {
                            let k = try c.number()
                            try c.expectSymbol(":")
                            let v = try c.number()
                            bands.append((k, v))
                        } while c.takeSymbol(",")
                        try c.end()
                        decl.bands.append((d, bands, dpos))
                    }
                    i += 1
                }
                if decl.values.isEmpty && decl.bands.isEmpty {
                    throw ruleError(line.pos, "\(head) \(id) has no 'from YYYY-MM-DD = ...' lines")
                }
                parameters.append(decl)
                continue
            case "person", "household":
                try r.expectWord("value")
                let id = try r.identifier("a value name")
                let label = r.optionalString() ?? ""
                try r.expectSymbol("=")
                let e = try r.expression()
                values.append(ValueDecl(id: id, level: Level(rawValue: head)!, label: label, expr: e, pos: line.pos))
            case "policy":
                let id = try r.identifier("a policy id")
                let label = r.optionalString() ?? ""
                let levelWord = try r.word()
                guard let level = Level(rawValue: levelWord) else {
                    throw ruleError(r.prevPos, "expected household or person, found '\(levelWord)'")
                }
                try r.end()
                var p = PolicyDecl(id: id, label: label, level: level, pos: line.pos)
                i += 1
                while i < lines.count, lines[i].indent > line.indent {
                    var c = LineReader(lines[i])
                    let w = try c.word()
                    switch w {
                    case "criterion":
                        let code = try c.identifier("a criterion code")
                        try c.expectSymbol(":")
                        p.criteria.append((code, try c.expression(), lines[i].pos))
                    case "branch":
                        let code = try c.identifier("a branch code")
                        try c.expectSymbol(":")
                        p.branches.append((code, try c.expression(), nil, lines[i].pos))
                    case "amount":
                        if c.takeWord("once") { p.oneOff = true }
                        let e = try c.expression()
                        if let last = p.branches.indices.last, p.branches[last].amount == nil, isUnderBranch(lines, i) {
                            p.branches[last].amount = e
                        } else {
                            if p.amount != nil { throw ruleError(lines[i].pos, "policy \(id) has two amounts") }
                            p.amount = e
                        }
                    default:
                        throw ruleError(
                            lines[i].pos, "expected criterion, branch or amount in policy \(id), found '\(w)'")
                    }
                    i += 1
                }
                if !p.branches.isEmpty && p.amount != nil {
                    throw ruleError(
                        p.pos, "policy \(id) has branches and its own amount; give each branch an amount instead")
                }
                policies.append(p)
                continue
            case "outcomes":
                // The entries are the statement's continuation lines: OUTCOME: PARAMETER or OUTCOME: never.
                let label = r.optionalString() ?? ""
                if let before = outcomes {
                    throw ruleError(line.pos, "outcomes are declared twice (first at \(before.pos))")
                }
                var d = OutcomesDecl(label: label, pos: line.pos)
                while !r.atEnd {
                    let pos = r.here
                    let outcome = try r.identifier("an outcome")
                    try r.expectSymbol(":")
                    let parameter = try r.identifier("a parameter id or never")
                    d.entries.append((outcome, parameter == "never" ? nil : parameter, pos))
                }
                outcomes = d
                i += 1
                continue
            case "list":
                let id = try r.identifier("a list id")
                let label = r.optionalString() ?? ""
                var perPolicy = false
                if r.takeWord("per") {
                    try r.expectWord("policy"); perPolicy = true
                } else {
                    try r.expectWord("household")
                }
                try r.end()
                var l = ListDecl(id: id, label: label, perPolicy: perPolicy, pos: line.pos)
                i += 1
                while i < lines.count, lines[i].indent > line.indent {
                    var c = LineReader(lines[i])
                    let w = try c.word()
                    switch w {
                    case "when":
                        try c.expectSymbol(":")
                        l.when = try c.expression()
                    case "let":
                        let name = try c.identifier("a name")
                        try c.expectSymbol(":")
                        l.lets.append((name, try c.expression(), lines[i].pos))
                    case "reason", "trigger":
                        let code = try c.identifier("a reason code")
                        try c.expectSymbol(":")
                        l.reasons.append((code, try c.expression(), lines[i].pos))
                    case "after":
                        let other = try c.identifier("a list id")
                        try c.end()
                        l.after = (other, lines[i].pos)
                    case "held":
                        try c.expectWord("from")
                        try c.expectSymbol(":")
                        let other = try c.identifier("a list id")
                        try c.end()
                        l.heldFrom = (other, lines[i].pos)
                    case "columns":
                        try c.expectSymbol(":")
                        repeat {
                            let p = c.here
                            let col = try c.identifier("a column name")
                            guard ListColumn(rawValue: col) != nil else {
                                throw ruleError(
                                    p,
                                    "unknown column '\(col)'; columns are "
                                        + ListColumn.allCases.map(\.rawValue).joined(separator: ", "))
                            }
                            l.columns.append(col)
                        } while c.takeSymbol(",")
                        try c.end()
                    default:
                        throw ruleError(
                            lines[i].pos,
                            "expected when, let, reason, trigger, after, held from or columns in list \(id), "
                                + "found '\(w)'")
                    }
                    i += 1
                }
                if perPolicy && l.when == nil && l.heldFrom == nil {
                    throw ruleError(l.pos, "list \(id) per policy needs a 'when:' line (or 'held from: LIST')")
                }
                if let held = l.heldFrom, !perPolicy || l.when != nil {
                    throw ruleError(held.pos, "a list held from another is per policy and has no 'when:' line")
                }
                if l.columns.isEmpty {
                    throw ruleError(l.pos, "list \(id) needs a 'columns: ...' line (the published file's columns)")
                }
                if !perPolicy && l.reasons.isEmpty {
                    throw ruleError(l.pos, "list \(id) needs at least one 'reason CODE: ...' line")
                }
                lists.append(l)
                continue
            default:
                throw ruleError(
                    line.pos,
                    "expected parameter, table, person value, household value, policy or list, found '\(head)'")
            }
            i += 1
        }
    }

    /// Whether the `amount` line at index i is indented under the branch line before it.
    func isUnderBranch(_ lines: [LogicalLine], _ i: Int) -> Bool {
        var k = i - 1
        while k >= 0 {
            if case .ident(let w) = lines[k].tokens[0].kind {
                if w == "branch" { return lines[i].indent > lines[k].indent }
                if w == "criterion" || w == "policy" || w == "amount" { return false }
            }
            k -= 1
        }
        return false
    }
}

/// Reads the tokens of one logical line.
struct LineReader {
    let line: LogicalLine
    var i = 0
    var prevPos: SourcePos

    init(_ line: LogicalLine) {
        self.line = line
        self.prevPos = line.pos
    }

    var here: SourcePos { i < line.tokens.count ? line.tokens[i].pos : endPos }
    var atEnd: Bool { i >= line.tokens.count }
    var endPos: SourcePos {
        guard let last = line.tokens.last else { return line.pos }
        return SourcePos(file: last.pos.file, line: last.pos.line, column: last.pos.column + 1)
    }

    mutating func next() -> Token? {
        guard i < line.tokens.count else { return nil }
        defer { i += 1 }
        prevPos = line.tokens[i].pos
        return line.tokens[i]
    }

    mutating func word() throws -> String { try identifier("a word") }
    mutating func identifier(_ what: String) throws -> String {
        let p = here
        guard let t = next(), case .ident(let w) = t.kind else { throw ruleError(p, "expected \(what)") }
        return w
    }
    mutating func expectWord(_ w: String) throws {
        let p = here
        guard let t = next(), case .ident(let x) = t.kind, x == w else { throw ruleError(p, "expected '\(w)'") }
    }
    mutating func takeWord(_ w: String) -> Bool {
        if i < line.tokens.count, case .ident(let x) = line.tokens[i].kind, x == w { i += 1; return true }
        return false
    }
    mutating func expectSymbol(_ s: String) throws {
        let p = here
        guard let t = next(), case .symbol(let x) = t.kind, x == s else { throw ruleError(p, "expected '\(s)'") }
    }
    mutating func takeSymbol(_ s: String) -> Bool {
        if i < line.tokens.count, case .symbol(let x) = line.tokens[i].kind, x == s { i += 1; return true }
        return false
    }
    mutating func optionalString() -> String? {
        if i < line.tokens.count, case .string(let s) = line.tokens[i].kind { i += 1; return s }
        return nil
    }
    mutating func date() throws -> (CivilDate, SourcePos) {
        let p = here
        guard let t = next(), case .date(let s) = t.kind else { throw ruleError(p, "expected a date YYYY-MM-DD") }
        guard let d = CivilDate.parse(s) else { throw ruleError(p, "\(s) is not a real date") }
        return (d, p)
    }
    mutating func number() throws -> String {
        let p = here
        var neg = false
        if takeSymbol("-") { neg = true }
        guard let t = next(), case .number(let s) = t.kind else { throw ruleError(p, "expected a number") }
        return neg ? "-" + s : s
    }
    mutating func end() throws {
        if i < line.tokens.count { throw ruleError(here, "expected the end of the line") }
    }
    /// The rest of the line as one expression.
    mutating func expression() throws -> ExprNode {
        guard i < line.tokens.count else { throw ruleError(here, "expected an expression") }
        var p = ExprParser(Array(line.tokens[i...]), end: endPos)
        let e = try p.parseAll()
        i = line.tokens.count
        return e
    }
}

/// The columns a published list file may have after its keys (outputs.md).
public enum ListColumn: String, CaseIterable, Sendable {
    case certainty, amount, status, district, street, community
    case unknownFacts = "unknown_facts"
    case failedCriteria = "failed_criteria"
    case reasons, triggers
    /// The deciding outreach event of a push entry (outreach.md), empty without one.
    case lastOutcome = "last_outcome"
    case lastOutcomeDate = "last_outcome_date"
    /// The deciding event of a held-back entry, and the first date it may return.
    case outcome
    case outcomeDate = "outcome_date"
    case until
}
