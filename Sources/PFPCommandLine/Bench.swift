import Foundation
import PFPCore
import PFPSchema

/// `pfp bench`: the nightly job on generated deliveries of growing size, each run in
/// its own process (so peak memory is that run's), with per-stage figures from the
/// run registry. Deliveries are cached under bench-data/ (outside git).
struct BenchCommand: PFPCommand {
    static let name = "bench"
    static let summary = "benchmark the nightly job on generated deliveries"
    static let sizes = Option<[Int]>(
        "sizes", "N,N", help: "households per benchmark run (default 100000,1000000)",
        expected: "numbers of households of at least 10, e.g. 100000,1000000"
    ) { text in
        let sizes = text.split(separator: ",").map { Int($0.replacingOccurrences(of: "_", with: "")) ?? 0 }
        return sizes.isEmpty || sizes.contains { $0 < 10 } ? nil : sizes
    }
    static let data = Option<String>("data", "DIR", help: "where generated deliveries are cached (default bench-data)")
    static let repeats = Option.number(
        "repeat", "N", help: "runs per size; the run of median total time is shown (default 1)", in: 1...100)
    static let arguments = [sizes.declaration, data.declaration, Shared.threads.declaration, repeats.declaration]
    static let details = """
        Each size runs in its own process, release build recommended (make bench). Prints per stage wall and CPU
        seconds, peak RSS and throughput, and writes the table to DIR/bench-latest.json. With --repeat N each size
        runs N times and the run of median total time is shown, with the range of the totals (this machine's
        times vary from run to run).
        """

    var sizes: [Int]
    var dataDir: String
    var threads: Int?
    var repeats: Int

    init(_ a: ArgumentReader) throws {
        sizes = try a.value(BenchCommand.sizes, default: [100_000, 1_000_000])
        dataDir = try a.value(BenchCommand.data, default: "bench-data")
        threads = try a.value(Shared.threads)
        repeats = try a.value(BenchCommand.repeats, default: 1)
    }

    func run(console: Console) throws {
        try bench(sizes: sizes, dataDir: dataDir, threads: threads, repeats: repeats, console: console)
    }
}

/// The benchmark itself.
func bench(sizes: [Int], dataDir: String, threads: Int?, repeats: Int, console: Console) throws {
    let date = "2026-11-23"
    let me = URL(fileURLWithPath: CommandLine.arguments[0]).path
    var results: [JSON] = []
    func row(_ cols: [String]) -> String {
        let widths = [12, 9, 8, 8, 13]
        var out = ""
        for (i, c) in cols.enumerated() {
            if i < widths.count {
                let w = widths[i]
                out +=
                    i < 2
                    ? c.padding(toLength: max(w, c.count), withPad: " ", startingAt: 0) + " "
                    : String(repeating: " ", count: max(0, w - c.count)) + c + " "
            } else {
                out += "  " + c
            }
        }
        return out
    }
    print(row(["households", "stage", "wall s", "cpu s", "peak RSS MiB", "throughput"]))
    for n in sizes {
        let root = "\(dataDir)/\(n)"
        let inbox = "\(root)/inbox-\(date)"
        // The cache is keyed on the generator's settings: a changed sample.conf regenerates.
        let stampPath = root + "/generator.sha256"
        let stamp = (try? SHA256Digest.hex(ofFile: "Pipelines/sample.conf")) ?? ""
        let cached = (try? FileIO.readText(stampPath)) ?? ""
        if !FileIO.exists(inbox + "/population.csv.manifest.json")
            || !FileIO.exists(inbox + "/outreach.csv.manifest.json")
            || cached != stamp
        {
            try? FileIO.remove(root)
            console.info("generating \(grouped(n)) households under \(root) (cached for later runs)")
            let g = try spawn(
                me, ["sample", "--households", String(n), "--seed", "1", "--run-date", date, "--out", root, "--quiet"])
            guard g.status == 0 else { throw PipelineError.failure("pfp sample failed for \(n) households") }
            // An outreach feed about half of the delivery's own push entries (outreach.md), so
            // that the figures include reading it and holding entries back.
            console.info("adding an outreach feed made from the push list of \(grouped(n)) households")
            try writeSampleOutreach(
                from: inbox, sourceDate: CivilDate.parse(date)!, into: [(inbox, CivilDate.parse(date)!)],
                configPath: Shared.defaultConfig, seed: 1, console: console)
            try FileIO.write(stampPath, Array(stamp.utf8), mode: 0o644)
        }
        // With --repeat, each run on a fresh output; the run of median total time is shown
        // (all its stages: one run's figures, not a mix), with the range of the totals.
        var runs: [(wall: Double, cpu: Double, maxRSS: Int, out: String)] = []
        for k in 0..<repeats {
            let out = repeats == 1 ? "\(root)/out" : "\(root)/out-\(k + 1)"
            try? FileIO.remove(out)
            var args = [
                "run", "--run-date", date, "--inbox", inbox, "--out", out + "/published", "--db", out + "/pfp.sqlite",
                "--quiet",
            ]
            if let threads { args += ["--threads", String(threads)] }
            if repeats > 1 { console.info("\(grouped(n)) households: run \(k + 1) of \(repeats)") }
            let r = try spawn(me, args)
            guard r.status == 0 else {
                throw PipelineError.failure("pfp run failed (exit \(r.status)) on \(n) households")
            }
            runs.append((r.wall, r.cpu, r.maxRSS, out))
            // Of a repeated run only its registry is kept: the published files and stage
            // results are gigabytes at city scale.
            if repeats > 1 {
                try? FileIO.remove(out + "/published")
                try? FileIO.remove(out + "/pfp.sqlite.stages")
            }
        }
        let ordered = runs.sorted { $0.wall < $1.wall }
        let r = ordered[ordered.count / 2]
        let out = r.out
        for other in runs where other.out != out { try? FileIO.remove(other.out) }
        // Input volume and per-stage figures from the registry.
        let registry = try RunRegistry(db: try Database(path: out + "/pfp.sqlite"))
        let (rows, bytes) = try registry.inputVolume(runDate: CivilDate.parse(date)!)
        let stages = try registry.stageTimings(runDate: CivilDate.parse(date)!)
        // Households and published entries, from the run's summary.
        let households = try registry.summary(runDate: CivilDate.parse(date)!)?["households"] as? Int ?? 0
        let entries = (try registry.listCounts(runDate: CivilDate.parse(date)!) ?? [:]).values.reduce(0, +)
        var stageJSON: [JSON] = []
        for s in stages {
            var rate: String
            var extra: [(String, JSON)] = []
            switch s.stage {
            case "ingest":
                rate = String(
                    format: "%.2fM rows/s, %.0f MB/s", Double(rows) / s.wall / 1e6, Double(bytes) / s.wall / 1e6)
                extra = [
                    ("rows_per_s", .int(Int(Double(rows) / s.wall))),
                    ("mb_per_s", .int(Int(Double(bytes) / s.wall / 1e6))),
                ]
            case "profile", "match":
                rate = "\(grouped(Int(Double(households) / s.wall))) households/s"
                extra = [("households_per_s", .int(Int(Double(households) / s.wall)))]
            case "emit":
                // Each entry is a row of its list file and a line of explain.jsonl.
                rate =
                    "\(grouped(Int(Double(entries) / s.wall))) entries/s (\(grouped(entries)) list rows + explanations)"
                extra = [("rows_per_s", .int(Int(Double(entries) / s.wall)))]
            default: rate = ""
            }
            print(
                row([
                    grouped(n), s.stage, String(format: "%.2f", s.wall), String(format: "%.2f", s.cpu),
                    grouped(s.rss >> 20), rate,
                ]))
            stageJSON.append(
                .object(
                    [
                        ("stage", .string(s.stage)), ("wall_s", .string(String(format: "%.3f", s.wall))),
                        ("cpu_s", .string(String(format: "%.3f", s.cpu))), ("peak_rss_mib", .int(s.rss >> 20)),
                    ] + extra))
        }
        // The stages reset the kernel's high-water mark as they start: the run's peak is the largest.
        let peak = max(r.maxRSS, stages.map(\.rss).max() ?? 0)
        let spread =
            repeats == 1
            ? ""
            : String(format: "; median of %d runs (%.2f to %.2f s)", repeats, ordered.first!.wall, ordered.last!.wall)
        print(
            row([
                grouped(n), "total", String(format: "%.2f", r.wall), String(format: "%.2f", r.cpu), grouped(peak >> 20),
                String(format: "%.0f MB of feeds, ", Double(bytes) / 1e6) + "\(grouped(rows)) rows" + spread,
            ]))
        results.append(
            .object([
                ("households", .int(n)), ("living_households", .int(households)), ("entries", .int(entries)),
                ("rows", .int(rows)), ("bytes", .int(bytes)),
                ("wall_s", .string(String(format: "%.3f", r.wall))), ("cpu_s", .string(String(format: "%.3f", r.cpu))),
                ("peak_rss_mib", .int(peak >> 20)), ("stages", .array(stageJSON)),
                ("runs_wall_s", .array(runs.map { .string(String(format: "%.3f", $0.wall)) })),
            ]))
    }
    let json = JSON.object([
        ("date", .string(RunRegistry.timestamp())), ("threads", .int(threads ?? Parallel.threads)),
        ("cores", .int(ProcessInfo.processInfo.activeProcessorCount)), ("results", .array(results)),
    ])
    try FileIO.makeDirectory(dataDir)
    let path = "\(dataDir)/bench-latest.json"
    try FileIO.write(path, Array((json.serialized(pretty: true) + "\n").utf8), mode: 0o644)
    print("\nwritten: \(path)")
}

/// Runs a child process and returns its exit status, wall time, CPU time and peak RSS.
func spawn(_ path: String, _ args: [String]) throws -> (status: Int32, wall: Double, cpu: Double, maxRSS: Int) {
    var pid: pid_t = 0
    let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    let t0 = FileIO.now()
    let rc = posix_spawn(&pid, path, nil, nil, argv, environ)
    guard rc == 0 else { throw PipelineError.failure("cannot start \(path): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    var ru = rusage()
    while wait4(pid, &status, 0, &ru) < 0 && errno == EINTR {}
    let wall = FileIO.now() - t0
    let cpu =
        Double(ru.ru_utime.tv_sec) + Double(ru.ru_utime.tv_usec) / 1e6 + Double(ru.ru_stime.tv_sec) + Double(
            ru.ru_stime.tv_usec) / 1e6
    let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (exit, wall, cpu, Int(ru.ru_maxrss) * 1024)
}
