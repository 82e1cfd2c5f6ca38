import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// Named points where a test can kill the process (SIGKILL, as a crash or an
/// operator's kill -9 would): `PFP_ABORT_AT=emit.before_publish pfp run ...`.
/// Without the variable a point costs one comparison.
public enum FaultPoint {
    static let target: String? = ProcessInfo.processInfo.environment["PFP_ABORT_AT"]

    /// Every point, in the order a run passes them.
    public static let all = [
        "ingest.read", "ingest.before_store", "ingest.stored", "profile.before_store", "profile.stored",
        "match.evaluated", "match.before_store", "emit.lists_written", "match.stored", "emit.before_success",
        "emit.before_publish", "emit.published",
    ]

    /// The points of `pfp shard` and `pfp merge` (the last two of a publication as a run's).
    public static let shard = ["shard.population_routed", "emit.before_success", "emit.before_publish"]
    public static let merge = ["merge.files_merged", "emit.before_success", "emit.before_publish", "merge.published"]

    @inline(__always)
    public static func hit(_ name: String) {
        guard let target, target == name else { return }
        kill(getpid(), SIGKILL)
    }
}
