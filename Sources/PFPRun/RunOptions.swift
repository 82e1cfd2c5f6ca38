import Foundation
import PFPCore
import PFPSchema
import PFPIngest

/// Everything a run needs, from the configuration file and the command line.
package struct RunOptions: Sendable {
    package var configPath = "Pipelines/nightly.conf"
    package var inbox: String?
    package var runDate: CivilDate?
    package var outRoot: String?
    package var dbPath: String?
    package var allowMissing: Set<String> = []
    package var allowDrift: Set<String> = []
    package var threads: Int?
    /// Where pfp.prom goes (overrides the configuration's metrics_dir).
    package var metricsDir: String?
    package var quiet = false
    package var verbose = false

    package init() {}
}

/// The configuration with the command line's overrides applied.
package struct ResolvedRun {
    package var config: PipelineConfig
    package var runDate: CivilDate
    package var inbox: String
    package var outRoot: String
    package var dbPath: String
    package var allowMissing: Set<String>
    package var metricsDir: String?

    package init(_ o: RunOptions) throws {
        config = try PipelineConfig(path: o.configPath)
        runDate = o.runDate ?? config.today()
        inbox = o.inbox ?? config.inbox(for: runDate)
        outRoot = o.outRoot ?? config.resolve(config.outRoot)
        dbPath = o.dbPath ?? config.resolve(config.dbPath)
        allowMissing = o.allowMissing
        metricsDir = o.metricsDir ?? config.metricsDir.map { config.resolve($0) }
        if let t = o.threads { Parallel.threads = t }
    }
}

package enum PFPVersion {
    package static let pipeline = "0.1.0"
    /// Version of the published files' layout (outputs.md); bumped on any change.
    package static let schema = 2
}
