import PFPCore
import PFPSchema

/// A feed's header judged against the contract, and what is wrong with it said in
/// the contract's terms.
///
/// The first line of a broken file may be a resident's row (an export that lost its
/// header) or another file's content, so a message about it names only the
/// contract's columns, counts and positions, and a header cell only when it is a
/// near miss of a contract column (`ContractWords`). Nothing else of the line is shown.
enum HeaderCheck {
    /// Every column of a shape, read or not, in the contract's order.
    static func columns(of shape: FeedSpec.Shape) -> [String] {
        switch shape {
        case .population: return PopulationColumns.all
        case .tags: return TagColumns.required
        case .outreach: return OutreachColumns.all
        }
    }

    static func required(of shape: FeedSpec.Shape) -> [String] {
        switch shape {
        case .population: return PopulationColumns.required
        case .tags: return TagColumns.required
        case .outreach: return OutreachColumns.all
        }
    }

    static let shapes: [FeedSpec.Shape] = [.population, .tags, .outreach]

    /// Every column name of the contract, of every shape.
    static let contractWords = ContractWords(shapes.flatMap(columns(of:)))

    /// The position of each of the shape's columns, or what is wrong with the header.
    static func positions(
        header: [String], wellFormed: Bool, shape: FeedSpec.Shape,
        feed: String
    ) -> Result<[String: Int], HeaderProblem> {
        let known = columns(of: shape)
        var positions: [String: Int] = [:]
        var twice: [String] = []
        for (i, cell) in header.enumerated() where known.contains(cell) {
            if positions[cell] == nil { positions[cell] = i } else if !twice.contains(cell) { twice.append(cell) }
        }
        let missing = required(of: shape).filter { positions[$0] == nil }
        if missing.isEmpty && twice.isEmpty && wellFormed { return .success(positions) }

        if !wellFormed {
            return .failure(
                HeaderProblem(
                    message: "the first line's quoting is broken (a quote left open, or a stray quote), "
                        + "so its columns cannot be read; the header should name \(known.joined(separator: ","))"))
        }
        var parts: [String] = []
        if !twice.isEmpty {
            parts.append(twice.map { "the header names column '\($0)' twice" }.joined(separator: "; "))
        }
        if !missing.isEmpty {
            parts.append(missingColumns(missing, header: header, shape: shape, feed: feed))
        }
        return .failure(HeaderProblem(message: parts.joined(separator: "; ")))
    }

    /// Why the shape's columns are not all there: another shape's header, no header
    /// at all, or some columns missing (with the near misses that may be them).
    private static func missingColumns(
        _ missing: [String], header: [String], shape: FeedSpec.Shape,
        feed: String
    ) -> String {
        let expected = columns(of: shape).joined(separator: ",")
        if header.isEmpty {
            return
                "the file is empty: it has no header row, so the header lacks column(s) "
                + "\(missing.joined(separator: ", "))"
        }
        if let other = shapes.first(where: { $0 != shape && required(of: $0).allSatisfy(header.contains) }) {
            return "the header is \(other.feedName)'s (\(required(of: other).joined(separator: ","))), "
                + "but the manifest names feed \(feed), \(shape.feedName) (\(expected))"
        }
        if !header.contains(where: { contractWords.canonical($0) != nil }) {
            return
                "the first line names none of the contract's columns (it has \(header.count) "
                + "field\(header.count == 1 ? "" : "s")): "
                + "the header row is missing, or the file is not CSV of this feed; the header should name \(expected)"
        }
        let known = columns(of: shape)
        var notes: [String] = []
        var unknown = 0
        for (i, cell) in header.enumerated() where !known.contains(cell) {
            let afterBOM = cell.unicodeScalars.first == "\u{FEFF}" ? String(cell.unicodeScalars.dropFirst()) : nil
            if let word = contractWords.canonical(cell) {
                if word != cell { notes.append("field \(i + 1) is '\(cell)': did you mean \(word)?") }
            } else if let word = contractWords.nearMiss(cell) {
                notes.append("field \(i + 1) is '\(cell)': did you mean \(word)?")
            } else if let afterBOM {
                let shown = contractWords.canonical(afterBOM).map { " before '\($0)'" } ?? ""
                notes.append("field \(i + 1) begins with a byte-order mark (U+FEFF)\(shown): a BOM inside the file")
            } else {
                unknown += 1
            }
        }
        if unknown > 0 {
            notes.append(
                "\(unknown) other field\(unknown == 1 ? " is not a column" : "s are not columns") of the "
                    + "contract (not shown)"
            )
        }
        return (["the header lacks column(s) \(missing.joined(separator: ", "))"] + notes).joined(separator: "; ")
    }
}

extension FeedSpec.Shape {
    /// A feed of this shape, in words.
    var feedName: String {
        switch self {
        case .population: return "a population feed"
        case .tags: return "a tag feed"
        case .outreach: return "an outreach feed"
        }
    }
}

/// What is wrong with a header, in words that quote no delivered text but contract words.
public struct HeaderProblem: Error, Sendable { public var message: String }
