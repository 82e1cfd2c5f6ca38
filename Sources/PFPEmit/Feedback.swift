import Foundation
import PFPCore
import PFPIngest

/// Data-quality feedback to the departments: for each feed of the run,
/// `feedback/<feed>.csv` (line, reason: rejects.csv's rows of that feed, never
/// the row's content) and `feedback/<feed>.html` (the feed's figures, its
/// rejects by reason and line by line, and its trends over the last runs), plus
/// the data-quality section of report.html. A department reads its own page
/// without reading the whole run.
package enum Feedback {
    /// The registry's feeds of the last runs, oldest first (this run included).
    package typealias History = [(runDate: CivilDate, feeds: [RunRegistry.FeedRecord])]
    /// How many runs the trends cover.
    package static let trendRuns = 30
    /// At most this many reject lines are listed on a page; the CSV beside it always has all.
    package static let pageLines = 20_000

    /// Writes both files of every feed into `dir`'s `feedback/` folder.
    package static func write(
        feeds: [FeedReport], rejects: [(feed: String, line: Int, reason: String)], history: History,
        runDate: CivilDate, into dir: RunDirectory
    ) throws {
        try dir.makeFolder("feedback")
        var byFeed: [String: [(line: Int, reason: String)]] = [:]
        for r in rejects { byFeed[r.feed, default: []].append((r.line, r.reason)) }
        for rep in feeds {
            let rows = byFeed[rep.feed] ?? []
            let w = try FileIO.Writer(path: dir.path("feedback/\(rep.feed).csv"))
            try w.write("line,reason\n")
            for r in rows { try w.write("\(r.line),\(r.reason)\n") }
            dir.add(name: "feedback/\(rep.feed).csv", rows: rows.count, sha256: try w.finish(), bytes: w.bytesWritten)
            let page = Feedback.page(rep, rejects: rows, history: history, runDate: runDate)
            try dir.write("feedback/\(rep.feed).html", Array(page.utf8), rows: 1)
        }
    }

    /// Run date minus the delivery's as_of, in days; nil when nothing was delivered.
    static func lateness(_ asOf: CivilDate?, _ runDate: CivilDate) -> Int? {
        asOf.map { Int(runDate.days) - Int($0.days) }
    }

    /// One feed's points over the history: (date, value or nil when the run had no such figure).
    static func trend(
        _ feed: String, _ history: History, _ value: (RunRegistry.FeedRecord, CivilDate) -> Int?
    ) -> [(CivilDate, Int?)] {
        history.map { run in (run.runDate, run.feeds.first { $0.feed == feed }.flatMap { value($0, run.runDate) }) }
    }

    static func page(
        _ rep: FeedReport, rejects: [(line: Int, reason: String)], history: History, runDate: CivilDate
    ) -> String {
        let esc = RunReport.esc
        let late = lateness(rep.asOf, runDate).map { "\($0) days" } ?? "–"
        let conflicts = grouped(rep.conflicts)
        var out =
            RunReport.head("数据质量反馈 \(esc(rep.feed)) \(runDate)") + """
                <h1>数据质量反馈 Data-quality feedback — feed <code>\(esc(rep.feed))</code>, run \(runDate)</h1>
                <p>What the run of \(runDate) could not use of this delivery, and why. Line numbers are physical lines
                of the delivered file (the header is line 1); no row's content is shown.</p>
                <table>
                <tr><td>status</td><td id="status">\(esc(rep.status.rawValue))</td></tr>
                <tr><td>required</td><td>\(rep.required ? "yes" : "no")</td></tr>
                <tr><td>as_of</td><td>\(rep.asOf.map(\.description) ?? "–")</td></tr>
                <tr><td>lateness (run date − as_of)</td><td>\(late)</td></tr>
                <tr><td>rows read</td><td>\(grouped(rep.rowsRead))</td></tr>
                <tr><td>accepted</td><td>\(grouped(rep.accepted))</td></tr>
                <tr><td>rejected</td><td id="rejected">\(grouped(rep.rejected))</td></tr>
                <tr><td>conflicts (same as_of, different values)</td><td id="conflicts">\(conflicts)</td></tr>

                """
        if let m = rep.message { out += "<tr><td>problem</td><td>\(esc(m))</td></tr>\n" }
        out += "</table>\n"

        out += "<h2>Rejected rows by reason 按原因</h2>\n"
        if rejects.isEmpty {
            out += "<p>No row of this delivery was rejected.</p>\n"
        } else {
            var count: [String: Int] = [:]
            for r in rejects { count[r.reason, default: 0] += 1 }
            out += "<table><tr><th>reason</th><th>rows</th><th>what to check</th></tr>\n"
            for (reason, n) in count.sorted(by: { $0.key < $1.key }) {
                let meaning = RejectReason(spelling: reason)?.meaning ?? ""
                out +=
                    "<tr><td><code>\(esc(reason))</code></td><td class=\"reason-count\" data-reason=\"\(esc(reason))\">"
                    + "\(grouped(n))</td><td style=\"text-align:left\">\(esc(meaning))</td></tr>\n"
            }
            out += "</table>\n"
        }

        out += "<h2>Trends over the last \(history.count) runs 近期趋势</h2>\n"
        out += "<h3>Rejected rows</h3>\n" + columns(trend(rep.feed, history) { f, _ in f.rejected })
        out += "<h3>Conflicts</h3>\n" + columns(trend(rep.feed, history) { f, _ in f.conflicts })
        out += "<h3>Lateness, days</h3>\n" + columns(trend(rep.feed, history) { f, d in lateness(f.asOf, d) })

        if !rejects.isEmpty {
            out += "<h2>Rejected rows, line by line 逐行</h2>\n"
            if rejects.count > pageLines {
                out +=
                    "<p>The first \(grouped(pageLines)) of \(grouped(rejects.count)); every one is in "
                    + "<a href=\"\(esc(rep.feed)).csv\">\(esc(rep.feed)).csv</a>.</p>\n"
            } else {
                out += "<p>Also as <a href=\"\(esc(rep.feed)).csv\">\(esc(rep.feed)).csv</a>.</p>\n"
            }
            out += "<table class=\"rejects\"><tr><th>line</th><th>reason</th></tr>\n"
            for r in rejects.prefix(pageLines) { out += "<tr><td>\(r.line)</td><td>\(esc(r.reason))</td></tr>\n" }
            out += "</table>\n"
        }
        out += RunReport.foot("Made by pfp.")
        return out
    }

    /// report.html's data-quality section: each feed's figures, its trend of
    /// rejected rows, and links to its page and CSV.
    package static func section(feeds: [FeedReport], history: History, runDate: CivilDate) -> String {
        let esc = RunReport.esc
        var out =
            "<h2>Data quality 数据质量</h2>\n<p>Each department's page lists what was rejected of its delivery and "
            + "why; the trends cover the last \(history.count) runs.</p>\n"
            + "<table><tr><th>feed</th><th>status</th><th>as_of</th><th>lateness</th><th>rows</th><th>rejected</th>"
            + "<th>conflicts</th><th>rejected, last runs</th><th>feedback</th></tr>\n"
        for rep in feeds {
            let f = esc(rep.feed)
            out +=
                "<tr><td>\(f)</td><td>\(esc(rep.status.rawValue))</td><td>\(rep.asOf.map(\.description) ?? "–")</td>"
                + "<td>\(lateness(rep.asOf, runDate).map { "\($0) d" } ?? "–")</td><td>\(grouped(rep.rowsRead))</td>"
                + "<td>\(grouped(rep.rejected))</td><td>\(grouped(rep.conflicts))</td>"
                + "<td>\(sparkline(trend(rep.feed, history) { r, _ in r.rejected }))</td>"
                + "<td><a href=\"feedback/\(f).html\">page</a> · <a href=\"feedback/\(f).csv\">csv</a></td></tr>\n"
        }
        out += "</table>\n"
        return out
    }

    /// A vertical bar per run, labelled with its date; an empty slot where the run has no figure.
    static func columns(_ points: [(CivilDate, Int?)]) -> String {
        guard !points.isEmpty else { return "" }
        let maxV = max(1, points.compactMap { $0.1 }.max() ?? 1)
        let colW = 26, h = 64, top = 14, labelH = 44
        var s =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(points.count * colW + 10)\" "
            + "height=\"\(top + h + labelH)\" role=\"img\">\n"
        for (i, (date, v)) in points.enumerated() {
            let x = i * colW + 5
            if let v {
                let bh = max(v > 0 ? 1 : 0, Int(Double(h) * Double(v) / Double(maxV)))
                s +=
                    "<rect x=\"\(x + 3)\" y=\"\(top + h - bh)\" width=\"\(colW - 6)\" height=\"\(bh)\" "
                    + "fill=\"#3b7dd8\"><title>\(date): \(v)</title></rect>"
                s += "<text x=\"\(x + colW / 2)\" y=\"\(top + h - bh - 3)\" text-anchor=\"middle\">\(v)</text>"
            } else {
                s += "<text x=\"\(x + colW / 2)\" y=\"\(top + h - 3)\" text-anchor=\"middle\" fill=\"#999\">–</text>"
            }
            let label = String(date.description.suffix(5))
            s +=
                "<text x=\"\(x + colW / 2)\" y=\"\(top + h + 12)\" text-anchor=\"end\" "
                + "transform=\"rotate(-60 \(x + colW / 2) \(top + h + 12))\">\(label)</text>\n"
        }
        return s + "</svg>\n"
    }

    /// A small inline bar per run, for a table cell.
    static func sparkline(_ points: [(CivilDate, Int?)]) -> String {
        let maxV = max(1, points.compactMap { $0.1 }.max() ?? 1)
        let w = 4, h = 18
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(max(1, points.count) * w)\" height=\"\(h)\">"
        for (i, (date, v)) in points.enumerated() {
            guard let v else { continue }
            let bh = max(v > 0 ? 1 : 0, Int(Double(h) * Double(v) / Double(maxV)))
            s += "<rect x=\"\(i * w)\" y=\"\(h - bh)\" width=\"\(w - 1)\" height=\"\(bh)\" fill=\"#d86b3b\">"
            s += "<title>\(date): \(v)</title></rect>"
        }
        return s + "</svg>"
    }
}
