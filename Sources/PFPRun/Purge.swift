import Foundation
import PFPCore

/// `pfp purge --before DATE`: deletes the run state (stage results, registry rows,
/// rejects) and the published directories of every run date before DATE.
public enum Purge {
    public static func run(options: RunOptions, before: CivilDate, console: Console) throws -> (runs: Int, directories: Int) {
        let r = try ResolvedRun(options)
        guard FileIO.exists(r.dbPath) else {
            throw PipelineError.badInput(location: r.dbPath, "no database", hint: "check --db or the 'db' setting")
        }
        let db = try Database(path: r.dbPath)
        let lock = try RunLock.acquire(dbPath: r.dbPath, outRoot: r.outRoot)
        defer { lock.release() }
        let store = try StageStore(db: db)
        var dates: [CivilDate] = []
        try db.query("SELECT run_date FROM runs WHERE run_date < ? UNION SELECT DISTINCT run_date FROM stage_result WHERE run_date < ?",
                     [.text(before.description), .text(before.description)]) { if let d = CivilDate.parse($0.text(0)) { dates.append(d) } }
        for d in dates {
            try store.delete(runDate: d)
            let v = SQLValue.text(d.description)
            try db.transaction {
                for t in ["runs", "run_feeds", "run_reject_counts", "run_rejects", "run_stages"] {
                    try db.execute("DELETE FROM \(t) WHERE run_date = ?", [v])
                }
            }
        }
        var removed = 0
        if let names = try? FileManager.default.contentsOfDirectory(atPath: r.outRoot) {
            for n in names.sorted() {
                guard let d = CivilDate.parse(n), d < before else { continue }
                try FileIO.remove((r.outRoot as NSString).appendingPathComponent(n))
                removed += 1
            }
        }
        try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try db.execute("VACUUM")
        console.info("purged \(dates.count) runs and \(removed) published directories before \(before)")
        return (dates.count, removed)
    }
}
