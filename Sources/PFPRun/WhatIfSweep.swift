import Foundation
import PFPCore
import PFPRules
import PFPEmit

/// `--sweep PARAMETER=FROM..TO:STEP`: one reform per value (exact decimals, FROM
/// first, then each STEP up to TO), each value an entry of the parameter from the
/// run date. Each value gets a folder of its own (`PARAMETER@VALUE`), and
/// `sweep-PARAMETER/` holds the summary over all: sweep.csv (per value and policy,
/// the push list's counts and costs) and report.html (cost and count against the
/// value), published last.
struct Sweep {
    let parameter: String
    let values: [Q]
    let runDate: CivilDate
    static let maxValues = 200

    init(spec: String, runDate: CivilDate) throws {
        let usage = "write --sweep PARAMETER=FROM..TO:STEP, e.g. dibao.standard=1500..1800:50"
        guard let eq = spec.firstIndex(of: "=") else { throw PipelineError.usage("--sweep: no '='", hint: usage) }
        parameter = String(spec[..<eq])
        let rest = spec[spec.index(after: eq)...]
        let range = rest.split(separator: ":", omittingEmptySubsequences: false)
        let ends = range.first.map { $0.components(separatedBy: "..") } ?? []
        guard range.count == 2, ends.count == 2, let from = Q(decimal: ends[0]), let to = Q(decimal: ends[1]),
            let step = Q(decimal: String(range[1]))
        else { throw PipelineError.usage("--sweep: '\(spec.prefix(80))' is not PARAMETER=FROM..TO:STEP", hint: usage) }
        guard step > Q(0), from <= to else {
            throw PipelineError.usage("--sweep: STEP must be above 0 and FROM at most TO", hint: usage)
        }
        var v: [Q] = []
        var x = from
        while x <= to {
            v.append(x)
            guard v.count <= Sweep.maxValues else {
                throw PipelineError.usage("--sweep: more than \(Sweep.maxValues) values; take a larger STEP")
            }
            x = x + step
        }
        values = v
        self.runDate = runDate
    }

    var folder: String { "sweep-\(parameter)" }

    var reforms: [Reform] {
        values.map { v in
            Reform(
                name: "\(parameter)@\(v)", label: "\(parameter) = \(v)",
                entries: [
                    Reform.Entry(parameter: parameter, from: runDate, value: "\(v)", origin: "--sweep \(parameter)")
                ])
        }
    }

    /// Writes the summary folder, whole, after every value's folder.
    func publish(outcomes: [WhatIf.Outcome], root: String, runDate: CivilDate, base: RuleSet) throws -> String {
        let dir = try RunDirectory(root: root, name: folder)
        do {
            var csv =
                "value,policy,amount_kind,confirmed,to_verify,gained,lost,cost,cost_upper,cost_change,"
                + "cost_change_upper\n"
            var rows = 0
            var costBars: [RunReport.Bar] = [], countBars: [RunReport.Bar] = []
            for (v, o) in zip(values, outcomes) {
                var monthly = 0, entries = 0
                for t in o.totals {
                    let c = t.cell
                    csv +=
                        [
                            "\(v)", t.policy.id, t.policy.oneOff ? "one_off" : "monthly", "\(c.confirmed[1])",
                            "\(c.toVerify[1])", "\(c.gained)", "\(c.lost)", "\(c.cost[1])", "\(c.upper[1])",
                            "\(c.cost[1] - c.cost[0])", "\(c.upper[1] - c.upper[0])",
                        ].joined(separator: ",") + "\n"
                    rows += 1
                    if !t.policy.oneOff { monthly += c.cost[1] }
                    entries += c.confirmed[1] + c.toVerify[1]
                }
                costBars.append(RunReport.Bar(label: "\(v)", value: monthly))
                countBars.append(RunReport.Bar(label: "\(v)", value: entries))
            }
            try dir.write("sweep.csv", Array(csv.utf8), rows: rows)
            let esc = RunReport.esc
            var html =
                RunReport.head("pfp sweep \(esc(parameter)) \(runDate)") + """
                    <h1>Sweep 参数扫描 — \(esc(parameter))</h1>
                    <p>\(values.count) values tried on the stored run of \(runDate); in force now:
                    \(esc(WhatIfReport.text(base.parameters[parameter]))). Each value's folder is
                    <code>\(esc(parameter))@VALUE/</code> beside this one.</p>
                    <h2>Monthly cost of the push list (confirmed entries), yuan, against the value</h2>

                    """
            html += RunReport.chart(costBars)
            html += "<h2>Push entries (confirmed and to verify) against the value</h2>\n" + RunReport.chart(countBars)
            html += RunReport.foot("Made by pfp whatif --sweep.")
            try dir.write("report.html", Array(html.utf8), rows: 1)
            let manifest = JSON.object([
                ("kind", .string("whatif_sweep")), ("run_date", .string(runDate.description)),
                ("parameter", .string(parameter)), ("values", .array(values.map { .string("\($0)") })),
                ("base_rule_digest", .string(base.digest)),
                ("folders", .array(outcomes.map { .string(($0.path as NSString).lastPathComponent) })),
            ])
            try dir.write("manifest.json", Array((manifest.serialized(pretty: true) + "\n").utf8), rows: 1)
            try dir.publish()
            return dir.finalPath
        } catch {
            dir.abandon()
            throw error
        }
    }
}
