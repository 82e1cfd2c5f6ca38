import Foundation
import PFPCore

/// `pfp purge --before DATE`: deletes the run state (stage results, registry rows,
/// rejects) and the published directories of every run date before DATE.
package enum Purge {
    package static func run(
        options: RunOptions, before: CivilDate, console: Console
    ) throws -> (runs: Int, directories: Int) {
        let r = try ResolvedRun(options)
        guard FileIO.exists(r.dbPath) else {
            throw PipelineError.badInput(location: r.dbPath, "no database", hint: "check --db or the 'db' setting")
        }
        let db = try Database(path: r.dbPath)
        let lock = try RunLock.acquire(dbPath: r.dbPath, outRoot: r.outRoot)
        defer { lock.release() }
        let store = try StageStore(db: db)
        let registry = try RunRegistry(db: db)
        let dates = Set(try registry.runDates(before: before) + store.runDates(before: before)).sorted()
        for d in dates {
            try store.delete(runDate: d)
            try registry.delete(runDate: d)
        }
        var removed = 0
        if let names = try? FileManager.default.contentsOfDirectory(atPath: r.outRoot) {
            for n in names.sorted() {
                guard let d = CivilDate.parse(n), d < before else { continue }
                try FileIO.remove((r.outRoot as NSString).appendingPathComponent(n))
                removed += 1
            }
        }
        try registry.compact()
        console.info("purged \(dates.count) runs and \(removed) published directories before \(before)")
        return (dates.count, removed)
    }
}
