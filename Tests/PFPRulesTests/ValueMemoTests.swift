import XCTest
import PFPTestSupport
@testable import PFPCore
import PFPSchema
@testable import PFPRules

/// A traced decision that takes values from a `ValueMemo` (worked out by other
/// decisions of the household, under the same rules or a reform's) makes the same
/// decision and records the same values and parameters as one worked out alone.
final class ValueMemoTests: XCTestCase {
    var work = ""
    override func setUpWithError() throws { work = try makeWorkDirectory("pfp-memo") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: work) }

    func rules(_ date: CivilDate, _ text: String?) throws -> RuleSet {
        try reformedRules(on: date, reform: text, work: work)
    }

    static let reform = """
        reform r
          dibao.standard from 2026-01-01 = 1650
          watch.income_multiplier from 2026-01-01 = 1.6
        """

    func testValuesDefinedAlikeAreThoseNoChangedNumberReaches() throws {
        let date = CivilDate.parse("2026-11-24")!
        let base = try rules(date, nil), reform = try rules(date, Self.reform)
        let alike = base.valuesDefinedAlike(reform)
        let differ = Set(base.values.indices.filter { !alike[$0] }.map { base.values[$0].id })
        XCTAssertEqual(differ, ["dibao_line", "low_line"])
        XCTAssertEqual(base.valuesDefinedAlike(base), [Bool](repeating: true, count: base.values.count))
        let other = try rules(
            date, "reform r\n  dibao.standard from 2026-01-01 = 1650\n  low_income.multiplier from 2026-01-01 = 2\n")
        XCTAssertEqual(
            Set(base.values.indices.filter { !base.valuesDefinedAlike(other)[$0] }.map { base.values[$0].id }),
            ["dibao_line", "low_line"])
    }

    /// One traced decision as text: certainty, amount, codes, each criterion's or
    /// reason's truth, the values read (by value, person) with their text, the
    /// parameters read.
    func traced(_ ctx: EvalContext, _ t: Tracer, policy: PolicyInfo?, slot: Int?, list: ListInfo?) -> String {
        let d = policy.map { ctx.decide(policy: $0, slot: slot) } ?? ctx.decide(list: list!)
        let results = (d.policy != nil ? d.criteria : d.reasons).map { "\($0.code)=\($0.value.truthWord)" }
        let values = t.valuesRead.sorted { ($0.value, $0.person) < ($1.value, $1.person) }.map {
            "\($0.value)/\($0.person)=\(ctx.describe($0.result))"
        }
        return "\(d.certainty.text) \(d.amount.map(String.init) ?? "-") \(d.codes) \(results) \(values) "
            + "\(t.parameters.sorted())"
    }

    func testDecisionsTakingValuesFromTheMemoAreThoseWorkedOutAlone() throws {
        let cases = try RuleCaseFile.load(directory: repoRoot + "/Pipelines/tests")
        let (tags, policies) = try loadCatalogues()
        let runner = RuleCaseRunner(
            rulesDirectory: repoRoot + "/Pipelines/rules", catalogue: tags, policyCatalogue: policies)
        var sides: [CivilDate: (base: RuleSet, reform: RuleSet)] = [:]
        var compared = 0, taken = 0
        for c in cases {
            var names: [String] = []
            for p in c.people where !names.contains(p.name) { names.append(p.name) }
            guard let data = try? runner.build(c.people, date: c.date, names: names, caseRef: c) else { continue }
            if sides[c.date] == nil {
                guard let b = try? rules(c.date, nil), let r = try? rules(c.date, Self.reform) else { continue }
                sides[c.date] = (b, r)
            }
            let (base, reform) = sides[c.date]!
            // Every entry's decision under both rule sets: (rules, policy, slot, list).
            var decisions: [(RuleSet, String?, Int?, String?)] = []
            let probe = EvalContext(rules: base, data: data)
            guard probe.load(household: 0) else { continue }
            for rs in [base, reform] {
                for p in rs.policies where p.skipped == nil {
                    if p.level == .person {
                        for s in 0..<probe.memberCount { decisions.append((rs, p.id, s, nil)) }
                    } else {
                        decisions.append((rs, p.id, nil, nil))
                    }
                }
                for l in rs.lists { decisions.append((rs, nil, nil, l.id)) }
            }
            // Alone: a context and a tracer of its own for each decision.
            func alone(_ k: Int) -> String {
                let (rs, p, s, l) = decisions[k]
                let ctx = EvalContext(rules: rs, data: data), t = Tracer()
                ctx.tracer = t
                ctx.load(household: 0)
                return traced(ctx, t, policy: p.flatMap { rs.policy($0) }, slot: s, list: l.flatMap { rs.list($0) })
            }
            // With the memo: one tracer for both rule sets' contexts, the decisions
            // interleaved (base, reform, base, ...) and in reverse order.
            for order in [Array(decisions.indices), Array(decisions.indices.reversed())] {
                let t = Tracer(), memo = ValueMemo()
                t.memo = memo
                let ctxs = [base, reform].map { rs -> EvalContext in
                    let ctx = EvalContext(rules: rs, data: data)
                    ctx.shareValues(alike: base.valuesDefinedAlike(rs), tracer: t)
                    return ctx
                }
                let n = decisions.count / 2
                let interleaved = (0..<n).flatMap { [order[$0], order[(n + $0) % decisions.count]] }
                for k in interleaved {
                    let (rs, p, s, l) = decisions[k]
                    let ctx = ctxs[rs === base ? 0 : 1]
                    t.reset()
                    ctx.tracer = t
                    ctx.load(household: 0)
                    let got = traced(
                        ctx, t, policy: p.flatMap { rs.policy($0) }, slot: s, list: l.flatMap { rs.list($0) })
                    ctx.tracer = nil
                    XCTAssertEqual(got, alone(k), "\(c.file):\(c.line) \(p ?? l ?? "")")
                    compared += 1
                }
                taken += memo.taken
            }
        }
        XCTAssertGreaterThan(compared, 1000)
        XCTAssertGreaterThan(taken, compared, "most values are taken from the memo")
    }
}
