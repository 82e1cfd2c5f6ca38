import Foundation
import PFPCore
import PFPRules
import PFPMatch
import PFPEmit

/// report.html of a what-if folder: the headline (who gains and loses each
/// policy, the monthly and yearly cost change as a range), charts by policy and
/// by district, the list counts before and after, and the unknown facts that hold
/// the most decisions at "to verify". Offline: no script, no external resource.
/// Counts and sums only: no ID number or name.
enum WhatIfReport {
    static func html(
        reform: Reform, runDate: CivilDate, rules: RuleSet, base: RuleSet, summary: [WhatIfChanges.SummaryRow],
        changes: WhatIfChanges.Changes, before: [String: Int], after: [String: Int], match m: MatchResult,
        afterEntries: ArraySlice<PublishedEntry>
    ) -> String {
        let esc = RunReport.esc
        var out =
            RunReport.head("pfp what-if \(esc(reform.name)) \(runDate)") + """
                <h1>What if 政策模拟 — \(esc(reform.label.isEmpty ? reform.name : reform.label))</h1>
                <p>Reform <code>\(esc(reform.name))</code> tried on the stored run of \(runDate). Base rule digest
                <code>\(base.digest.prefix(16))</code>, with the reform <code>\(rules.digest.prefix(16))</code>.</p>

                """
        out += "<h2>Parameters 参数 (in force on \(runDate))</h2>\n<table><tr><th>parameter</th><th>before</th>"
        out += "<th>after</th></tr>\n"
        for id in Set(reform.entries.map(\.parameter)).sorted() {
            out +=
                "<tr><td>\(esc(id))</td><td>\(esc(WhatIfReport.text(base.parameters[id])))</td>"
                + "<td>\(esc(WhatIfReport.text(rules.parameters[id])))</td></tr>\n"
        }
        out += "</table>\n"

        // Headline: per policy over all districts.
        let totals = summary.filter { $0.district == nil }
        out += "<h2>Headline 总览</h2>\n<table><tr><th>policy</th><th>gaining</th><th>losing</th>"
        out += "<th>confirmed before → after</th><th>to verify before → after</th>"
        out += "<th>cost change, yuan</th><th>per year</th></tr>\n"
        var monthly = (0, 0), once = (0, 0)
        for r in totals {
            let c = r.cell
            let change = (c.cost[1] - c.cost[0], c.upper[1] - c.upper[0])
            if r.policy.oneOff {
                once = (once.0 + change.0, once.1 + change.1)
            } else {
                monthly = (monthly.0 + change.0, monthly.1 + change.1)
            }
            let range = WhatIfReport.range(change.0, change.1)
            out +=
                "<tr><td>\(esc(r.policy.id)) \(esc(r.policy.label))</td><td>\(grouped(c.gained))</td>"
                + "<td>\(grouped(c.lost))</td><td>\(grouped(c.confirmed[0])) → \(grouped(c.confirmed[1]))</td>"
                + "<td>\(grouped(c.toVerify[0])) → \(grouped(c.toVerify[1]))</td>"
                + "<td>\(range)\(r.policy.oneOff ? " (one-off)" : " /month")</td>"
                + "<td>\(r.policy.oneOff ? "–" : WhatIfReport.range(12 * change.0, 12 * change.1))</td></tr>\n"
        }
        out += "</table>\n"
        out +=
            "<p><b>Monthly cost change: <span id=\"monthly-change\">\(WhatIfReport.range(monthly.0, monthly.1))</span> "
            + "yuan; per year "
            + "\(WhatIfReport.range(12 * monthly.0, 12 * monthly.1)) yuan.</b> One-off amounts: "
            + "\(WhatIfReport.range(once.0, once.1)) yuan. The first figure counts confirmed entries; the second "
            + "adds the entries to verify whose amount is known (the upper end of the range).</p>\n"
        out += "<h3>Gaining, by policy</h3>\n"
        out += RunReport.chart(totals.map { RunReport.Bar(label: $0.policy.id, value: $0.cell.gained) })
        out += "<h3>Losing, by policy</h3>\n"
        out += RunReport.chart(totals.map { RunReport.Bar(label: $0.policy.id, value: $0.cell.lost) })

        // By district: entries that change, of any list.
        var byDistrict: [Int32: Int] = [:]
        for c in changes.rows { byDistrict[changes.place(c).district, default: 0] += 1 }
        out += "<h2>By district 分区</h2>\n<p>Entries added, removed or changed in any list.</p>\n"
        out += RunReport.chart(byDistrict.keys.sorted().map { RunReport.Bar(label: "\($0)", value: byDistrict[$0]!) })

        out += "<h2>Lists 名单</h2>\n<table><tr><th>list</th><th>published</th><th>with the reform</th></tr>\n"
        for l in rules.lists {
            out +=
                "<tr><td>\(esc(l.id)) \(esc(l.label))</td><td>\(grouped(before[l.id] ?? 0))</td>"
                + "<td>\(grouped(after[l.id] ?? 0))</td></tr>\n"
        }
        out += "</table>\n"

        // Unknown facts: which tags hold the most push entries at "to verify",
        // counted by the tag before each code's `@` (a few tags: no table of every
        // person's code made).
        var byTag: [Substring: Int] = [:]
        for e in afterEntries where e.certainty == .toVerify {
            for code in m.codes(e) {
                byTag[code.utf8.firstIndex(of: UInt8(ascii: "@")).map { code[..<$0] } ?? code[...], default: 0] += 1
            }
        }
        let facts = Dictionary(byTag.map { (String($0.key), $0.value) }, uniquingKeysWith: +)
        let top = facts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(10)
        out += "<h2>Unknown facts 待核实事实</h2>\n<p>The facts whose being unknown holds the most push entries "
        out += "at \"to verify\" under the reform: verifying them settles the cost range.</p>\n"
        out += RunReport.chart(top.map { RunReport.Bar(label: $0.key, value: $0.value) })
        out += RunReport.foot("Made by pfp whatif.")
        return out
    }

    /// "a" or "a … b" (a range when the upper end differs).
    static func range(_ a: Int, _ b: Int) -> String {
        func signed(_ n: Int) -> String { n > 0 ? "+" + grouped(n) : grouped(n) }
        return a == b ? signed(a) : "\(signed(a)) … \(signed(b))"
    }

    static func text(_ p: ParameterInfo?) -> String {
        guard let p else { return "–" }
        if p.isTable { return p.bands.map { "\($0.key): \($0.value)" }.joined(separator: ", ") }
        return p.value.map { "\($0)" + (p.from.map { " (from \($0))" } ?? "") } ?? "no value"
    }
}
