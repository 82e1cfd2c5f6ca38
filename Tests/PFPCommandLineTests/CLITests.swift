import XCTest
import PFPTestSupport
@testable import PFPCore

/// Runs the built `pfp` as a user or scheduler would and checks output and exit status.
final class CLITests: XCTestCase {
    var work = ""

    override func setUpWithError() throws {
        guard FileIO.exists(pfpBinary) else { throw XCTSkip("build the pfp product first (swift build)") }
        work = NSTemporaryDirectory() + "pfp-cli-\(UUID().uuidString)"
        try FileIO.makeDirectory(work)
    }
    override func tearDown() { try? FileIO.remove(work) }

    func run(_ args: [String]) throws -> (code: Int32, out: String, err: String) {
        let r = try runPFP(args)
        return (r.status, r.out, r.err)
    }

    func testHelpEverywhere() throws {
        let top = try run(["--help"])
        XCTAssertEqual(top.code, 0)
        XCTAssertTrue(top.out.contains("commands:"))
        for c in ["run", "stage", "sample", "runs"] {
            let r = try run([c, "--help"])
            XCTAssertEqual(r.code, 0, c)
            XCTAssertTrue(r.out.contains("usage: pfp \(c)"), c)
        }
    }

    func testMisuseExits64WithAHint() throws {
        let r = try run(["run", "--no-such-flag"])
        XCTAssertEqual(r.code, 64)
        XCTAssertTrue(r.err.contains("unknown option --no-such-flag"))
        XCTAssertTrue(r.err.contains("pfp run --help"))
        XCTAssertEqual(try run(["run", "--run-date", "2026-02-30"]).code, 64)
        XCTAssertEqual(try run(["frobnicate"]).code, 64)
        XCTAssertEqual(try run(["run", "stray"]).code, 64)
    }

    func testRunPublishesOwnerOnlyAndRefusesBrokenDeliveriesWith65() throws {
        let inbox = repoRoot + "/SampleData/inbox-2026-11-23"
        let args = [
            "run", "--run-date", "2026-11-23", "--inbox", inbox, "--out", work + "/pub", "--db", work + "/db.sqlite",
        ]
        let r = try run(args)
        XCTAssertEqual(r.code, 0, r.err)
        let dir = work + "/pub/2026-11-23"
        XCTAssertTrue(FileIO.exists(dir + "/_SUCCESS"))
        for f in ["rejects.csv", "manifest.json", "_SUCCESS"] {
            var st = stat()
            stat(dir + "/" + f, &st)
            XCTAssertEqual(st.st_mode & 0o777, 0o600, f)
        }
        var st = stat()
        stat(work + "/db.sqlite", &st)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        // The manifest lists the outputs with their digests.
        let manifest = try XCTUnwrap(JSON.parseObject(try FileIO.readAll(dir + "/manifest.json")))
        let outputs = try XCTUnwrap(manifest["outputs"] as? [[String: Any]])
        let rejects = try XCTUnwrap(outputs.first { $0["file"] as? String == "rejects.csv" })
        XCTAssertEqual(rejects["sha256"] as? String, try SHA256Digest.hex(ofFile: dir + "/rejects.csv"))

        // A manifest that lies about its rows: refused (65), the published run is untouched.
        let bad = work + "/bad-inbox"
        try FileManager.default.copyItem(atPath: inbox, toPath: bad)
        let m = bad + "/tax.csv.manifest.json"
        let text = try FileIO.readText(m).replacingOccurrences(of: "\"rows\": ", with: "\"rows\": 1")
        try FileIO.write(m, Array(text.utf8))
        let before = try SHA256Digest.hex(ofFile: dir + "/rejects.csv")
        let refused = try run([
            "run", "--run-date", "2026-11-23", "--inbox", bad, "--out", work + "/pub", "--db", work + "/db.sqlite",
        ])
        XCTAssertEqual(refused.code, 65)
        XCTAssertTrue(refused.err.contains("feed tax"), refused.err)
        XCTAssertTrue(refused.err.contains("what to do"), refused.err)
        XCTAssertEqual(try SHA256Digest.hex(ofFile: dir + "/rejects.csv"), before)
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: work + "/pub").filter { !$0.hasPrefix(".") },
            ["2026-11-23"])

        let runs = try run(["runs", "--db", work + "/db.sqlite"])
        XCTAssertEqual(runs.code, 0)
        XCTAssertTrue(runs.out.contains("2026-11-23  refused"), runs.out)
    }
}
