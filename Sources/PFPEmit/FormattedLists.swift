import Foundation
import PFPCore
import PFPFormats
import PFPRules
import PFPMatch

/// A run's list rows formatted once, in a scratch file, with where each entry's
/// line ends: a what-if of several reforms (a sweep) writes each reform's lists
/// with the rows of the households a reform leaves alone copied from here (the
/// same entries give the same bytes) instead of formatting them again.
package final class FormattedLists: @unchecked Sendable {
    package struct List {
        /// The entries, as the lists hand them to `EmitStage.row`.
        package let entries: ArraySlice<PublishedEntry>
        /// Where the first entry's line starts in the file, and where each ends
        /// (`ends[k]` for `entries.startIndex + k`).
        package let start: Int
        package let ends: [Int]
        /// The list's columns (rows are copied into a list with the same ones only).
        package let keyColumns: [String]
        package let columns: [ListColumn]

        /// The bytes of the lines of entries `range` (indexes of `entries`).
        func lines(_ range: Range<Int>, in file: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
            let lo = range.lowerBound - entries.startIndex, hi = range.upperBound - entries.startIndex
            let from = lo == 0 ? start : ends[lo - 1]
            return UnsafeRawBufferPointer(rebasing: file[from..<(hi == 0 ? start : ends[hi - 1])])
        }
    }

    package let lists: [String: List]
    /// The match's policy ids and codes (a list's rows are copied only for a match
    /// with the same: its entries' indexes mean the same).
    let policyIDs: [String], codes: [String]
    let file: MappedFile

    /// Formats every list's rows of `match` (as the lists' files show them) into
    /// `path` (owner-only; the caller removes it), in parallel pieces.
    package init(
        rules: RuleSet, match: MatchResult, byList: [String: ArraySlice<PublishedEntry>], path: String
    )
        throws
    {
        let w = try FileIO.Writer(path: path, check: .none)
        let policyFields = match.policyIDs.map { CSVText.field($0) }
        var lists: [String: List] = [:]
        let pieceRows = 16_384
        // The bytes written so far (the writer counts those it has handed to the file).
        var offset = 0
        for l in rules.lists {
            let entries = byList[l.id] ?? []
            let start = offset
            let pieces = (entries.count + pieceRows - 1) / pieceRows
            var made = [(ByteWriter, [Int])?](repeating: nil, count: pieces)
            made.withUnsafeMutableBufferPointer { out in
                Parallel.forEach(pieces) { k in
                    let lo = entries.startIndex + k * pieceRows, hi = min(entries.endIndex, lo + pieceRows)
                    let bytes = ByteWriter(capacity: max(64, (hi - lo) * 192))
                    var ends: [Int] = []
                    ends.reserveCapacity(hi - lo)
                    for e in entries[lo..<hi] {
                        EmitStage.row(e, match, list: l, policies: policyFields, into: bytes)
                        ends.append(bytes.count)
                    }
                    out[k] = (bytes, ends)
                }
            }
            var ends: [Int] = []
            ends.reserveCapacity(entries.count)
            for case let (bytes, pieceEnds)? in made {
                try w.write(bytes.bytes)
                ends.append(contentsOf: pieceEnds.lazy.map { offset + $0 })
                offset += bytes.count
            }
            lists[l.id] = List(
                entries: entries, start: start, ends: ends, keyColumns: l.keyColumns, columns: l.columns)
        }
        _ = try w.finish(sync: false)
        self.lists = lists
        policyIDs = match.policyIDs
        codes = match.codes
        file = try MappedFile(path: path, populate: false)
    }

    /// Writes the rows of `entries[range]` of `list` into `w`: an entry's row copied
    /// from the formatted ones where its household has as many entries there and
    /// the entry in its place has the same fields (the same fields give the same
    /// bytes), made by `format` where not.
    func rows(
        _ entries: ArraySlice<PublishedEntry>, _ range: Range<Int>, of list: List, into w: ByteWriter,
        format: (PublishedEntry) -> Void
    ) {
        guard !range.isEmpty else { return }
        // Both sides are in household order: the formatted entries are walked
        // beside these, from the range's first household on.
        let base = list.entries
        var b = base.firstIndex(ofHouseholdFrom: entries[range.lowerBound].household)
        var k = range.lowerBound
        while k < range.upperBound {
            let h = entries[k].household
            var k1 = k + 1
            while k1 < range.upperBound && entries[k1].household == h { k1 += 1 }
            while b < base.endIndex && base[b].household < h { b += 1 }
            var b1 = b
            while b1 < base.endIndex && base[b1].household == h { b1 += 1 }
            // The household's entries may begin before the range or end after it.
            let all = k == range.lowerBound || k1 == range.upperBound ? entries.indexes(ofHousehold: h) : k..<k1
            if all.count == b1 - b {
                // Runs of entries the same as those formatted, copied a run at a time.
                var j = k
                while j < k1 {
                    let at = b + (j - all.lowerBound)
                    var j1 = j
                    while j1 < k1 && FormattedLists.same(entries[j1], base[at + (j1 - j)]) { j1 += 1 }
                    if j1 > j {
                        w.append(list.lines(at..<(at + j1 - j), in: file.bytes).assumingMemoryBound(to: UInt8.self))
                        j = j1
                    } else {
                        format(entries[j])
                        j += 1
                    }
                }
            } else {
                for e in entries[k..<k1] { format(e) }
            }
            k = k1
            b = b1
        }
    }

    /// Whether two entries have the same fields (their codes the same part of the
    /// same codes).
    static func same(_ a: PublishedEntry, _ b: PublishedEntry) -> Bool {
        a.personKey == b.personKey && a.amountValue == b.amountValue && a.community == b.community
            && a.list == b.list && a.household == b.household && a.policy == b.policy && a.codeStart == b.codeStart
            && a.codeCount == b.codeCount && a.district == b.district && a.street == b.street
            && a.outcomeDate == b.outcomeDate && a.until == b.until && a.certainty == b.certainty
            && a.status == b.status && a.outcome == b.outcome
    }

    /// Whether `match`'s entries index the same policies and codes as those
    /// formatted (only then can a row be copied for an entry with the same fields).
    func fits(_ match: MatchResult) -> Bool { match.policyIDs == policyIDs && match.codes == codes }

    /// The formatted rows of list `l`, if it has the same columns.
    func list(_ l: ListInfo) -> List? {
        guard let f = lists[l.id], f.keyColumns == l.keyColumns, f.columns == l.columns else { return nil }
        return f
    }

    /// Lets the pages of the file read so far go (the page cache keeps them).
    func dropResidentPages() { file.dropResidentPages() }
}
