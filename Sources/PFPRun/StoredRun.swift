import Foundation
import PFPCore
import PFPSchema
import PFPIngest
import PFPRules

/// A stored night that an analyst's command starts from (`pfp explain`,
/// `pfp whatif`): the database with its registry and stage results, and the
/// rules of that run date as they are now, with the policies that read a feed
/// the run went without skipped as they were.
struct StoredRun {
    let resolved: ResolvedRun
    let registry: RunRegistry
    let store: StageStore
    let catalogue: TagCatalogue
    let policyCatalogue: PolicyCatalogue
    /// Required feeds the run went without (--allow-missing).
    let unavailableFeeds: Set<String>

    init(_ r: ResolvedRun) throws {
        guard FileIO.exists(r.dbPath) else {
            throw PipelineError.badInput(
                location: r.dbPath, "no database", hint: "run 'pfp run --run-date \(r.runDate)' first, or pass --db")
        }
        resolved = r
        (catalogue, policyCatalogue) = try r.config.loadCatalogue()
        let db = try Database(path: r.dbPath)
        store = try StageStore(db: db)
        registry = try RunRegistry(db: db)
        unavailableFeeds = Set(
            try registry.feeds(runDate: r.runDate)
                .filter { $0.required && $0.status == FeedReport.Status.allowedMissing.rawValue }.map(\.feed))
    }

    /// The rules of the run date, with a reform merged in when one is given.
    func rules(reform: Reform? = nil) throws -> RuleSet {
        let c = resolved.config
        return try RuleSet.load(
            directory: c.resolve(c.rulesPath), catalogue: catalogue, policyCatalogue: policyCatalogue,
            runDate: resolved.runDate, unavailableFeeds: unavailableFeeds,
            extraDigestFiles: [c.resolve(c.tagsPath), c.resolve(c.policiesPath)], reform: reform)
    }
}
