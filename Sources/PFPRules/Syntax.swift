import Foundation
import PFPCore

/// Where something is in a rule file, for errors: `Pipelines/rules/x.rules:12:5`.
public struct SourcePos: Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var description: String { "\(file):\(line):\(column)" }
}

/// A rule file that cannot be used: where and what was expected.
func ruleError(_ pos: SourcePos, _ message: String) -> PipelineError {
    PipelineError.badInput(location: pos.description, message, hint: "fix the rule file; nothing was read or published")
}

enum TokenKind: Equatable {
    case ident(String)  // letters, digits, _ and . between names: income.wage
    case number(String)  // 12, 0.3
    case string(String)  // "..."
    case date(String)  // 2016-04-01
    case symbol(String)  // ( ) , : = == != < <= > >= + - * / ..
}

struct Token {
    var kind: TokenKind
    var pos: SourcePos
}

/// A logical line: a statement and its continuation lines, tokenised.
struct LogicalLine {
    var indent: Int
    var tokens: [Token]
    var pos: SourcePos
}

enum Lexer {
    static let keywordsStartingStatements: Set<String> = [
        "parameter", "table", "person", "household", "policy", "list", "criterion", "branch", "amount",
        "from", "when", "let", "reason", "trigger", "after", "columns", "held", "outcomes",
    ]

    /// Splits a file into logical lines. A line indented deeper than the statement
    /// before it, and not starting with a statement keyword, continues that statement.
    /// `continuations`: a deeper-indented line that starts no statement continues the
    /// line above (rule files); a reform file has one entry per line.
    static func lines(file: String, text: String, maxLines: Int = 100_000, continuations: Bool = true) throws
        -> [LogicalLine]
    {
        var out: [LogicalLine] = []
        let physical = text.split(separator: "\n", omittingEmptySubsequences: false)
        if physical.count > maxLines {
            throw ruleError(
                SourcePos(file: file, line: maxLines, column: 1),
                "the file has more than \(maxLines) lines; rule files are kept small")
        }
        for (i, raw) in physical.enumerated() {
            let lineNo = i + 1
            let chars = Array(
                String(raw).replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\t", with: "    "))
            // Strip a comment (a # outside a string).
            var end = chars.count
            var inString = false
            for (k, c) in chars.enumerated() {
                if c == "\"" { inString.toggle() }
                if c == "#" && !inString { end = k; break }
            }
            let content = Array(chars[0..<end])
            guard let first = content.firstIndex(where: { $0 != " " }) else { continue }
            if content[first...].allSatisfy({ $0 == " " }) { continue }
            let tokens = try tokenize(content, file: file, line: lineNo)
            if tokens.isEmpty { continue }
            let pos = SourcePos(file: file, line: lineNo, column: first + 1)
            var startsStatement = false
            if case .ident(let w) = tokens[0].kind, keywordsStartingStatements.contains(w) { startsStatement = true }
            if continuations, let last = out.last, first > last.indent, !startsStatement {
                out[out.count - 1].tokens.append(contentsOf: tokens)
                continue
            }
            out.append(LogicalLine(indent: first, tokens: tokens, pos: pos))
        }
        return out
    }

    static func tokenize(_ c: [Character], file: String, line: Int) throws -> [Token] {
        var out: [Token] = []
        var i = 0
        func pos(_ k: Int) -> SourcePos { SourcePos(file: file, line: line, column: k + 1) }
        func isIdentStart(_ ch: Character) -> Bool { ch.isLetter || ch == "_" }
        func isIdentChar(_ ch: Character) -> Bool { ch.isLetter || ch.isNumber || ch == "_" }
        while i < c.count {
            let ch = c[i]
            if ch == " " { i += 1; continue }
            let start = i
            if ch.isASCII && ch.isNumber {
                // A date (YYYY-MM-DD) or a number.
                if i + 10 <= c.count, c[i + 4] == "-", c[i + 7] == "-",
                    (c[i..<i + 4] + c[i + 5..<i + 7] + c[i + 8..<i + 10]).allSatisfy({ $0.isASCII && $0.isNumber })
                {
                    out.append(Token(kind: .date(String(c[i..<i + 10])), pos: pos(start)))
                    i += 10
                    continue
                }
                while i < c.count, c[i].isASCII, c[i].isNumber { i += 1 }
                if i + 1 < c.count, c[i] == ".", c[i + 1].isASCII, c[i + 1].isNumber {
                    i += 1
                    while i < c.count, c[i].isASCII, c[i].isNumber { i += 1 }
                }
                out.append(Token(kind: .number(String(c[start..<i])), pos: pos(start)))
                continue
            }
            if isIdentStart(ch) {
                while i < c.count {
                    if isIdentChar(c[i]) { i += 1; continue }
                    if c[i] == ".", i + 1 < c.count, isIdentStart(c[i + 1]) { i += 1; continue }
                    break
                }
                out.append(Token(kind: .ident(String(c[start..<i])), pos: pos(start)))
                continue
            }
            if ch == "\"" {
                i += 1
                while i < c.count, c[i] != "\"" { i += 1 }
                guard i < c.count else { throw ruleError(pos(start), "a string opened here is not closed with \"") }
                out.append(Token(kind: .string(String(c[start + 1..<i])), pos: pos(start)))
                i += 1
                continue
            }
            let two = i + 1 < c.count ? String(c[i...i + 1]) : ""
            if ["==", "!=", "<=", ">=", ".."].contains(two) {
                out.append(Token(kind: .symbol(two), pos: pos(start)))
                i += 2
                continue
            }
            if "(),:=<>+-*/".contains(ch) {
                out.append(Token(kind: .symbol(String(ch)), pos: pos(start)))
                i += 1
                continue
            }
            throw ruleError(pos(start), "unexpected character '\(ch)'")
        }
        return out
    }
}

/// An expression as written, with its position.
indirect enum ExprNode {
    case number(String, SourcePos)
    case string(String, SourcePos)
    case boolean(Bool, SourcePos)
    case name(String, SourcePos)
    case call(String, [ExprNode], SourcePos)
    /// sum/count/any/all/max/max_known over a collection, with an optional filter and body.
    case aggregate(Aggregate, collection: String, filter: ExprNode?, body: ExprNode?, SourcePos)
    case unary(UnaryOperator, ExprNode, SourcePos)
    case binary(BinaryOperator, ExprNode, ExprNode, SourcePos)
    case inRange(ExprNode, ExprNode, ExprNode, SourcePos)
    case ifThen(ExprNode, ExprNode, ExprNode, SourcePos)

    var pos: SourcePos {
        switch self {
        case .number(_, let p), .string(_, let p), .boolean(_, let p), .name(_, let p), .call(_, _, let p),
            .aggregate(_, _, _, _, let p), .unary(_, _, let p), .binary(_, _, _, let p), .inRange(_, _, _, let p),
            .ifThen(_, _, _, let p):
            return p
        }
    }
}

/// Parses one expression from tokens (precedence: or < and < not < comparison < + - < * / < unary).
struct ExprParser {
    var tokens: [Token]
    var i = 0
    let endPos: SourcePos
    var depth = 0
    static let maxDepth = 64

    init(_ tokens: [Token], end: SourcePos) {
        self.tokens = tokens
        self.endPos = end
    }

    var atEnd: Bool { i >= tokens.count }
    var here: SourcePos { atEnd ? endPos : tokens[i].pos }

    func peekSymbol(_ s: String) -> Bool {
        if !atEnd, case .symbol(let x) = tokens[i].kind, x == s { return true }
        return false
    }
    func peekWord(_ w: String) -> Bool {
        if !atEnd, case .ident(let x) = tokens[i].kind, x == w { return true }
        return false
    }

    mutating func expect(_ s: String) throws {
        guard peekSymbol(s) else { throw ruleError(here, "expected '\(s)'" + found()) }
        i += 1
    }
    mutating func expectWord(_ w: String) throws {
        guard peekWord(w) else { throw ruleError(here, "expected '\(w)'" + found()) }
        i += 1
    }

    func found() -> String {
        guard !atEnd else { return ", found the end of the line" }
        switch tokens[i].kind {
        case .ident(let s): return ", found '\(s)'"
        case .number(let s): return ", found '\(s)'"
        case .string(let s): return ", found \"\(s)\""
        case .date(let s): return ", found '\(s)'"
        case .symbol(let s): return ", found '\(s)'"
        }
    }

    /// The whole token list must be one expression.
    mutating func parseAll() throws -> ExprNode {
        let e = try parseExpr()
        if !atEnd { throw ruleError(here, "expected an operator or the end of the expression" + found()) }
        return e
    }

    mutating func parseExpr() throws -> ExprNode {
        depth += 1
        defer { depth -= 1 }
        if depth > ExprParser.maxDepth {
            throw ruleError(here, "the expression is nested more than \(ExprParser.maxDepth) levels deep")
        }
        if peekWord("if") {
            let p = here
            i += 1
            let c = try parseExpr()
            try expectWord("then")
            let a = try parseExpr()
            try expectWord("else")
            let b = try parseExpr()
            return .ifThen(c, a, b, p)
        }
        return try parseOr()
    }

    mutating func parseOr() throws -> ExprNode {
        var l = try parseAnd()
        while peekWord("or") { let p = here; i += 1; l = .binary(.or, l, try parseAnd(), p) }
        return l
    }
    mutating func parseAnd() throws -> ExprNode {
        var l = try parseNot()
        while peekWord("and") { let p = here; i += 1; l = .binary(.and, l, try parseNot(), p) }
        return l
    }
    mutating func parseNot() throws -> ExprNode {
        if peekWord("not") {
            let p = here
            i += 1
            depth += 1
            defer { depth -= 1 }
            if depth > ExprParser.maxDepth { throw ruleError(p, "the expression is nested too deeply") }
            return .unary(.not, try parseNot(), p)
        }
        return try parseComparison()
    }
    mutating func parseComparison() throws -> ExprNode {
        let l = try parseAdd()
        for symbol in ["=", "==", "!=", "<", "<=", ">", ">="] where peekSymbol(symbol) {
            let p = here
            i += 1
            let c = Comparison(rawValue: symbol == "==" ? "=" : symbol).unsafelyUnwrapped
            return .binary(.compare(c), l, try parseAdd(), p)
        }
        if peekWord("in") {
            let p = here
            i += 1
            let lo = try parseAdd()
            try expect("..")
            let hi = try parseAdd()
            return .inRange(l, lo, hi, p)
        }
        return l
    }
    mutating func parseAdd() throws -> ExprNode {
        var l = try parseMul()
        while peekSymbol("+") || peekSymbol("-") {
            guard case .symbol(let symbol) = tokens[i].kind, let op = Arithmetic(spelling: symbol) else { break }
            let p = here
            i += 1
            l = .binary(.arithmetic(op), l, try parseMul(), p)
        }
        return l
    }
    mutating func parseMul() throws -> ExprNode {
        var l = try parseUnary()
        while peekSymbol("*") || peekSymbol("/") {
            guard case .symbol(let symbol) = tokens[i].kind, let op = Arithmetic(spelling: symbol) else { break }
            let p = here
            i += 1
            l = .binary(.arithmetic(op), l, try parseUnary(), p)
        }
        return l
    }
    mutating func parseUnary() throws -> ExprNode {
        if peekSymbol("-") {
            let p = here
            i += 1
            depth += 1
            defer { depth -= 1 }
            if depth > ExprParser.maxDepth { throw ruleError(p, "the expression is nested too deeply") }
            return .unary(.negate, try parseUnary(), p)
        }
        return try parsePrimary()
    }
    mutating func parsePrimary() throws -> ExprNode {
        guard !atEnd else { throw ruleError(here, "expected a value, a name or '('" + found()) }
        let t = tokens[i]
        switch t.kind {
        case .number(let s): i += 1; return .number(s, t.pos)
        case .string(let s): i += 1; return .string(s, t.pos)
        case .date(let s):
            throw ruleError(
                t.pos, "a date literal (\(s)) cannot stand in an expression; compare with run_date or a date tag")
        case .symbol("("):
            i += 1
            let e = try parseExpr()
            try expect(")")
            return e
        case .symbol(let s): throw ruleError(t.pos, "expected a value, a name or '(', found '\(s)'")
        case .ident(let name):
            i += 1
            if name == "true" { return .boolean(true, t.pos) }
            if name == "false" { return .boolean(false, t.pos) }
            if ["and", "or", "not", "then", "else", "in", "where"].contains(name) {
                throw ruleError(t.pos, "expected a value, found the keyword '\(name)'")
            }
            guard peekSymbol("(") else { return .name(name, t.pos) }
            i += 1
            if let fn = Aggregate(spelling: name) {
                guard !atEnd, case .ident(let coll) = tokens[i].kind else {
                    throw ruleError(here, "expected members or previous_members" + found())
                }
                i += 1
                var filter: ExprNode?
                if peekWord("where") { i += 1; filter = try parseExpr() }
                var body: ExprNode?
                if peekSymbol(",") { i += 1; body = try parseExpr() }
                try expect(")")
                return .aggregate(fn, collection: coll, filter: filter, body: body, t.pos)
            }
            var args: [ExprNode] = []
            if !peekSymbol(")") {
                args.append(try parseExpr())
                while peekSymbol(",") { i += 1; args.append(try parseExpr()) }
            }
            try expect(")")
            return .call(name, args, t.pos)
        }
    }
}

extension ExprNode {
    /// The expression written back as text (for explanations).
    var text: String {
        switch self {
        case .number(let s, _): return s
        case .string(let s, _): return "\"\(s)\""
        case .boolean(let b, _): return b ? "true" : "false"
        case .name(let n, _): return n
        case .call(let f, let args, _): return f + "(" + args.map(\.text).joined(separator: ", ") + ")"
        case .aggregate(let f, let coll, let filter, let body, _):
            var s = f.name + "(" + coll
            if let filter { s += " where " + filter.text }
            if let body { s += ", " + body.text }
            return s + ")"
        case .unary(let op, let x, _): return op == .not ? "not " + x.text : "-" + x.text
        case .binary(let op, let l, let r, _): return "(" + l.text + " " + op.symbol + " " + r.text + ")"
        case .inRange(let x, let lo, let hi, _): return x.text + " in " + lo.text + ".." + hi.text
        case .ifThen(let c, let a, let b, _): return "if " + c.text + " then " + a.text + " else " + b.text
        }
    }
}
