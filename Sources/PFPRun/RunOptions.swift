import Foundation
import PFPCore
import PFPSchema
import PFPIngest

/// Everything a run needs, from the configuration file and the command line.
public struct RunOptions: Sendable {
    public var configPath = "Pipelines/nightly.conf"
    public var inbox: String?
    public var runDate: CivilDate?
    public var outRoot: String?
    public var dbPath: String?
    public var allowMissing: Set<String> = []
    public var allowDrift: Set<String> = []
    public var threads: Int?
    public var quiet = false
    public var verbose = false

    public init() {}
}

/// The configuration with the command line's overrides applied.
public struct ResolvedRun {
    public var config: PipelineConfig
    public var runDate: CivilDate
    public var inbox: String
    public var outRoot: String
    public var dbPath: String
    public var allowMissing: Set<String>

    public init(_ o: RunOptions) throws {
        config = try PipelineConfig(path: o.configPath)
        runDate = o.runDate ?? CivilDate.today()
        inbox = o.inbox ?? config.inbox(for: runDate)
        outRoot = o.outRoot ?? config.resolve(config.outRoot)
        dbPath = o.dbPath ?? config.resolve(config.dbPath)
        allowMissing = o.allowMissing
        if let t = o.threads { Parallel.threads = t }
    }
}

public enum PFPVersion {
    public static let pipeline = "0.1.0"
    /// Version of the published files' layout (outputs.md); bumped on any change.
    public static let schema = 1
}
