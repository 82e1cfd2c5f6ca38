import Foundation
import PFPCore
import PFPSchema
import PFPRules
import PFPMatch

/// report.html: one self-contained page for people who would rather look than read.
/// Only counts and sums: no ID number or name ever appears in it.
package enum RunReport {
    package struct Bar {
        package var label: String
        package var value: Int
        package var note: String = ""
        package init(label: String, value: Int, note: String = "") {
            self.label = label; self.value = value; self.note = note
        }
    }

    /// The start of a page up to its body: offline, the style sheet inline.
    /// `title` is HTML already (escape what it quotes).
    package static func head(_ title: String) -> String {
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>\(title)</title>\n"
            + "<style>\(style)</style></head><body>\n"
    }

    /// The end of a page: who made it, from what, and that it runs nothing.
    package static func foot(_ madeBy: String) -> String {
        "<p class=\"muted\">\(madeBy) No script, no external resource.</p>\n</body></html>\n"
    }

    /// The pages' style sheet (report.html and the feedback pages).
    package static let style = """
        body{font-family:"Noto Sans CJK SC","PingFang SC",sans-serif;margin:24px;color:#222;max-width:1100px}
        h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ccc}h3{font-size:14px}
        table{border-collapse:collapse;font-size:13px}\
        td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}
        td:first-child,th:first-child{text-align:left}.muted{color:#777;font-size:12px}
        svg text{font-size:11px;font-family:sans-serif}
        """

    package static func html(
        runDate: CivilDate, rules: RuleSet, figures f: RunFigures, previousCounts: [String: Int]?,
        previousDate: String?, dataQuality: String = ""
    ) -> String {
        var out =
            head("pfp run \(runDate)") + """
                <h1>政策找人 Policy finds people — run \(runDate)</h1>
                <p>\(grouped(f.households)) households, \(grouped(f.people)) people; \
                \(grouped(f.rejects)) input rows rejected. Rule digest <code>\(rules.digest.prefix(16))</code>.</p>

                """
        // Counts per list, with the change since the previous run.
        out +=
            "<h2>Lists 名单</h2>\n<table><tr><th>list</th><th>entries</th><th>previous "
            + "run\(previousDate.map { " (\($0))" } ?? "")</th><th>change</th></tr>\n"
        var listBars: [Bar] = []
        for l in rules.lists {
            let n = f.lists[l.id]?.total ?? 0
            let prev = previousCounts?[l.id]
            let change = prev.map { n - $0 }.map { $0 >= 0 ? "+\(grouped($0))" : grouped($0) } ?? "–"
            out +=
                "<tr><td>\(esc(l.id)) \(esc(l.label))</td><td id=\"count-\(esc(l.id))\">\(grouped(n))</td>"
                + "<td>\(prev.map(grouped) ?? "–")</td><td>\(change)</td></tr>\n"
            listBars.append(Bar(label: l.id, value: n))
        }
        out += "</table>\n" + chart(listBars)

        // Per policy: push entries (confirmed / to verify), take-up gap and monthly cost.
        if let push = rules.lists.first(where: { $0.perPolicy && $0.columns.contains(.certainty) }) {
            let pf = f.lists[push.id] ?? RunFigures.List()
            out += "<h2>Policies 政策 (\(esc(push.id)))</h2>\n"
            out +=
                "<p class=\"muted\">Take-up gap: people or households eligible (confirmed) who do not receive "
                + "the policy. Cost: the sum of the amounts of the entries, yuan per month (one-off for "
                + "policies paid once).</p>\n"
            out +=
                "<table><tr><th>policy</th><th>confirmed (take-up gap)</th><th>to verify</th><th>estimated cost, "
                + "yuan</th></tr>\n"
            var gapBars: [Bar] = [], costBars: [Bar] = []
            for p in rules.policies {
                let confirmed = pf.confirmed[p.id] ?? 0
                let verify = pf.toVerify[p.id] ?? 0
                let cost = pf.cost[p.id] ?? 0
                let skipped = p.skipped.map { " <span class=\"muted\">(skipped: \(esc($0)))</span>" } ?? ""
                out +=
                    "<tr><td>\(esc(p.id)) \(esc(p.label))\(skipped)</td><td>\(grouped(confirmed))</td>"
                    + "<td>\(grouped(verify))</td>"
                    + "<td>\(p.hasAmount ? grouped(cost) + (p.oneOff ? " once" : "") : "–")</td></tr>\n"
                gapBars.append(Bar(label: p.id, value: confirmed))
                // Amounts paid once (`amount once`) are not a monthly cost.
                if p.hasAmount && !p.oneOff { costBars.append(Bar(label: p.id, value: cost)) }
            }
            out += "</table>\n<h3 style=\"font-size:14px\">Take-up gap</h3>\n" + chart(gapBars)
            out +=
                "<h3 style=\"font-size:14px\">Estimated monthly cost of the push list (yuan)</h3>\n" + chart(costBars)
        }

        out += outreach(rules: rules, figures: f)

        // Household lists by reason or trigger.
        for l in rules.lists where !l.perPolicy {
            let codes = f.lists[l.id]?.byCode ?? [:]
            let word = l.columns.contains(.triggers) ? "triggers" : "reasons"
            out += "<h2>\(esc(l.id)) \(esc(l.label)) by \(word)</h2>\n"
            out += chart(l.reasonCodes.map { Bar(label: $0, value: codes[$0] ?? 0) })
        }

        // Per district: entries of every list.
        var districts: Set<Int> = []
        for l in rules.lists { districts.formUnion(f.lists[l.id]?.byDistrict.keys ?? [:].keys) }
        let sorted = districts.sorted()
        func row(_ d: Int) -> [Int] { rules.lists.map { f.lists[$0.id]?.byDistrict[d] ?? 0 } }
        out +=
            "<h2>Districts 区</h2>\n<table><tr><th>district</th>"
            + rules.lists.map { "<th>\(esc($0.id))</th>" }.joined() + "</tr>\n"
        for d in sorted {
            out += "<tr><td>\(d)</td>" + row(d).map { "<td>\(grouped($0))</td>" }.joined() + "</tr>\n"
        }
        out += "</table>\n"
        out += chart(sorted.map { d in Bar(label: String(d), value: row(d).reduce(0, +)) })
        out += dataQuality
        out += foot("Made by pfp from the files beside this report.")
        return out
    }

    /// "Outreach": what became of the pushes (outreach.md): the events as a
    /// funnel, the grant rate per policy, the entries held back by outcome, the
    /// take-up the departments confirm, and the advisers' backlog per district.
    static func outreach(rules: RuleSet, figures f: RunFigures) -> String {
        guard let held = rules.lists.first(where: { $0.heldFrom != nil }), let source = held.heldFrom else { return "" }
        let push = rules.lists[source]
        var out = "<h2>Outreach 外展结果</h2>\n"
        var s = OutreachSummary()
        s.events = f.outreachEvents
        s.grantedReceiving = f.grantedReceiving
        if s.isEmpty {
            out += "<p class=\"muted\">No outreach events on this run: no entry was held back.</p>\n"
        } else {
            let n = s.byOutcome
            func count(_ o: Outcome) -> Int { n[Int(o.rawValue)] }
            let decided = count(.granted) + count(.denied)
            let applied = count(.applied) + decided
            let reached = applied + count(.declined) + count(.dataError) + count(.doNotContact)
            out += "<p class=\"muted\">Events of the outreach feed (each once). Reached: every outcome but "
            out += "attempted and unreachable; applied: applied, granted or denied.</p>\n"
            out += "<h3 style=\"font-size:14px\">Funnel</h3>\n"
            out += chart([
                Bar(label: "attempted", value: reached + count(.attempted) + count(.unreachable)),
                Bar(label: "reached", value: reached), Bar(label: "applied", value: applied),
                Bar(label: "granted", value: count(.granted)),
            ])
            out += "<h3 style=\"font-size:14px\">Beside the funnel</h3>\n"
            out += chart(
                [Outcome.declined, .unreachable, .denied, .dataError, .doNotContact].map {
                    Bar(label: $0.code, value: count($0))
                })
            out += "<table><tr><th>policy</th>" + Outcome.allCases.map { "<th>\(esc($0.code))</th>" }.joined()
            out += "<th>grant rate</th><th>granted, receiving confirmed</th></tr>\n"
            var rateBars: [Bar] = []
            for policy in s.events.keys.sorted() {
                let c = s.events[policy]!
                let g = c[Int(Outcome.granted.rawValue)], d = g + c[Int(Outcome.denied.rawValue)]
                let rate = d > 0 ? "\(g * 100 / d) %" : "–"
                if d > 0 { rateBars.append(Bar(label: policy, value: g * 100 / d, note: "%")) }
                out += "<tr><td>\(policy.isEmpty ? "(household)" : esc(policy))</td>"
                out += c.map { "<td>\(grouped($0))</td>" }.joined()
                out += "<td>\(rate)</td><td>\(grouped(s.grantedReceiving[policy] ?? 0))</td></tr>\n"
            }
            out += "</table>\n"
            if !rateBars.isEmpty {
                out += "<h3 style=\"font-size:14px\">Grant rate among decided applications (%)</h3>\n" + chart(rateBars)
            }
        }
        let heldBy = f.lists[held.id]?.byOutcome ?? [:]
        out += "<h3 style=\"font-size:14px\">Entries held back (\(esc(held.id))) by outcome</h3>\n"
        out += chart(
            Outcome.allCases.filter { (heldBy[$0.code] ?? 0) > 0 }.map { Bar(label: $0.code, value: heldBy[$0.code]!) })
        // The advisers' backlog: entries of the push list with no event, per district.
        let backlog = f.lists[push.id]?.noEventByDistrict ?? [:]
        out += "<h3 style=\"font-size:14px\">Backlog: \(esc(push.id)) entries without any event, per district</h3>\n"
        out += chart(backlog.keys.sorted().map { Bar(label: String($0), value: backlog[$0]!) })
        return out
    }

    /// A horizontal SVG bar chart.
    package static func chart(_ bars: [Bar]) -> String {
        guard !bars.isEmpty else { return "" }
        let maxV = max(1, bars.map(\.value).max() ?? 1)
        let rowH = 18, labelW = 170, barW = 520
        var s =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(labelW + barW + 90)\" "
            + "height=\"\(bars.count * rowH + 6)\" role=\"img\">\n"
        for (i, b) in bars.enumerated() {
            let y = i * rowH + 3
            let w = Int(Double(barW) * Double(b.value) / Double(maxV))
            s += "<text x=\"\(labelW - 6)\" y=\"\(y + 12)\" text-anchor=\"end\">\(esc(b.label))</text>"
            s +=
                "<rect x=\"\(labelW)\" y=\"\(y)\" width=\"\(max(w, b.value > 0 ? 1 : 0))\" "
                + "height=\"\(rowH - 5)\" fill=\"#3b7dd8\"/>"
            s += "<text x=\"\(labelW + w + 4)\" y=\"\(y + 12)\">\(grouped(b.value))</text>\n"
        }
        return s + "</svg>\n"
    }

    package static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
