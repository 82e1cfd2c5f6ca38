import Foundation
import PFPCore
import PFPSchema

/// The catalogue compiled for the row loop: plain arrays, no strings, so reading
/// a tag's type costs no reference counting per row.
final class CompiledTags: @unchecked Sendable {
    typealias Kind = TagValueKind
    let kind: [Kind]
    let lo: [Int64]
    let hi: [Int64]
    let feed: [Int32]
    let words: [[[UInt8]]]

    init(_ catalogue: TagCatalogue, feeds: [String]) {
        var kind: [Kind] = [], lo: [Int64] = [], hi: [Int64] = [], feed: [Int32] = [], words: [[[UInt8]]] = []
        for t in catalogue.tags {
            var w: [[UInt8]] = []
            var a: Int64 = 0, b: Int64 = 0
            switch t.type {
            case .money: kind.append(.money)
            case .bool: kind.append(.bool)
            case .date: kind.append(.date)
            case .int(let x, let y): kind.append(.int); a = x; b = y
            case .enumeration(let ws): kind.append(.enumeration); w = ws.map { Array($0.utf8) }
            }
            lo.append(a); hi.append(b); words.append(w)
            feed.append(Int32(feeds.firstIndex(of: t.feed) ?? -1))
        }
        self.kind = kind; self.lo = lo; self.hi = hi; self.feed = feed; self.words = words
    }

    @inline(__always)
    func parse(_ t: Int, _ b: UnsafeRawBufferPointer) -> ParsedValue {
        ParsedValue.parse(kind[t], lo: lo[t], hi: hi[t], words: words[t], b)
    }
}
