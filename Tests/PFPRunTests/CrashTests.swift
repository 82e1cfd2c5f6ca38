import XCTest
import PFPTestSupport
@testable import PFPCore

/// Kills the built pfp with SIGKILL at every named point of a run, then checks what
/// readers and the next run see.
final class CrashTests: XCTestCase {
    func args(_ date: String, _ out: String) -> [String] {
        [
            "run", "--run-date", date, "--inbox", repoRoot + "/SampleData/inbox-\(date)", "--out", out + "/published",
            "--db", out + "/pfp.sqlite", "--quiet",
        ]
    }

    func digests(_ dir: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for n in try publishedFiles(dir) {
            out[n] = try SHA256Digest.hex(ofFile: dir + "/" + n)
        }
        return out
    }

    func testKilledAnywhereLeavesPublishedRunsIntactAndTheRerunMatches() throws {
        guard FileIO.exists(pfpBinary) else { throw XCTSkip("build the pfp product first") }
        let base = NSTemporaryDirectory() + "pfp-crash-\(UUID().uuidString)"
        defer { try? FileIO.remove(base) }
        // The uninterrupted reference.
        let ref = base + "/ref"
        XCTAssertEqual(try runPFP(args("2026-11-23", ref)).status, 0)
        XCTAssertEqual(try runPFP(args("2026-11-24", ref)).status, 0)
        let want = try digests(ref + "/published/2026-11-24")
        for point in FaultPoint.all {
            let out = base + "/" + point
            XCTAssertEqual(try runPFP(args("2026-11-23", out)).status, 0)
            let day1 = try digests(out + "/published/2026-11-23")
            let code = try runPFP(args("2026-11-24", out), env: ["PFP_ABORT_AT": point]).status
            XCTAssertEqual(code, -SIGKILL, "\(point): the hook should kill the process")
            // Readers: the earlier run untouched; any visible run directory is complete.
            XCTAssertEqual(try digests(out + "/published/2026-11-23"), day1, point)
            for name in try FileManager.default.contentsOfDirectory(atPath: out + "/published")
            where !name.hasPrefix(".") {
                XCTAssertTrue(FileIO.exists(out + "/published/\(name)/_SUCCESS"), "\(point): \(name) has no _SUCCESS")
            }
            // The database is sound and the next run succeeds with the same bytes.
            let db = try Database(path: out + "/pfp.sqlite")
            XCTAssertEqual(try db.integrityCheck(), "ok", point)
            XCTAssertEqual(try runPFP(args("2026-11-24", out)).status, 0, point)
            XCTAssertEqual(try digests(out + "/published/2026-11-24"), want, point)
            XCTAssertFalse(
                try FileManager.default.contentsOfDirectory(atPath: out + "/published").contains {
                    $0.hasPrefix(".tmp-")
                }, point)
        }
    }
}
