import Foundation
import PFPCore
import PFPFormats
import PFPIngest
import PFPRules

extension MatchStage {
    /// One chunk's entries made in the single pass: list by list (rule order),
    /// each in its file's order, their code ranges within the chunk's codes.
    struct Made {
        var byList: [[PublishedEntry]]
        var codes: [String]
        var living: Int
    }

    /// Without explanations (`pfp whatif`): one pass over the households. Each
    /// household's entries are made as soon as its positions are found, with the
    /// same code as the second pass (`explain(list:...)`: amounts, codes, status,
    /// outreach notes), then placed list by list (rule order), chunks in order, as
    /// the two passes place them. Nothing is remembered for a next run and no push
    /// key kept: a what-if never stores its state.
    func entriesInOnePass(
        data: IngestResult, rules: RuleSet, previous: RunState?, outreach: OutreachLookup?, workers: Workers,
        chunks: Int, subset: [Int32]?, dropBehind: (() -> Void)? = nil
    ) throws -> (entries: [PublishedEntry], codes: [String], living: Int) {
        let hCount = subset?.count ?? data.householdCount, listCount = rules.lists.count
        let policyRank = MatchStage.policyRanks(rules)
        var made = [Made?](repeating: nil, count: chunks)
        let failed = NSLock()
        var failure: PipelineError?
        Meter.shared.start("deciding households", unit: "households", total: hCount)
        // Every second chunk done, `dropBehind` lets the pages read so far go (the
        // chunks are taken in household order: a chunk still being decided reads
        // its own pages again, the chunks after it read later ones).
        let behind = dropBehind.map { EveryNth(2, $0) }
        made.withUnsafeMutableBufferPointer { out in
            Parallel.forEach(chunks) { (worker: Int, c: Int) in
                defer { behind?.tick() }
                let range = (c * MatchStage.chunk)..<min(hCount, (c + 1) * MatchStage.chunk)
                defer { Meter.shared.add(range.count) }
                let ctx = workers.contexts[worker], tracer = workers.tracers[worker]
                var chunk = Made(byList: .init(repeating: [], count: listCount), codes: [], living: 0)
                var positions: [EntryPosition] = [], run: [EntryPosition] = [], keys: [String] = []
                let text = ByteWriter(capacity: 16)  // nothing is written without explanations
                for k in range {
                    let h = subset.map { Int($0[k]) } ?? k
                    let prev = previous?.remembered(data.householdIDs[h])
                    guard ctx.load(household: h, previous: prev) else { continue }
                    chunk.living += 1
                    positions.removeAll(keepingCapacity: true)
                    ctx.entryPositions(wasOnAfterList: prev != nil, into: &positions)
                    if positions.isEmpty { continue }
                    let keyed: [EntryPosition]
                    do {
                        keyed = try MatchStage.published(
                            &positions, household: h, ctx: ctx, data: data, outreach: outreach,
                            policyRank: policyRank)
                    } catch {
                        failed.lock()
                        failure = error as? PipelineError
                        failed.unlock()
                        continue
                    }
                    var i = 0
                    while i < keyed.count {
                        let l = Int(keyed[i].list)
                        run.removeAll(keepingCapacity: true)
                        while i < keyed.count && Int(keyed[i].list) == l { run.append(keyed[i]); i += 1 }
                        explain(
                            list: l, run, ctx: ctx, data: data, outreach: outreach, tracer: tracer,
                            previousState: previous, fragments: workers.fragments[worker],
                            entries: &chunk.byList[l], codes: &chunk.codes, text: text, keys: &keys,
                            keepingCaches: true)
                        keys.removeAll(keepingCapacity: true)
                    }
                }
                out[c] = chunk
            }
        }
        if let failure { throw failure }
        let chunksMade = made.map { $0! }
        var codeBase = [Int32](repeating: 0, count: chunks)
        var codeTotal = 0
        for c in 0..<chunks {
            codeBase[c] = Int32(codeTotal)
            codeTotal += chunksMade[c].codes.count
        }
        guard codeTotal <= Int(Int32.max) else {
            throw PipelineError.badInput(
                stage: "match", "\(codeTotal) codes in the lists: at most \(Int32.max) are supported")
        }
        var entries: [PublishedEntry] = []
        entries.reserveCapacity(chunksMade.reduce(0) { $0 + $1.byList.reduce(0) { $0 + $1.count } })
        for l in 0..<listCount {
            for c in 0..<chunks {
                for var e in chunksMade[c].byList[l] {
                    e.codeStart += codeBase[c]
                    entries.append(e)
                }
            }
        }
        var codes: [String] = []
        codes.reserveCapacity(codeTotal)
        for m in chunksMade { codes.append(contentsOf: m.codes) }
        return (entries, codes, chunksMade.reduce(0) { $0 + $1.living })
    }
}
