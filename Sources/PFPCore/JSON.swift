import Foundation

/// JSON with object keys in the order they were given, so files are byte-stable.
public indirect enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])
    /// A measured time or rate, written with three decimals: for logs and metrics,
    /// never for money (money is integer fen).
    case measured(Double)

    public static func == (a: JSON, b: JSON) -> Bool { a.serialized() == b.serialized() }

    public static func int(_ n: Int) -> JSON { .int(Int64(n)) }

    /// Compact (one line) or pretty (two-space indent) text.
    public func serialized(pretty: Bool = false) -> String {
        var out: [UInt8] = []
        write(into: &out, pretty: pretty, indent: 0)
        return String(decoding: out, as: UTF8.self)
    }

    private func write(into out: inout [UInt8], pretty: Bool, indent: Int) {
        func newline(_ level: Int) {
            out.append(UInt8(ascii: "\n"))
            out.append(contentsOf: repeatElement(32, count: 2 * level))
        }
        switch self {
        case .null: out += Array("null".utf8)
        case .bool(let b): out += Array((b ? "true" : "false").utf8)
        case .int(let n): out += Array(String(n).utf8)
        case .string(let s): JSON.quote(s, into: &out)
        case .measured(let x): out += Array((x.isFinite ? String(format: "%.3f", x) : "null").utf8)
        case .array(let items):
            if items.isEmpty { out += Array("[]".utf8); return }
            out.append(UInt8(ascii: "["))
            for (i, v) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                if pretty { newline(indent + 1) }
                v.write(into: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { newline(indent) }
            out.append(UInt8(ascii: "]"))
        case .object(let pairs):
            if pairs.isEmpty { out += Array("{}".utf8); return }
            out.append(UInt8(ascii: "{"))
            for (i, (k, v)) in pairs.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                if pretty { newline(indent + 1) }
                JSON.quote(k, into: &out)
                out += Array((pretty ? ": " : ":").utf8)
                v.write(into: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { newline(indent) }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Whether a byte of UTF-8 text must be escaped inside a JSON string: a quote,
    /// a backslash or a control character.
    @inlinable public static func needsEscape(_ b: UInt8) -> Bool {
        b < UInt8(ascii: " ") || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\")
    }

    /// The escape of a byte that needs one (`needsEscape`), handed out byte by byte:
    /// `\"`, `\\`, `\n`, `\r`, `\t`, and `\u00xx` for the other control characters.
    /// The project's one definition of JSON string escaping: `JSON` values and the
    /// byte writers of the hot paths (`ByteWriter`) both escape through it.
    public static func escape(_ b: UInt8, _ emit: (UInt8) -> Void) {
        emit(UInt8(ascii: "\\"))
        switch b {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): emit(b)
        case UInt8(ascii: "\n"): emit(UInt8(ascii: "n"))
        case UInt8(ascii: "\r"): emit(UInt8(ascii: "r"))
        case UInt8(ascii: "\t"): emit(UInt8(ascii: "t"))
        default:
            let hex = Array("0123456789abcdef".utf8)
            for c in [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(b >> 4)], hex[Int(b & 15)]] {
                emit(c)
            }
        }
    }

    /// A quoted, escaped JSON string.
    static func quote(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            if needsEscape(b) { escape(b) { out.append($0) } } else { out.append(b) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Parses JSON text (through Foundation) into plain Swift values.
    public static func parseObject(_ bytes: [UInt8]) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
    }

    public subscript(key: String) -> JSON? {
        if case .object(let pairs) = self { return pairs.first { $0.0 == key }?.1 }
        return nil
    }
}
