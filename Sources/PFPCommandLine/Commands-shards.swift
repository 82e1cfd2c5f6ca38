import Foundation
import PFPCore
import PFPRun

/// `pfp shard`: a delivery cut into shard deliveries that ordinary runs read.
struct ShardCommand: PFPCommand {
    static let name = "shard"
    static let summary = "cut a delivery into N shard deliveries by household (for runs on several machines)"
    static let shards = Option.number("shards", "N", help: "how many shards", in: 1...65_536, required: true)
    static let out = Option<String>(
        "out", "DIR", help: "where the shard inboxes go: DIR/0/ … DIR/<N-1>/", required: true)
    static let arguments =
        [
            Shared.config.declaration, RunArguments.runDate.declaration, RunArguments.inbox.declaration,
            shards.declaration, out.declaration, RunArguments.allowMissing.declaration, Shared.threads.declaration,
        ] + RunArguments.talk
    static let conflicts = RunArguments.conflicts
    static let details = """
        A household goes to shard CRC-32(household id) mod N (the IEEE CRC-32 of the id's bytes, as
        zlib and Spark SQL's crc32 compute it); each person's tag rows and each household's outreach
        rows go with it. Every row is judged here as a run judges it: a rejected row goes to no shard
        and is reported once, against its line in the original file, by one shard's run. A delivery a
        run would refuse is refused here with the same message (exit 65). Each DIR/<k>/ is a valid
        delivery; run it with 'pfp run --inbox DIR/<k> --db <its own database> --out <its own root>',
        then 'pfp merge' the N published runs. DIR appears whole (_SUCCESS last). docs/SCALE.md.
        """

    var options = RunOptions()
    var count: Int
    var out: String
    var level = Console.Level.normal
    var format = Console.Format.text

    init(_ a: ArgumentReader) throws {
        options = try RunArguments.delivery(a)
        guard let n = try a.value(ShardCommand.shards) else {
            throw PipelineError.usage("pfp shard: --shards N is required")
        }
        count = n
        out = try a.value(ShardCommand.out)!
        (level, format) = try RunArguments.talking(a)
    }

    func run(console: Console) throws {
        if let t = options.threads { Parallel.threads = t }
        console.level = level
        console.format = format
        let s = try ShardCut.run(options: options, count: count, out: out, console: console)
        console.info("shard inboxes: \(s.path)/0 … \(s.path)/\(s.count - 1)")
    }
}

/// `pfp merge`: the shards' published runs merged into one run.
struct MergeCommand: PFPCommand {
    static let name = "merge"
    static let summary = "merge the published runs of every shard into the run one machine would publish"
    static let runDate = Option.date("run-date", help: "the run date", required: true)
    static let out = Option<String>(
        "out", "DIR", help: "output root; the merged run appears as DIR/<run date>/", required: true)
    static let runs = Words("SHARD_RUN_DIR...", help: "each shard's published run (or its output root)")
    static let verify = Flag(
        "verify-digests", help: "hash every shard file against its manifest's sha256 (default: sizes only)")
    static let arguments =
        [
            runDate.declaration, out.declaration, Shared.config.declaration, verify.declaration,
            Shared.threads.declaration, runs.declaration,
        ] + RunArguments.talk
    static let conflicts = RunArguments.conflicts
    static let details = """
        Checks every shard's run (published whole, the same run date, rule digest, shard count, split
        and pfp version, every index once), checks each file's size against its manifest (its sha256
        too with --verify-digests), k-way merges the
        sorted lists, explain.jsonl and rejects.csv, adds up the manifest's counts, draws the report
        from the shards' figures added up, and publishes DIR/<run date>/ whole (_SUCCESS last). The
        lists, explain.jsonl and rejects.csv are byte-identical to a run of the whole delivery on one
        machine; the manifest differs in its times and its 'shards' object. Exit 65 when a shard's
        run is missing, unfinished or of another cut.
        """

    var request: ShardMerge.Request
    var threads: Int?
    var level = Console.Level.normal
    var format = Console.Format.text

    init(_ a: ArgumentReader) throws {
        request = ShardMerge.Request(
            runDate: try a.value(MergeCommand.runDate)!, outRoot: try a.value(MergeCommand.out)!,
            shardRuns: a.words(MergeCommand.runs))
        request.configPath = try a.value(Shared.config, default: Shared.defaultConfig)
        request.verifyDigests = a.flag(MergeCommand.verify)
        threads = try a.value(Shared.threads)
        (level, format) = try RunArguments.talking(a)
    }

    func validate() throws {
        guard !request.shardRuns.isEmpty else {
            throw PipelineError.usage("pfp merge: name every shard's published run (SHARD_RUN_DIR...)")
        }
    }

    func run(console: Console) throws {
        if let t = threads { Parallel.threads = t }
        console.level = level
        console.format = format
        _ = try ShardMerge.run(request, console: console)
    }
}
