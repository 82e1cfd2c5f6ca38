import XCTest
@testable import PFPIngest

/// Tag resolution against a plain reference: per tag and person the latest
/// as_of wins (the first such row in delivery order), rows on that date that
/// disagree make a conflict; columns in person order. Rows in person order, a
/// few people out of order (sorted), many out of order (found by a pass over
/// everyone), over several chunks and feeds, tags of very different sizes taken
/// in any order by the workers.
final class ResolveTests: XCTestCase {
    struct Rng {
        var x: UInt64;
        mutating func next(_ n: Int) -> Int {
            x = x &* 6364136223846793005 &+ 1442695040888963407; return Int((x >> 33) % UInt64(n))
        }
    }

    func reference(
        _ parts: [[[TagObservation]]], feedOfTag: [Int], personCount: Int
    ) -> [[Int32: (value: Int64, asOf: Int32, conflict: UInt8)]] {
        feedOfTag.enumerated().map { t, f in
            var best: [Int32: (value: Int64, asOf: Int32, conflict: UInt8)] = [:]
            guard f >= 0 else { return best }
            for chunk in parts[f] {
                for o in chunk where o.tag == t {
                    if let b = best[o.person] {
                        if b.asOf < o.asOf {
                            best[o.person] = (o.value, o.asOf, 0)
                        } else if b.asOf == o.asOf && b.value != o.value {
                            best[o.person] = (b.value, b.asOf, 1)
                        }
                    } else {
                        best[o.person] = (o.value, o.asOf, 0)
                    }
                }
            }
            return best
        }
    }

    func check(order: String, seed: UInt64) {
        var rng = Rng(x: seed)
        let personCount = 3_000
        let feedOfTag = [0, 0, 1, -1, 1, 0]
        var parts: [[[TagObservation]]] = [[], []]
        for f in 0..<2 {
            var rows: [TagObservation] = []
            var people: [Int32]
            switch order {
            case "sorted": people = (0..<personCount).filter { _ in rng.next(3) > 0 }.map { Int32($0) }
            case "few":
                people = (0..<personCount).filter { _ in rng.next(3) > 0 }.map { Int32($0) }
                // two people swapped: out of order, few enough to sort
                people = Array(people.prefix(120)); people.swapAt(3, 70)
            default: people = (0..<personCount).filter { _ in rng.next(3) > 0 }.map { Int32($0) }.shuffled(using: &rng)
            }
            for p in people {
                for (t, tf) in feedOfTag.enumerated() where tf == f && rng.next(4) > 0 {
                    for _ in 0..<(1 + rng.next(3)) {
                        rows.append(
                            TagObservation(
                                tag: UInt8(t), person: p, asOf: Int32(20_000 + rng.next(3)), value: Int64(rng.next(3))))
                    }
                }
            }
            var chunks: [[TagObservation]] = []
            var i = 0
            while i < rows.count {
                let n = 1 + rng.next(700); chunks.append(Array(rows[i..<min(rows.count, i + n)])); i += n
            }
            parts[f] = chunks
        }
        // Each tag's rows apart, piece by piece, as the parsing gives them.
        let byTag = feedOfTag.enumerated().map { t, f in f < 0 ? [] : parts[f].map { $0.filter { $0.tag == t } } }
        let (got, conflicts) = IngestStage.resolve(byTag, personCount: personCount)
        let want = reference(parts, feedOfTag: feedOfTag, personCount: personCount)
        for t in feedOfTag.indices {
            let r = got[t]
            XCTAssertEqual(r.person.array, want[t].keys.sorted(), "\(order) tag \(t): people")
            for (i, p) in r.person.enumerated() {
                let w = want[t][p]!
                XCTAssertEqual(r.value[i], w.value, "\(order) tag \(t) person \(p)")
                XCTAssertEqual(r.asOf[i], w.asOf, "\(order) tag \(t) person \(p)")
                XCTAssertEqual(r.conflict[i], w.conflict, "\(order) tag \(t) person \(p)")
            }
            XCTAssertEqual(conflicts[t], want[t].values.filter { $0.conflict == 1 }.count, "\(order) tag \(t)")
        }
    }

    func testMatchesTheReferenceInEveryOrder() {
        for seed in 1...5 as ClosedRange<UInt64> {
            for order in ["sorted", "few", "shuffled"] { check(order: order, seed: seed) }
        }
    }
}

extension ResolveTests.Rng: RandomNumberGenerator {
    mutating func next() -> UInt64 { x = x &* 6364136223846793005 &+ 1442695040888963407; return x }
}
