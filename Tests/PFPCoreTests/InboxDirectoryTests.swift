import XCTest
@testable import PFPCore

/// Files of a delivery are opened once, through the inbox's descriptor, and only
/// when they are regular files: no link is followed, no FIFO blocks, no device is read.
final class InboxDirectoryTests: XCTestCase {
    var dir = ""
    var outside = ""

    override func setUpWithError() throws {
        let root = NSTemporaryDirectory() + "pfp-inboxdir-\(UUID().uuidString)"
        dir = root + "/inbox"
        outside = root + "/outside"
        try FileIO.makeDirectory(dir)
        try FileIO.makeDirectory(outside)
    }
    override func tearDown() { try? FileIO.remove((dir as NSString).deletingLastPathComponent) }

    func open(_ name: String) throws -> Result<DeliveredFile, InboxFileProblem> {
        try InboxDirectory(path: dir).open(Array(name.utf8))
    }

    func testARegularFileIsReadThroughItsDescriptor() throws {
        try FileIO.write(dir + "/hr.csv", Array("id_number,tag,value,as_of\n".utf8))
        let file = try open("hr.csv").get()
        XCTAssertEqual(file.size, 26)
        XCTAssertEqual(try file.readAll(limit: 100), Array("id_number,tag,value,as_of\n".utf8))
        XCTAssertNil(try file.readAll(limit: 10), "larger than the limit")
        let mapped = try MappedFile(file: file, location: "hr.csv")
        XCTAssertEqual(Array(mapped.bytes), Array("id_number,tag,value,as_of\n".utf8))
    }

    func testLinksAreRefusedWhereverTheyLead() throws {
        try FileIO.write(outside + "/secret", Array("root:x:0:0\n".utf8))
        try FileIO.write(dir + "/real.csv", Array("a\n".utf8))
        try FileManager.default.createSymbolicLink(atPath: dir + "/out.csv", withDestinationPath: outside + "/secret")
        try FileManager.default.createSymbolicLink(atPath: dir + "/in.csv", withDestinationPath: "real.csv")
        try FileManager.default.createSymbolicLink(
            atPath: dir + "/dangling.csv", withDestinationPath: outside + "/none")
        for name in ["out.csv", "in.csv", "dangling.csv"] {
            XCTAssertEqual(try open(name).failure, .symbolicLink, name)
        }
    }

    func testDirectoriesFIFOsAndMissingFilesAreRefusedWithoutBlocking() throws {
        try FileIO.makeDirectory(dir + "/d.csv")
        XCTAssertEqual(mkfifo(dir + "/p.csv", 0o600), 0)
        XCTAssertEqual(try open("d.csv").failure, .notRegular("a directory"))
        XCTAssertEqual(try open("p.csv").failure, .notRegular("a FIFO (named pipe)"))
        XCTAssertEqual(try open("none.csv").failure, .missing)
        XCTAssertEqual(InboxDirectory.problem(mode: S_IFCHR), .notRegular("a character device"))
        XCTAssertEqual(InboxDirectory.problem(mode: S_IFBLK), .notRegular("a block device"))
        XCTAssertEqual(InboxDirectory.problem(mode: S_IFSOCK), .notRegular("a socket"))
        XCTAssertNil(InboxDirectory.problem(mode: S_IFREG))
    }

    func testAFileSwappedAfterItWasOpenedIsStillTheOneRead() throws {
        try FileIO.write(dir + "/hr.csv", Array("delivered\n".utf8))
        try FileIO.write(outside + "/secret", Array("secret\n".utf8))
        let file = try open("hr.csv").get()
        try FileManager.default.removeItem(atPath: dir + "/hr.csv")
        try FileManager.default.createSymbolicLink(atPath: dir + "/hr.csv", withDestinationPath: outside + "/secret")
        XCTAssertEqual(try file.readAll(limit: 100), Array("delivered\n".utf8))
        XCTAssertEqual(try open("hr.csv").failure, .symbolicLink)
    }

    func testEntriesAreEveryNameInByteOrderWhateverItsBytes() throws {
        let odd: [UInt8] = [0x68, 0xFF, 0x2E, 0x63]  // not UTF-8
        try FileIO.write(dir + "/b.csv", [])
        try FileIO.write(dir + "/a.csv", [])
        let fd = Glibc.open(dir + "/" + String(decoding: [0x78], as: UTF8.self), O_CREAT | O_WRONLY, 0o600)
        close(fd)
        let path = Array(dir.utf8) + [0x2F] + odd + [0]
        let oddFD = path.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { Glibc.open($0.baseAddress!, O_CREAT | O_WRONLY, 0o600) }
        }
        XCTAssertGreaterThanOrEqual(oddFD, 0)
        close(oddFD)
        let inbox = try InboxDirectory(path: dir)
        let names = try inbox.entries().map(\.name)
        XCTAssertEqual(names, [Array("a.csv".utf8), Array("b.csv".utf8), odd, [0x78]])
        XCTAssertNotNil(try? inbox.open(odd).get(), "a name that is not UTF-8 opens by its bytes")
        XCTAssertThrowsError(try InboxDirectory(path: dir + "/none")) { e in
            XCTAssertTrue("\(e)".contains("the inbox directory does not exist"), "\(e)")
        }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let f) = self { return f }
        return nil
    }
}
