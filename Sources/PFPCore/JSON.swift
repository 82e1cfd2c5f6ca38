import Foundation

/// JSON with object keys in the order they were given, so files are byte-stable.
package indirect enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    package static func == (a: JSON, b: JSON) -> Bool { a.serialized() == b.serialized() }

    package static func int(_ n: Int) -> JSON { .int(Int64(n)) }

    /// Compact (one line) or pretty (two-space indent) text.
    package func serialized(pretty: Bool = false) -> String {
        let w = JSONBytes()
        write(into: w, pretty: pretty, indent: 0)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    private func write(into w: JSONBytes, pretty: Bool, indent: Int) {
        func newline(_ level: Int) {
            w.byte(10)
            for _ in 0..<level { w.raw("  ") }
        }
        switch self {
        case .null: w.raw("null")
        case .bool(let b): b ? w.raw("true") : w.raw("false")
        case .int(let n): w.int(Int(n))
        case .string(let s): w.string(s)
        case .array(let items):
            if items.isEmpty { w.raw("[]"); return }
            w.byte(91)
            for (i, v) in items.enumerated() {
                if i > 0 { w.byte(44) }
                if pretty { newline(indent + 1) }
                v.write(into: w, pretty: pretty, indent: indent + 1)
            }
            if pretty { newline(indent) }
            w.byte(93)
        case .object(let pairs):
            if pairs.isEmpty { w.raw("{}"); return }
            w.byte(123)
            for (i, (k, v)) in pairs.enumerated() {
                if i > 0 { w.byte(44) }
                if pretty { newline(indent + 1) }
                w.string(k)
                pretty ? w.raw(": ") : w.byte(58)
                v.write(into: w, pretty: pretty, indent: indent + 1)
            }
            if pretty { newline(indent) }
            w.byte(125)
        }
    }

    /// Parses JSON text (through Foundation) into plain Swift values.
    package static func parseObject(_ bytes: [UInt8]) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
    }

    package subscript(key: String) -> JSON? {
        if case .object(let pairs) = self { return pairs.first { $0.0 == key }?.1 }
        return nil
    }
}
