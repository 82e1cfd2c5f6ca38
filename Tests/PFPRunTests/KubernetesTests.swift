import XCTest
import PFPTestSupport
@testable import PFPCore

/// Issue 22, part 4: the Kubernetes Jobs (deploy/kubernetes) against the
/// Kubernetes schema, and played on this machine from the manifests themselves
/// (emulate.py): the entrypoint once per index with JOB_COMPLETION_INDEX, a killed
/// index retried, a refused index failed at once, then the merge, compared byte
/// for byte with a run of the whole delivery.
final class KubernetesTests: XCTestCase {
    var work = ""
    let days = ["2026-11-23", "2026-11-24"]
    let manifests = ["pvc.yaml", "cut-job.yaml", "shards-job.yaml", "merge-job.yaml"].map {
        repoRoot + "/deploy/kubernetes/" + $0
    }

    override func setUpWithError() throws { work = try makeWorkDirectory("pfp-k8s") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: work) }

    func testManifestsAreValidAgainstTheKubernetesSchema() throws {
        let validate = try requireTool("kubernetes-validate")
        // 1.33: backoffLimitPerIndex and podFailurePolicy's FailIndex are stable there.
        let r = try runProgram(validate, ["--strict", "-k", "1.33"] + manifests)
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertEqual(r.out.components(separatedBy: " passed for resource ").count - 1, 4, r.out)
        // Not a formality: a misspelt field is refused.
        let broken = work + "/broken.yaml"
        let text = try String(contentsOfFile: manifests[2], encoding: .utf8)
        try text.replacingOccurrences(of: "backoffLimitPerIndex:", with: "backoffLimitPerIndx:")
            .write(toFile: broken, atomically: true, encoding: .utf8)
        XCTAssertNotEqual(try runProgram(validate, ["--strict", "-k", "1.33", broken]).status, 0)
        // The Indexed Job's shape the emulation relies on.
        XCTAssertTrue(text.contains("completionMode: Indexed") && text.contains("action: FailIndex"))
    }

    func emulate(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        _ = try requireTool("python3")
        return try runProgram(
            "/usr/bin/env",
            ["python3", repoRoot + "/deploy/kubernetes/emulate.py", "--pfp", pfpBinary, "--log", work + "/pods.log"]
                + args)
    }

    func testTheJobsPlayedHereGiveTheSingleMachineRun() throws {
        guard FileIO.exists(pfpBinary) else { throw XCTSkip("build the pfp product first") }
        let python = try runProgram("/usr/bin/env", ["python3", "-c", "import yaml"])
        if python.status != 0 {
            _ = try requireTool("kubernetes-validate")  // brings PyYAML; fails under make test when missing
            throw XCTSkip("PyYAML is missing")
        }
        let data = work + "/data"
        for (i, d) in days.enumerated() {
            try FileManager.default.createDirectory(atPath: data + "/inbox", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: repoRoot + "/SampleData/inbox-\(d)", toPath: data + "/inbox/" + d)
            let single = try runPFP([
                "run", "--run-date", d, "--inbox", repoRoot + "/SampleData/inbox-\(d)", "--out", work + "/single",
                "--db", work + "/single.sqlite", "--quiet",
            ])
            XCTAssertEqual(single.status, 0, single.err)
            // A node lost under one shard each night: killed mid-run, retried by its index's backoff.
            let killed = i + 1
            let point = i == 0 ? "match.evaluated" : "emit.before_publish"
            let r = try emulate(["--data", data, "--run-date", d, "--shards", "3", "--kill", "\(killed):\(point)"])
            XCTAssertEqual(r.status, 0, r.out + r.err)
            XCTAssertTrue(r.out.contains("index \(killed) attempt 1 exited 137 (Count)"), r.out)
            XCTAssertTrue(r.out.contains("index \(killed) complete after 2 attempt(s)"), r.out)
            XCTAssertTrue(r.out.contains("pfp-merge: complete"), r.out)
            let merged = data + "/published/" + d, want = work + "/single/" + d
            XCTAssertEqual(try publishedFiles(merged), try publishedFiles(want))
            for f in try publishedFiles(want) where f != "manifest.json" {
                XCTAssertEqual(try FileIO.readAll(merged + "/" + f), try FileIO.readAll(want + "/" + f), "\(d) \(f)")
            }
            // Each shard's state stays with the shard, for tomorrow's warnings.
            XCTAssertTrue(FileIO.exists(data + "/state/shard-2-of-3.sqlite"))
        }
    }

    func testARefusedShardFailsItsIndexAtOnceAndNothingIsMerged() throws {
        guard FileIO.exists(pfpBinary) else { throw XCTSkip("build the pfp product first") }
        guard try runProgram("/usr/bin/env", ["python3", "-c", "import yaml"]).status == 0 else {
            _ = try requireTool("kubernetes-validate")
            throw XCTSkip("PyYAML is missing")
        }
        let d = days[0], data = work + "/data"
        try FileManager.default.createDirectory(atPath: data + "/inbox", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: repoRoot + "/SampleData/inbox-\(d)", toPath: data + "/inbox/" + d)
        XCTAssertEqual(try emulate(["--data", data, "--run-date", d, "--shards", "3", "--steps", "cut"]).status, 0)
        // Shard 1's hr file cut short after the cut: its manifest no longer matches (bad input, exit 65).
        let hr = data + "/shards/\(d)/1/hr.csv"
        let bytes = try FileIO.readAll(hr)
        _ = try FileIO.write(hr, Array(bytes.prefix(bytes.count / 2)))
        let r = try emulate(["--data", data, "--run-date", d, "--shards", "3", "--steps", "shards,merge"])
        XCTAssertEqual(r.status, 1, r.out)
        XCTAssertTrue(r.out.contains("index 1 attempt 1 exited 65 (FailIndex)"), r.out)
        XCTAssertFalse(r.out.contains("index 1 attempt 2"), "a refused index is not retried: \(r.out)")
        XCTAssertTrue(r.out.contains("maxFailedIndexes 0"), r.out)
        XCTAssertFalse(r.out.contains("pfp-merge"), r.out)
        XCTAssertFalse(FileIO.exists(data + "/published/\(d)"))
    }
}
