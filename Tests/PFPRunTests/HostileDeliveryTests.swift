import XCTest
import PFPTestSupport
@testable import PFPCore

/// The canary test of the privacy promise: deliveries whose broken parts hold
/// canaries (ID numbers valid under GB 11643, names in Chinese and Latin script,
/// an address, phone numbers, the content of a file outside the inbox), broken in
/// every structural way we know of. Each is run at every verbosity, and everything
/// pfp writes or prints (both console streams, `pfp runs`, the database and its
/// stage results, every published or staged file) is searched, byte for byte, for
/// every canary, the Chinese ones in UTF-8 and GB18030, and for the birth-date
/// digits that a masked ID hides. Any hit fails.
///
/// Canaries sit only where pfp must refuse or reject: in a refused file, in a row
/// that must be rejected, in a manifest's field, in a file name. The rest of each
/// delivery is a small valid one, so that the cases that only reject rows run to
/// publication and their outputs are searched too.
final class HostileDeliveryTests: XCTestCase {
    var work = ""

    override func setUpWithError() throws {
        guard FileIO.exists(pfpBinary) else { throw XCTSkip("build the pfp product first") }
        work = NSTemporaryDirectory() + "pfp-hostile-\(UUID().uuidString)"
        try FileIO.makeDirectory(work)
    }
    override func tearDown() { try? FileIO.remove(work) }

    // MARK: Canaries

    let canaryIDs = ["11010519310729123", "31011519280516457", "44030619350211836"].map(idWithCheck)
    let canaryNames = ["陈丽华", "欧阳娜娜", "Chen Lihua", "Ouyang Nana"]
    let canaryAddress = "南京东路123号"
    let canaryPhones = ["13912345678", "021-63218877"]
    let outsideLine = "root:x:0:0:canary-outside-line:/root:/bin/bash"

    /// Every byte string that must not appear anywhere pfp writes or prints.
    func canaryBytes() throws -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = []
        for id in canaryIDs {
            out.append(("ID \(id.prefix(6))…", Array(id.utf8)))
            out.append(
                (
                    "the masked digits of ID \(id.prefix(6))…",
                    Array(
                        id.utf8[
                            id.utf8.index(
                                id.utf8.startIndex, offsetBy: 6)..<id.utf8.index(id.utf8.startIndex, offsetBy: 14)])
                ))
        }
        for text in canaryNames + [canaryAddress] + canaryPhones + ["canary-outside-line", "outside-陈丽华"] {
            out.append((text, Array(text.utf8)))
            if text.unicodeScalars.contains(where: { $0.value > 127 }) {
                out.append((text + " (GB18030)", try gb18030(text)))
            }
        }
        return out
    }

    // MARK: A small valid delivery

    let base = ["31010119800101001", "31010119820202002", "31010119500303003"].map(idWithCheck)
    static let popHeader = "id_number,name,sex,birth_date,household_id,relation,hukou,district,street,community"
    static let tagFeeds = [
        "hr", "tax", "medical", "disability", "health", "civil", "education", "housing", "verification", "utilities",
        "community",
    ]

    /// Rows of a population file that must all be rejected or refused: canary people.
    var canaryPeople: [String] {
        [
            "\(canaryIDs[0]),陈丽华,F,1931-07-29,HQ1,head,local,310101,310101001,310101001001,\(canaryAddress),\(canaryPhones[0])",
            "\(canaryIDs[1]),Chen Lihua,M,1928-05-16,HQ1,spouse,local,310101,310101001,310101001001,\(canaryAddress),\(canaryPhones[1])",
            "\(canaryIDs[2]),\"Ouyang, Nana\",M,1935-02-11,HQ2,head,local,310101,310101001,310101001001,欧阳娜娜,\(canaryPhones[0])",
        ]
    }

    /// Tag rows that must all be rejected: unknown people, values and tags that are canaries.
    var canaryTags: [String] {
        [
            "\(canaryIDs[0]),income.wage,100,2026-11-20",
            "\(canaryIDs[1]),employment.status,employed,2026-11-20",
            "\(base[0]),income.wage,陈丽华,2026-11-20",
            "\(base[1]),Chen Lihua,1,2026-11-20",
            "\(base[0]),employment.status,\(canaryPhones[0]),2026-11-20",
            "\(base[2]),income.pension,\(canaryAddress),2026-11-20",
        ]
    }

    /// A delivery: data files by name, each with its feed; manifests tell the truth
    /// (sha256 and the records pfp will count) unless replaced.
    struct Delivery {
        var files: [String: (feed: String, bytes: [UInt8], encoding: String)] = [:]
        /// Other files of the inbox, by name, as they are.
        var raw: [String: [UInt8]] = [:]
        var manifestFields: [String: [String: String]] = [:]
    }

    func baseDelivery() -> Delivery {
        var d = Delivery()
        let pop = [
            HostileDeliveryTests.popHeader,
            "\(base[0]),,M,1980-01-01,H1,head,local,310101,310101001,310101001001",
            "\(base[1]),,F,1982-02-02,H1,spouse,local,310101,310101001,310101001001",
            "\(base[2]),,M,1950-03-03,H2,head,local,310101,310101002,310101002001",
        ]
        d.files["population.csv"] = ("population", text(pop), "utf-8")
        for feed in HostileDeliveryTests.tagFeeds {
            d.files["\(feed).csv"] = (feed, text(["id_number,tag,value,as_of"]), "utf-8")
        }
        d.files["hr.csv"] = (
            "hr", text(["id_number,tag,value,as_of", "\(base[0]),income.wage,900,2026-11-20"]), "utf-8"
        )
        return d
    }

    func text(_ lines: [String]) -> [UInt8] { Array((lines.joined(separator: "\n") + "\n").utf8) }

    func write(_ d: Delivery, to dir: String) throws {
        try FileIO.makeDirectory(dir)
        for (name, f) in d.files {
            try FileIO.write(dir + "/" + name, f.bytes)
            let rows = f.bytes.withUnsafeBytes {
                CSVLayout.scan(UnsafeRawBufferPointer(rebasing: $0[TextDecoding.bomLength($0)...])).records
            }
            var fields = [
                "feed": f.feed, "department": "test", "as_of": "2026-11-23", "sha256": SHA256Digest.hex(of: f.bytes),
                "encoding": f.encoding,
            ]
            for (k, v) in d.manifestFields[name] ?? [:] { fields[k] = v }
            var pairs: [(String, JSON)] = fields.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }
            pairs.append(("rows", .int(rows)))
            try FileIO.write(
                dir + "/" + name + ".manifest.json", Array(JSON.object(pairs).serialized(pretty: true).utf8))
        }
        for (name, bytes) in d.raw { try FileIO.write(dir + "/" + name, bytes) }
    }

    // MARK: The cases

    /// A broken delivery: how it is broken, and whether pfp must refuse it (65) or
    /// only reject rows and publish (0).
    struct Case {
        var name: String
        var refused: Bool
        var build: (inout Delivery) throws -> Void = { _ in }
        /// Done to the written inbox (links, FIFOs, directories); `outside` is a folder beside it.
        var after: (_ inbox: String, _ outside: String) throws -> Void = { _, _ in }
    }

    func cases() throws -> [Case] {
        let tagHeader = "id_number,tag,value,as_of"
        let popWithExtras = HostileDeliveryTests.popHeader + ",address,phone"
        let gbHeader = "身份证号,姓名,性别,出生日期,户号,与户主关系,户籍,区,街道,居委,地址,电话"
        return [
            Case(name: "population without its header row", refused: true) {
                $0.files["population.csv"] = ("population", self.text(self.canaryPeople), "utf-8")
            },
            Case(name: "tag feed without its header row", refused: true) {
                $0.files["hr.csv"] = ("hr", self.text(self.canaryTags), "utf-8")
            },
            Case(name: "header repeated", refused: false) {
                $0.files["hr.csv"] = ("hr", self.text([tagHeader, tagHeader] + self.canaryTags), "utf-8")
            },
            Case(name: "a resident's row before the header", refused: true) {
                $0.files["population.csv"] = (
                    "population", self.text([self.canaryPeople[0], popWithExtras] + self.canaryPeople), "utf-8"
                )
            },
            Case(name: "a GB18030 header declared UTF-8", refused: true) {
                let bytes = try gb18030(([gbHeader] + self.canaryPeople).joined(separator: "\n") + "\n")
                $0.files["population.csv"] = ("population", bytes, "utf-8")
            },
            Case(name: "a header in Chinese, declared GB18030", refused: true) {
                let bytes = try gb18030(([gbHeader] + self.canaryPeople).joined(separator: "\n") + "\n")
                $0.files["population.csv"] = ("population", bytes, "gb18030")
            },
            Case(name: "rows shifted by one column", refused: false) {
                $0.files["hr.csv"] = ("hr", self.text([tagHeader] + self.canaryTags.map { "陈丽华," + $0 }), "utf-8")
            },
            Case(name: "header shifted by one column", refused: false) {
                $0.files["tax.csv"] = ("tax", self.text([",id_number,tag,value,as_of"] + self.canaryTags), "utf-8")
            },
            Case(name: "a quote left open on the first line", refused: true) {
                $0.files["population.csv"] = (
                    "population", self.text(["\"" + popWithExtras] + self.canaryPeople), "utf-8"
                )
            },
            Case(name: "a quote left open on a row", refused: false) {
                $0.files["hr.csv"] = (
                    "hr", self.text([tagHeader, "\"" + self.canaryTags[0]] + self.canaryTags), "utf-8"
                )
            },
            Case(name: "a byte-order mark inside the header", refused: true) {
                $0.files["hr.csv"] = ("hr", self.text(["id_number,\u{FEFF}tag,value,as_of"] + self.canaryTags), "utf-8")
            },
            Case(name: "a byte-order mark before a row", refused: false) {
                $0.files["hr.csv"] = ("hr", self.text([tagHeader] + self.canaryTags.map { "\u{FEFF}" + $0 }), "utf-8")
            },
            Case(name: "manifests whose fields are canaries", refused: true) {
                $0.manifestFields["tax.csv"] = ["feed": "陈丽华"]
                $0.manifestFields["civil.csv"] = ["feed": self.canaryIDs[0]]
                $0.manifestFields["education.csv"] = ["feed": "Chen Lihua"]
                $0.manifestFields["medical.csv"] = ["department": self.canaryIDs[1] + " 欧阳娜娜"]
                $0.manifestFields["health.csv"] = ["encoding": self.canaryPhones[0]]
                $0.manifestFields["housing.csv"] = ["as_of": self.canaryPhones[1]]
            },
            Case(name: "canaries in file names, delivery valid", refused: false) {
                let pop = $0.files.removeValue(forKey: "population.csv")!
                $0.files["陈丽华.csv"] = pop
                let hr = $0.files.removeValue(forKey: "hr.csv")!
                $0.files["\(self.canaryIDs[0]).csv"] = hr
                $0.raw["Chen Lihua \(self.canaryPhones[0]).txt"] = self.text(["note"])
            },
            Case(name: "canaries in file names, delivery broken", refused: true) {
                let hr = $0.files["hr.csv"]!
                $0.files["欧阳娜娜.csv"] = hr
                $0.files["tax.csv"] = nil
                $0.raw["\(self.canaryIDs[2]).csv.manifest.json"] = self.text(["{\"feed\": \"tax\""])
            },
            Case(name: "not JSON, with canaries", refused: true) {
                $0.raw["medical.csv.manifest.json"] = self.text([
                    "{\"feed\": \"medical\", \"陈丽华\": \(self.canaryIDs[0])"
                ])
            },
            Case(name: "a header of canaries", refused: true) {
                $0.files["hr.csv"] = (
                    "hr",
                    self.text(
                        ["id_number,tag,陈丽华,\(self.canaryIDs[0]),Chen Lihua,\(self.canaryPhones[0])"] + self.canaryTags),
                    "utf-8"
                )
            },
            Case(name: "the population's header on a tag feed", refused: true) {
                $0.files["hr.csv"] = ("hr", self.text([popWithExtras] + self.canaryPeople), "utf-8")
            },
            Case(name: "a tag feed's header on the population", refused: true) {
                $0.files["population.csv"] = ("population", self.text([tagHeader] + self.canaryTags), "utf-8")
            },
            Case(name: "rows that disagree with the manifest", refused: true) {
                $0.files["hr.csv"] = ("hr", self.text([tagHeader] + self.canaryTags), "utf-8")
            } after: { inbox, _ in
                try self.editManifest(inbox + "/hr.csv.manifest.json") { $0["rows"] = 99 }
            },
            Case(name: "a data file that links outside the inbox", refused: true) { _ in
            } after: { inbox, outside in
                let secret =
                    Array(
                        (["id_number,tag,value,as_of", self.outsideLine] + self.canaryTags).joined(separator: "\n").utf8
                    ) + [10]
                try FileIO.write(outside + "/secret.csv", secret)
                try FileManager.default.removeItem(atPath: inbox + "/hr.csv")
                try FileManager.default.createSymbolicLink(
                    atPath: inbox + "/hr.csv", withDestinationPath: outside + "/secret.csv")
                try self.editManifest(inbox + "/hr.csv.manifest.json") {
                    $0["sha256"] = SHA256Digest.hex(of: secret)
                    $0["rows"] = secret.withUnsafeBytes { CSVLayout.scan($0).records }
                }
            },
            Case(name: "a manifest that links outside the inbox", refused: true) { _ in
            } after: { inbox, outside in
                try FileIO.write(
                    outside + "/m.json",
                    self.text(["{\"feed\": \"tax\", \"note\": \"\(self.outsideLine) \(self.canaryIDs[0])\"}"]))
                try FileManager.default.removeItem(atPath: inbox + "/tax.csv.manifest.json")
                try FileManager.default.createSymbolicLink(
                    atPath: inbox + "/tax.csv.manifest.json", withDestinationPath: outside + "/m.json")
            },
            Case(name: "a link inside the inbox", refused: true) { _ in
            } after: { inbox, _ in
                try FileManager.default.moveItem(atPath: inbox + "/medical.csv", toPath: inbox + "/.medical-real")
                try FileManager.default.createSymbolicLink(
                    atPath: inbox + "/medical.csv", withDestinationPath: ".medical-real")
            },
            Case(name: "a FIFO and a directory for data files", refused: true) { _ in
            } after: { inbox, _ in
                try FileManager.default.removeItem(atPath: inbox + "/health.csv")
                XCTAssertEqual(mkfifo(inbox + "/health.csv", 0o600), 0)
                try FileManager.default.removeItem(atPath: inbox + "/civil.csv")
                try FileIO.makeDirectory(inbox + "/civil.csv")
            },
            Case(name: "a device for a data file", refused: true) { _ in
            } after: { inbox, _ in
                try FileManager.default.removeItem(atPath: inbox + "/housing.csv")
                // A device node needs root; a link to one is refused as a link otherwise.
                if mknod(inbox + "/housing.csv", S_IFCHR | 0o600, dev_t(1 << 8 | 3)) != 0 {  // 1:3, /dev/null
                    try FileManager.default.createSymbolicLink(
                        atPath: inbox + "/housing.csv", withDestinationPath: "/dev/zero")
                }
            },
        ]
    }

    func editManifest(_ path: String, _ edit: (inout [String: Any]) -> Void) throws {
        var obj = try XCTUnwrap(JSON.parseObject(try FileIO.readAll(path)))
        edit(&obj)
        try FileIO.write(path, Array(try JSONSerialization.data(withJSONObject: obj)))
    }

    // MARK: The search

    /// Every file under `dir`, hidden ones too, with its bytes.
    func everyFile(_ dir: String) throws -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = []
        guard let walker = FileManager.default.enumerator(atPath: dir) else { return out }
        while let rel = walker.nextObject() as? String {
            let path = dir + "/" + rel
            if !FileIO.isDirectory(path) { out.append((rel, try FileIO.readAll(path))) }
        }
        return out
    }

    func contains(_ hay: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, hay.count >= needle.count else { return false }
        return Data(hay).range(of: Data(needle)) != nil
    }

    /// Runs every case at every verbosity and searches what pfp left for canaries.
    /// Returns the places where a canary was found ("case: where: canary").
    func leaks(of cases: [Case]) throws -> [String] {
        let canaries = try canaryBytes()
        var found: [String] = []
        for (k, c) in cases.enumerated() {
            let root = work + "/case-\(k)", inbox = root + "/inbox", outside = root + "/outside-陈丽华",
                state = root + "/state"
            try FileIO.makeDirectory(outside)
            try FileIO.makeDirectory(state)
            var d = baseDelivery()
            try c.build(&d)
            try write(d, to: inbox)
            try c.after(inbox, outside)
            var printed: [(String, [UInt8])] = []
            // Every verbosity, and the JSON log; pfp.prom and the feedback files are searched with the rest.
            for level in [["--quiet"], [], ["--verbose"], ["--log-format", "json"]] {
                let r = try runPFP(
                    [
                        "run", "--run-date", "2026-11-24", "--inbox", inbox, "--out", state + "/published",
                        "--db", state + "/pfp.sqlite", "--metrics-dir", state + "/metrics",
                    ] + level)
                XCTAssertEqual(r.status, c.refused ? 65 : 0, "\(c.name) \(level): \(r.err)")
                if c.refused {
                    XCTAssertTrue(r.err.contains("what to do") || r.err.contains("\"what_to_do\""), "\(c.name): \(r.err)")
                }
                XCTAssertTrue(FileIO.exists(state + "/metrics/pfp.prom"), "\(c.name): no pfp.prom")
                // PFP_SHOW_MESSAGES=1 prints what pfp said of each case, to read the messages.
                if level.isEmpty && ProcessInfo.processInfo.environment["PFP_SHOW_MESSAGES"] != nil {
                    print("== \(c.name)\n\(r.err)")
                }
                printed.append(("stdout \(level)", Array(r.out.utf8)))
                printed.append(("stderr \(level)", Array(r.err.utf8)))
            }
            let runs = try runPFP(["runs", "--db", state + "/pfp.sqlite"])
            printed.append(("pfp runs", Array((runs.out + runs.err).utf8)))
            for (place, bytes) in try printed + everyFile(state) {
                for (canary, needle) in canaries where contains(bytes, needle) {
                    found.append("\(c.name): \(place): \(canary)")
                }
            }
        }
        return found
    }

    func testNoCanaryOfABrokenDeliveryReachesAnythingPfpPrintsOrStores() throws {
        let all = try cases()
        let found = try leaks(of: all)
        XCTAssertEqual(found, [], found.joined(separator: "\n"))
    }

    /// The search itself finds a canary where one is: a run whose population is
    /// the canary people (with a header) publishes their IDs in its lists, and the
    /// database keeps them; the test above would fail on such a leak.
    func testTheSearchFindsACanaryThatIsThere() throws {
        let accepted = Case(name: "canary people accepted", refused: false) {
            $0.files["population.csv"] = (
                "population", self.text([HostileDeliveryTests.popHeader + ",address,phone"] + self.canaryPeople),
                "utf-8"
            )
        }
        let found = try leaks(of: [accepted])
        XCTAssertTrue(
            found.contains { $0.contains("pfp.sqlite") && $0.contains("ID 110105") }, found.joined(separator: "\n"))
    }
}
