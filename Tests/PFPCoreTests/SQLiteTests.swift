import XCTest
@testable import PFPCore

final class SQLiteTests: XCTestCase {
    var dir = ""
    override func setUp() {
        dir = NSTemporaryDirectory() + "pfp-sqlite-\(UUID().uuidString)"
        try? FileIO.makeDirectory(dir)
    }
    override func tearDown() { try? FileIO.remove(dir) }

    func testDatabaseFileIsOwnerOnlyWhateverTheUmask() throws {
        let old = umask(0)
        defer { umask(old) }
        let path = dir + "/x.sqlite"
        let db = try Database(path: path)
        try db.execute("CREATE TABLE t(a)")
        var st = stat()
        stat(path, &st)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
    }

    func testTransactionCommitsOrRollsBack() throws {
        let db = try Database(path: dir + "/t.sqlite")
        try db.execute("CREATE TABLE t(a INTEGER)")
        try db.transaction { try db.execute("INSERT INTO t VALUES (?)", [.int(1)]) }
        struct Boom: Error {}
        XCTAssertThrowsError(
            try db.transaction {
                try db.execute("INSERT INTO t VALUES (?)", [.int(2)])
                throw Boom()
            })
        var rows: [Int64] = []
        try db.query("SELECT a FROM t") { rows.append($0.int(0)) }
        XCTAssertEqual(rows, [1])
    }

    func testErrorsCarrySQLButNotArguments() throws {
        let db = try Database(path: dir + "/e.sqlite")
        try db.execute("CREATE TABLE t(a TEXT UNIQUE)")
        try db.execute("INSERT INTO t VALUES (?)", [.text("310101198001010012")])
        do {
            try db.execute("INSERT INTO t VALUES (?)", [.text("310101198001010012")])
            XCTFail("should fail")
        } catch let e as SQLiteError {
            XCTAssertTrue(e.description.contains("INSERT INTO t"))
            XCTAssertFalse(e.description.contains("310101198001010012"))
        }
    }

    func testStageStoreRoundTripsLargeArrays() throws {
        let db = try Database(path: dir + "/s.sqlite")
        let store = try StageStore(db: db)
        var w = BlobWriter()
        let ints = (0..<100_000).map { Int64($0) * 3 - 7 }
        w.put("ints", ints)
        w.putStrings("names", ["H1", "", "H-3"])
        let date = CivilDate.parse("2026-11-24")!
        try store.save(runDate: date, stage: "x", blobs: w)
        let r = try XCTUnwrap(try store.load(runDate: date, stage: "x"))
        let back: [Int64] = try r.get("ints")
        XCTAssertEqual(back, ints)
        XCTAssertEqual(try r.strings("names"), ["H1", "", "H-3"])
        XCTAssertNil(try store.load(runDate: date.adding(days: 1), stage: "x"))
    }

    /// Items of odd sizes each start at a multiple of 8, so they can be read in
    /// place; a result written before (PFPSTAGE1: items one after another) is still
    /// read, by copying, and refuses to be read in place.
    func testStageStoreAlignsItemsAndReadsTheOlderLayout() throws {
        let db = try Database(path: dir + "/s.sqlite")
        let store = try StageStore(db: db)
        var w = BlobWriter()
        let odd: [UInt8] = [1, 2, 3], ints = (0..<1_001).map { Int64($0) * 5 - 2 }, small: [Int32] = [7, -9, 11]
        w.put("odd", odd)
        w.put("ints", ints)
        w.putStrings("names", ["H1", "H22"])
        w.put("small", small)
        let date = CivilDate.parse("2026-11-24")!
        try store.save(runDate: date, stage: "x", blobs: w)
        let r = try XCTUnwrap(try store.load(runDate: date, stage: "x"))
        XCTAssertTrue(r.itemsAligned)
        XCTAssertEqual(Array(try r.inPlace("ints") as UnsafeBufferPointer<Int64>), ints)
        XCTAssertEqual(Array(try r.inPlace("small") as UnsafeBufferPointer<Int32>), small)
        XCTAssertEqual(try r.get("odd") as [UInt8], odd)
        XCTAssertEqual(try r.strings("names"), ["H1", "H22"])

        // The same items in the older layout: header, then the bytes one after another.
        var old: [UInt8] = Array("PFPSTAGE1\n".utf8)
        func u64(_ x: Int) { withUnsafeBytes(of: UInt64(x).littleEndian) { old.append(contentsOf: $0) } }
        let items: [(String, [UInt8])] = [
            ("odd", odd), ("ints", ints.withUnsafeBytes { Array($0) }), ("small", small.withUnsafeBytes { Array($0) }),
        ]
        u64(items.count)
        for (name, bytes) in items { u64(name.utf8.count); old.append(contentsOf: Array(name.utf8)); u64(bytes.count) }
        u64(old.count + 8)
        for (_, bytes) in items { old.append(contentsOf: bytes) }
        let path = store.directory + "/2026-11-24-x.bin"
        try FileIO.write(path, old)
        let sum = old.withUnsafeBytes { CRC32C(of: $0).text }
        try db.execute(
            "UPDATE stage_result SET bytes = ?, checksum = ?", [.int(Int64(old.count)), .text(sum)])
        let r1 = try XCTUnwrap(try store.load(runDate: date, stage: "x"))
        XCTAssertFalse(r1.itemsAligned)
        XCTAssertEqual(try r1.get("ints") as [Int64], ints)
        XCTAssertEqual(try r1.get("small") as [Int32], small)
        XCTAssertThrowsError(try r1.inPlace("ints") as UnsafeBufferPointer<Int64>)
        // As columns: the aligned result's read where it lies in the file, and still
        // readable once the reader is gone (the column holds the mapping); the older
        // layout's copied.
        var inPlace: Column<Int64>? = try XCTUnwrap(try store.load(runDate: date, stage: "x")).column("ints")
        XCTAssertEqual(inPlace?.array, ints)
        let copied: Column<Int64> = try r1.column("ints")
        XCTAssertEqual(copied.array, ints)
        try FileIO.write(dir + "/unrelated", [1, 2, 3])  // other memory traffic between
        XCTAssertEqual(inPlace?[1_000], ints[1_000])
        inPlace = nil
    }

    /// A column made from an array keeps that array's elements: later changes to
    /// the array (a copy on write) do not reach it.
    func testAColumnKeepsItsArray() {
        var a: [Int32] = [4, 5, 6]
        let c = Column(a)
        a[0] = 9
        a.append(contentsOf: 0..<10_000)
        XCTAssertEqual(c.array, [4, 5, 6])
        XCTAssertEqual(c.count, 3)
        XCTAssertEqual(c[2], 6)
        XCTAssertEqual(c, [4, 5, 6])
        XCTAssertNotEqual(c, [4, 5])
        XCTAssertEqual(Column<Int32>().count, 0)
    }

    /// A stored result changed on disk (one byte, size kept) is refused with the
    /// command that makes it again, not read as if it were the stage's output.
    func testStageStoreRefusesADamagedResult() throws {
        let db = try Database(path: dir + "/s.sqlite")
        let store = try StageStore(db: db)
        var w = BlobWriter()
        w.put("ints", (0..<50_000).map { Int64($0) })
        let date = CivilDate.parse("2026-11-24")!
        try store.save(runDate: date, stage: "x", blobs: w)
        var sum = ""
        try db.query("SELECT checksum FROM stage_result") { sum = $0.text(0) }
        XCTAssertTrue(sum.hasPrefix("crc32c:") && sum.count == 15, sum)
        XCTAssertNotNil(try store.load(runDate: date, stage: "x"))
        let path = store.directory + "/2026-11-24-x.bin"
        var bytes = try XCTUnwrap(FileManager.default.contents(atPath: path))
        bytes[bytes.count - 100] ^= 1
        try FileIO.write(path, [UInt8](bytes))
        XCTAssertThrowsError(try store.load(runDate: date, stage: "x")) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("damaged") && text.contains("pfp stage x --run-date 2026-11-24"), text)
        }
    }

    /// A database from before the CRC-32C: the column is renamed and its results,
    /// registered with their sha256, are still checked with it.
    func testStageStoreTakesADatabaseWithSHA256Column() throws {
        let path = dir + "/old.sqlite"
        let date = CivilDate.parse("2026-11-24")!
        do {
            let store = try StageStore(db: try Database(path: path))
            var w = BlobWriter()
            w.put("ints", (0..<1_000).map { Int64($0) })
            try store.save(runDate: date, stage: "x", blobs: w)
            let file = store.directory + "/2026-11-24-x.bin"
            let sha = try SHA256Digest.hex(ofFile: file)
            // Back to the old layout: the column named sha256, holding the sha256, and
            // no record of migrations (pfp made none then).
            try store.db.execute("ALTER TABLE stage_result RENAME COLUMN checksum TO sha256")
            try store.db.execute("UPDATE stage_result SET sha256 = ?", [.text(sha)])
            try store.db.execute("DROP TABLE schema_migrations")
        }
        let store = try StageStore(db: try Database(path: path))
        let r = try XCTUnwrap(try store.load(runDate: date, stage: "x"))
        XCTAssertEqual(try r.get("ints") as [Int64], (0..<1_000).map { Int64($0) })
        try store.db.execute("UPDATE stage_result SET checksum = ?", [.text(String(repeating: "0", count: 64))])
        XCTAssertThrowsError(try store.load(runDate: date, stage: "x"))
    }
}

/// A statement is one statement with as many arguments as it takes; the schema
/// is numbered steps, each applied once.
final class SchemaTests: XCTestCase {
    var dir = ""
    override func setUp() {
        dir = NSTemporaryDirectory() + "pfp-schema-\(UUID().uuidString)"
        try? FileIO.makeDirectory(dir)
    }
    override func tearDown() { try? FileIO.remove(dir) }

    func testAStatementRefusesTrailingSQLAndTheWrongNumberOfArguments() throws {
        let db = try Database(path: dir + "/s.sqlite")
        try db.execute("CREATE TABLE t(a INTEGER)")
        XCTAssertThrowsError(try db.statement("INSERT INTO t VALUES (1); DROP TABLE t")) { e in
            XCTAssertTrue("\(e)".contains("more than one statement"), "\(e)")
        }
        XCTAssertNoThrow(try db.statement("SELECT a FROM t; -- a comment after"))
        XCTAssertNoThrow(try db.statement("SELECT a FROM t;  "))
        XCTAssertEqual(try db.statement("INSERT INTO t VALUES (?)").argumentCount, 1)
        for values: [SQLValue] in [[], [.int(1), .int(2)]] {
            XCTAssertThrowsError(try db.execute("INSERT INTO t VALUES (?)", values)) { e in
                XCTAssertTrue("\(e)".contains("takes 1 arguments, \(values.count) given"), "\(e)")
            }
        }
        var rows = 0
        try db.query("SELECT count(*) FROM t") { rows = Int($0.int(0)) }
        XCTAssertEqual(rows, 0, "nothing ran")
        try db.query("SELECT name FROM sqlite_master WHERE name = 't'") { XCTAssertEqual($0.text(0), "t") }
    }

    func columns(_ db: Database, _ table: String) throws -> [String] {
        var out: [String] = []
        try db.query("SELECT name FROM pragma_table_info(?)", [.text(table)]) { out.append($0.text(0)) }
        return out
    }

    func testANewDatabaseGetsEveryStepOnceInOrder() throws {
        let db = try Database(path: dir + "/new.sqlite")
        try Schema.migrate(db)
        XCTAssertEqual(try Schema.applied(db), Set(Schema.migrations.map(\.id)))
        XCTAssertEqual(Schema.migrations.map(\.id), Array(1...Schema.migrations.count), "numbered 1, 2, 3, … in order")
        XCTAssertTrue(try columns(db, "stage_result").contains("checksum"))
        try Schema.migrate(db)
        _ = try RunRegistry(db: db)
        var recorded = 0
        try db.query("SELECT count(*) FROM schema_migrations") { recorded = Int($0.int(0)) }
        XCTAssertEqual(recorded, Schema.migrations.count, "applied once")
    }

    func testADatabaseFromBeforeNumberedStepsIsAdopted() throws {
        // As pfp made them before the CRC-32C: tables, no record of steps, stage_result.sha256.
        let db = try Database(path: dir + "/old.sqlite")
        try db.execute(Schema.migrations[0].sql)
        try db.execute(Schema.migrations[1].sql)
        try db.execute(
            "INSERT INTO runs(run_date, status, started_at, pipeline_version) VALUES ('2026-11-23', 'succeeded', 'x', '0.1.0')"
        )
        try Schema.migrate(db)
        XCTAssertEqual(try Schema.applied(db), [1, 2, 3, 4])
        XCTAssertEqual(try columns(db, "stage_result").filter { $0 == "checksum" || $0 == "sha256" }, ["checksum"])
        let runs = try RunRegistry(db: db).list()
        XCTAssertEqual(runs.map(\.status), [.succeeded], "the registry's rows kept")
    }

    func testRunStatusesAreRecordedAndReadAsTheEnum() throws {
        let registry = try RunRegistry(db: try Database(path: dir + "/r.sqlite"))
        let date = CivilDate.parse("2026-11-23")!
        try registry.start(runDate: date, version: "v", inbox: "in", threads: 1)
        XCTAssertEqual(try registry.list().map(\.status), [.running])
        for status in RunStatus.allCases {
            try registry.finish(runDate: date, status: status)
            XCTAssertEqual(try registry.list().map(\.status), [status])
        }
        try registry.finish(runDate: date, status: .succeeded)
        XCTAssertEqual(try registry.previousSuccessful(before: CivilDate.parse("2026-11-24")!), date)
    }
}

final class JSONAndConfigTests: XCTestCase {
    func testJSONEscapesAndKeepsKeyOrder() {
        let j = JSON.object([("b", .int(1)), ("a", .string("x\"y\n\u{1}")), ("c", .array([.bool(true), .null]))])
        XCTAssertEqual(j.serialized(), "{\"b\":1,\"a\":\"x\\\"y\\n\\u0001\",\"c\":[true,null]}")
    }

    func testPrettyJSONIsTwoSpacesWithEmptyContainersInline() {
        let j = JSON.object([
            ("a", .array([.int(-12), .null, .array([])])), ("b", .object([])), ("c", .object([("d", .string("\t"))])),
        ])
        XCTAssertEqual(
            j.serialized(pretty: true),
            """
            {
              "a": [
                -12,
                null,
                []
              ],
              "b": {},
              "c": {
                "d": "\\t"
              }
            }
            """)
        XCTAssertEqual(JSON.int(Int(Int64.min)).serialized(), "-9223372036854775808")
    }

    func testConfigFileReportsLine() {
        XCTAssertThrowsError(try ConfigFile(path: "p.conf", text: "a = 1\n[feed x\n")) { e in
            XCTAssertEqual((e as? PipelineError)?.location, "p.conf:2:8")
        }
        XCTAssertThrowsError(try ConfigFile(path: "p.conf", text: "a = 1\njust words\n")) { e in
            XCTAssertEqual((e as? PipelineError)?.location, "p.conf:2:1")
        }
        let c = try? ConfigFile(path: "p.conf", text: "# c\na = 1 # note\n[feed hr]\nrequired = false\n")
        XCTAssertEqual(c?.top.value("a")?.value, "1")
        XCTAssertEqual(c?.sections(kind: "feed").first?.section.value("required")?.value, "false")
    }
}
