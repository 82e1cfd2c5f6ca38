import Foundation
import PFPCore
import PFPFormats
import PFPIngest
import PFPRules
import PFPProfile

/// Parts of explanations that are the same for every entry of a run, as JSON
/// bytes in one arena of their own (one per worker: appending them takes no
/// reference count that another core also touches).
public final class ExplainFragments {
    private let arena: UnsafeMutableBufferPointer<UInt8>
    private var ranges: [Range<Int>] = []
    private let listNames: Int, policyNames: Int, tagNames: Int, tagFeeds: Int, valueNames: Int, rememberedLabels: Int,
        parameters: Int, runDate: Int

    public init(rules: RuleSet, runDate: CivilDate) {
        var bytes: [UInt8] = []
        var ranges: [Range<Int>] = []
        func add(_ f: (ByteWriter) -> Void) {
            let w = ByteWriter(capacity: 64); f(w); ranges.append(bytes.count..<bytes.count + w.count); bytes += w.out
        }
        listNames = ranges.count
        for l in rules.lists { add { $0.string(l.id) } }
        policyNames = ranges.count
        for p in rules.policies { add { $0.string(p.id) } }
        tagNames = ranges.count
        for t in rules.catalogue.tags {
            add {
                $0.byte(UInt8(ascii: ",")); $0.string(t.name); $0.byte(UInt8(ascii: ","))
            }
        }
        tagFeeds = ranges.count
        for t in rules.catalogue.tags {
            add {
                $0.byte(UInt8(ascii: ",")); $0.string(t.feed); $0.byte(UInt8(ascii: ","))
            }
        }
        valueNames = ranges.count
        for v in rules.values { add { $0.string(v.id) } }
        rememberedLabels = ranges.count
        for r in rules.remembered { add { $0.string(r.label) } }
        parameters = ranges.count
        for id in rules.parameterIDs {
            let p = rules.parameters[id]!
            add { w in
                w.raw("["); w.string(id); w.byte(UInt8(ascii: ","))
                w.string(
                    p.isTable
                        ? p.bands.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
                        : (p.value?.description ?? "none"))
                w.byte(UInt8(ascii: ","))
                if let f = p.from { w.date(f.days) } else { w.raw("null") }
                w.raw("]")
            }
        }
        self.runDate = ranges.count
        add { $0.date(runDate.days) }
        arena = .allocate(capacity: max(1, bytes.count))
        _ = arena.initialize(from: bytes)
        self.ranges = ranges
    }

    deinit { arena.deallocate() }

    @inline(__always) private func piece(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: UnsafeBufferPointer(arena)[ranges[i]])
    }
    /// A list's id as a JSON string (by its position in the rules).
    public func listName(_ l: Int) -> UnsafeBufferPointer<UInt8> { piece(listNames + l) }
    /// A policy's id as a JSON string (by its position in the rules).
    public func policyName(_ p: Int) -> UnsafeBufferPointer<UInt8> { piece(policyNames + p) }
    /// A tag's name as a JSON string between commas: `,"income.wage",`.
    func tagName(_ t: Int) -> UnsafeBufferPointer<UInt8> { piece(tagNames + t) }
    /// A tag's feed as a JSON string between commas: `,"hr",`.
    func tagFeed(_ t: Int) -> UnsafeBufferPointer<UInt8> { piece(tagFeeds + t) }
    func valueName(_ v: Int) -> UnsafeBufferPointer<UInt8> { piece(valueNames + v) }
    func rememberedLabel(_ r: Int) -> UnsafeBufferPointer<UInt8> { piece(rememberedLabels + r) }
    func parameter(_ rank: Int32) -> UnsafeBufferPointer<UInt8> { piece(parameters + Int(rank)) }
    var runDateJSON: UnsafeBufferPointer<UInt8> { piece(runDate) }
}
