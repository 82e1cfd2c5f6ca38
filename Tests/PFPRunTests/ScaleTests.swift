import XCTest
import PFPTestSupport
@testable import PFPCore

/// The thread-count guarantee at city-like scale: 100,000 households (two
/// consecutive days, so `status` repeats and the warning list are exercised),
/// run by the built pfp with one worker and with two. Every published file,
/// explain.jsonl and the manifest included, must be the same bytes.
final class ScaleTests: XCTestCase {
    func testOutputIsByteIdenticalWhateverTheThreadCountAt100000Households() throws {
        let work = NSTemporaryDirectory() + "pfp-scale-\(UUID().uuidString)"
        try FileIO.makeDirectory(work)
        defer { try? FileIO.remove(work) }
        let g = try runPFP([
            "sample", "--households", "100000", "--seed", "5", "--run-date", "2026-11-23", "--days", "2",
            "--out", work + "/data", "--quiet",
        ])
        XCTAssertEqual(g.status, 0, g.err)
        var entries = 0
        for date in ["2026-11-23", "2026-11-24"] {
            var published: [[String: String]] = []
            for threads in ["1", "2"] {
                let out = work + "/t\(threads)"
                let r = try runPFP([
                    "run", "--run-date", date, "--inbox", work + "/data/inbox-\(date)", "--out", out + "/published",
                    "--db", out + "/pfp.sqlite", "--threads", threads, "--quiet",
                ])
                XCTAssertEqual(r.status, 0, r.err)
                let dir = out + "/published/\(date)"
                var digests: [String: String] = [:]
                for n in try publishedFiles(dir) {
                    digests[n] = try SHA256Digest.hex(ofFile: dir + "/" + n)
                }
                published.append(digests)
                if threads == "2" {
                    let m = try XCTUnwrap(JSON.parseObject(try FileIO.readAll(dir + "/manifest.json")))
                    let outputs = try XCTUnwrap(m["outputs"] as? [[String: Any]])
                    entries = outputs.first { $0["file"] as? String == "explain.jsonl" }?["rows"] as? Int ?? 0
                }
            }
            // 11 files, and the feedback CSV and page of each of the 13 feeds.
            XCTAssertEqual(published[0].count, 11 + 2 * 13, "\(published[0].keys.sorted())")
            XCTAssertEqual(published[0], published[1], date)
            // A city-like day: about one entry per household, not an empty run.
            XCTAssertGreaterThan(entries, 50_000, date)
        }
    }
}
