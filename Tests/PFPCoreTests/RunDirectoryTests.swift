import XCTest
@testable import PFPCore

/// The run directory's staging: a what-if fills several folders at once and
/// publishes them together.
final class RunDirectoryTests: XCTestCase {
    /// Making a folder sweeps away staging left by runs that are gone, and this
    /// process's own that it no longer fills; the folders it still fills stay.
    func testStagingBeingFilledSurvivesTheNextFoldersSweep() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let a = try RunDirectory(root: root, name: "a")
        try a.write("x.csv", Array("1\n".utf8), rows: 1)
        let b = try RunDirectory(root: root, name: "b")
        XCTAssertTrue(FileIO.exists(a.path("x.csv")), "a's staging was swept while being filled")
        // A staging folder of this process that nothing fills (a pid used again) goes.
        let left = (root as NSString).appendingPathComponent(".tmp-old-\(getpid())")
        try FileIO.makeDirectory(left)
        let c = try RunDirectory(root: root, name: "c")
        XCTAssertFalse(FileIO.exists(left))
        for d in [a, b, c] { try d.publish() }
        XCTAssertEqual(try FileIO.readText(root + "/a/x.csv"), "1\n")
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: root).sorted(), ["a", "b", "c"])
        // An abandoned folder is no longer kept from the sweep.
        let d = try RunDirectory(root: root, name: "d")
        d.abandon()
        XCTAssertFalse(FileIO.exists(d.staging))
    }

    func makeTemporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "pfp-rundir-" + UUID().uuidString
        try FileIO.makeDirectory(path)
        return path
    }
}
