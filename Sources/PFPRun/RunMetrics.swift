import Foundation
import PFPCore

/// `pfp.prom`: a run's figures in the Prometheus text exposition format (0.0.4),
/// for node_exporter's textfile collector. Written after every run, refused and
/// failed ones too, whole or not at all (a temporary file renamed into place, as
/// the collector's documentation asks). Only counts, times and the words of the
/// contract (feed, list, policy, reason and stage names): no resident's data, so
/// the file is readable by the collector's user (mode 0644).
package struct RunMetrics {
    package var runDate: CivilDate?
    package var status: RunStatus
    package var exitCode: Int32
    package var seconds: Double
    /// Feeds, rejects, stage times and list counts: what the registry holds of the run.
    package var feeds: [RunRegistry.FeedRecord] = []
    package var stages: [(stage: String, wall: Double, cpu: Double, rss: Int)] = []
    package var counts: JSON?
    package var households: Int?
    package var people: Int?
    /// When the latest successful run of any date ended (seconds since 1970), and its date.
    package var lastSuccess: (ended: Int, runDate: CivilDate)?
    package var endedAt = Int(Date().timeIntervalSince1970)

    package init(runDate: CivilDate?, status: RunStatus, exitCode: Int32, seconds: Double) {
        self.runDate = runDate
        self.status = status
        self.exitCode = exitCode
        self.seconds = seconds
    }

    /// Fills in what the registry knows of the run and of the last successful one.
    package mutating func read(_ registry: RunRegistry) {
        guard let d = runDate else { return }
        feeds = (try? registry.feeds(runDate: d)) ?? []
        stages = (try? registry.stageTimings(runDate: d)) ?? []
        if let s = try? registry.summary(runDate: d) {
            households = s["households"] as? Int
            people = s["people"] as? Int
        }
        let iso = ISO8601DateFormatter()
        let runs = (try? registry.list()) ?? []
        if let last = runs.filter({ $0.status == .succeeded && $0.endedAt != nil })
            .max(by: { ($0.endedAt!, $0.runDate) < ($1.endedAt!, $1.runDate) }),
            let ended = iso.date(from: last.endedAt!), let date = CivilDate.parse(last.runDate)
        {
            lastSuccess = (Int(ended.timeIntervalSince1970), date)
        }
    }

    /// The file's text: families in a fixed order, samples sorted by their labels.
    package func text() -> String {
        var out = ""
        func family(_ name: String, _ help: String, _ samples: [(labels: [(String, String)], value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
            for s in samples {
                let labels = s.labels.map { "\($0.0)=\"\(RunMetrics.escape($0.1))\"" }.joined(separator: ",")
                out += name + (labels.isEmpty ? "" : "{\(labels)}") + " " + s.value + "\n"
            }
        }
        func seconds(_ x: Double) -> String { String(format: "%.3f", x) }
        let date = runDate?.description ?? ""
        family(
            "pfp_run_info", "The run this file describes (value 1): its run date, status and pipeline version.",
            [([("run_date", date), ("status", status.rawValue), ("version", PFPVersion.pipeline)], "1")])
        family(
            "pfp_run_status", "1 for the status the run ended with, 0 for the others.",
            RunStatus.allCases.filter { $0 != .running }.map {
                ([("status", $0.rawValue)], $0 == status ? "1" : "0")
            })
        family(
            "pfp_run_exit_code", "The exit code of the run (0 success, 65 refused, 1 failure).", [([], "\(exitCode)")])
        family("pfp_run_duration_seconds", "Wall time of the whole run.", [([], seconds(self.seconds))])
        family("pfp_run_end_timestamp_seconds", "When the run ended (Unix time).", [([], "\(endedAt)")])
        if let d = runDate {
            family(
                "pfp_run_date_timestamp_seconds", "The run date, as midnight UTC of that day (Unix time).",
                [([], "\(Int(d.days) * 86_400)")])
        }
        family(
            "pfp_last_success_timestamp_seconds",
            "When the latest successful run ended (Unix time; 0 when none has): alert on time() minus this.",
            [([], "\(lastSuccess?.ended ?? 0)")])
        if let last = lastSuccess {
            family(
                "pfp_last_success_run_date_timestamp_seconds",
                "The run date of the latest successful run, as midnight UTC of that day.",
                [([], "\(Int(last.runDate.days) * 86_400)")])
        }
        if !stages.isEmpty {
            family(
                "pfp_stage_duration_seconds", "Wall time of each stage run.",
                stages.map { ([("stage", $0.stage)], seconds($0.wall)) })
            family(
                "pfp_stage_cpu_seconds", "CPU time of each stage run (all threads).",
                stages.map { ([("stage", $0.stage)], seconds($0.cpu)) })
            family(
                "pfp_stage_peak_rss_bytes", "Peak resident memory during each stage run.",
                stages.map { ([("stage", $0.stage)], "\($0.rss)") })
        }
        if !feeds.isEmpty {
            let byFeed = feeds.sorted { $0.feed < $1.feed }
            family(
                "pfp_feed_status", "1 for each feed's status (ok, missing, stale, broken, allowed_missing).",
                byFeed.map { ([("feed", $0.feed), ("status", $0.status)], "1") })
            family(
                "pfp_feed_rows_read", "Data rows read of each feed.",
                byFeed.map { ([("feed", $0.feed)], "\($0.rowsRead)") })
            family(
                "pfp_feed_rows_accepted", "Rows accepted of each feed.",
                byFeed.map { ([("feed", $0.feed)], "\($0.accepted)") })
            family(
                "pfp_feed_rows_rejected", "Rows rejected of each feed, by reason code (rejects.csv).",
                byFeed.flatMap { f in
                    f.rejectCounts.sorted { $0.key < $1.key }.map {
                        ([("feed", f.feed), ("reason", $0.key)], "\($0.value)")
                    }
                })
            family(
                "pfp_feed_conflicts", "People whose tag of the feed was unknown for disagreeing rows of one as_of.",
                byFeed.map { ([("feed", $0.feed)], "\($0.conflicts)") })
            if let d = runDate {
                family(
                    "pfp_feed_age_days", "Run date minus the delivery's as_of, in days (lateness).",
                    byFeed.compactMap { f in f.asOf.map { ([("feed", f.feed)], "\(Int(d.days) - Int($0.days))") } })
            }
        }
        if let households { family("pfp_households", "Households profiled.", [([], "\(households)")]) }
        if let people { family("pfp_people", "People in the profiled households.", [([], "\(people)")]) }
        if let counts, case .object(let lists) = counts {
            family(
                "pfp_list_entries", "Entries of each published list.",
                lists.compactMap { id, v in
                    if case .some(.int(let n)) = v["total"] { return ([("list", id)], "\(n)") }
                    return nil
                })
            family(
                "pfp_policy_entries", "Entries of each per-policy list, by policy.",
                lists.flatMap { id, v -> [(labels: [(String, String)], value: String)] in
                    guard case .some(.object(let per)) = v["by_policy"] else { return [] }
                    return per.compactMap { p, n in
                        if case .int(let k) = n { return ([("list", id), ("policy", p)], "\(k)") }
                        return nil
                    }
                })
        }
        return out
    }

    /// Label values: backslash, quote and line feed escaped (the format's rule).
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Writes `pfp.prom` into `dir` atomically: a temporary file beside it, synced, renamed.
    package func write(to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let final = (dir as NSString).appendingPathComponent("pfp.prom")
        let temp = (dir as NSString).appendingPathComponent(".pfp.prom.\(getpid()).tmp")
        let w = try FileIO.Writer(path: temp, mode: 0o644)
        try w.write(text())
        _ = try w.finish()
        guard rename(temp, final) == 0 else {
            let err = String(cString: strerror(errno))
            unlink(temp)
            throw PipelineError.failure(
                location: final, "cannot put the metrics file in place: \(err)",
                hint: "check that the metrics directory is writable")
        }
    }
}
