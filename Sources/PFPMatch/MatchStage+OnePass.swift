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
        chunks: Int, subset: [Int32]?
    ) throws -> (entries: [PublishedEntry], codes: [String], living: Int) {
        let hCount = subset?.count ?? data.householdCount, listCount = rules.lists.count
        var policyRank = [Int](repeating: 0, count: rules.policies.count)
        for (rank, p) in rules.policies.indices.sorted(by: {
            rules.policies[$0].id.utf8.lexicographicallyPrecedes(rules.policies[$1].id.utf8)
        }).enumerated() {
            policyRank[p] = rank
        }
        var made = [Made?](repeating: nil, count: chunks)
        let failed = NSLock()
        var failure: PipelineError?
        Meter.shared.start("deciding households", unit: "households", total: hCount)
        made.withUnsafeMutableBufferPointer { out in
            Parallel.forEach(chunks) { (worker: Int, c: Int) in
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
                    if let outreach, outreach.hasEvents(household: h) {
                        ctx.rules.hold(&positions, ctx: ctx, holders: outreach.holder) { person, policy in
                            outreach.deciding(household: h, person: person, policy: policy)
                        }
                    }
                    if ctx.memberCount > Int(Int16.max) {
                        failed.lock()
                        failure = PipelineError.badInput(
                            stage: "match",
                            "household \(data.householdIDs[h]) has \(ctx.memberCount) members: at most \(Int16.max) "
                                + "are supported")
                        failed.unlock()
                        continue
                    }
                    // Published order within a household: list, then person ID, then policy.
                    let keyed = positions.map { e in
                        (
                            list: Int(e.list), person: e.slot >= 0 ? data.personID[Int(ctx.member(Int(e.slot)))] : 0,
                            policy: e.policy >= 0 ? policyRank[Int(e.policy)] : -1, entry: e
                        )
                    }
                    .sorted { ($0.list, $0.person, $0.policy) < ($1.list, $1.person, $1.policy) }
                    var i = 0
                    while i < keyed.count {
                        let l = keyed[i].list
                        run.removeAll(keepingCapacity: true)
                        while i < keyed.count && keyed[i].list == l { run.append(keyed[i].entry); i += 1 }
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
