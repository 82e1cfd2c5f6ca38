import Foundation
import PFPCore
import PFPSchema

/// The sidecar `<file>.manifest.json` of a delivered file (feeds.md, "A delivery").
public struct DeliveryManifest: Sendable {
    public var feed: String
    public var department: String
    public var asOf: CivilDate
    public var rows: Int
    public var sha256: String
    public var encoding: FeedEncoding

    /// A manifest is a small JSON object; anything larger is not one.
    static let maxBytes = 1 << 20

    /// Parses and checks a manifest; the failure says which field is wrong, never
    /// what it holds (a manifest's fields are delivered text too).
    public static func parse(_ bytes: [UInt8]) -> Result<DeliveryManifest, ManifestProblem> {
        guard let obj = JSON.parseObject(bytes) else {
            return .failure(ManifestProblem("the manifest is not a JSON object"))
        }
        guard let feed = obj["feed"] as? String, !feed.isEmpty else {
            return .failure(ManifestProblem("the manifest has no 'feed'"))
        }
        guard let asOfText = obj["as_of"] as? String, let asOf = CivilDate.parse(asOfText) else {
            return .failure(ManifestProblem("'as_of' is missing or not a real YYYY-MM-DD date"))
        }
        guard let rows = obj["rows"] as? Int, rows >= 0 else {
            return .failure(ManifestProblem("'rows' is missing or not a whole number"))
        }
        guard let sha = (obj["sha256"] as? String)?.lowercased(), sha.count == 64,
            sha.utf8.allSatisfy({
                ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                    || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f"))
            })
        else {
            return .failure(ManifestProblem("'sha256' is missing or not 64 hex digits"))
        }
        guard let encText = obj["encoding"] as? String, let enc = FeedEncoding(manifestValue: encText) else {
            return .failure(ManifestProblem("'encoding' must be utf-8 or gb18030"))
        }
        return .success(
            DeliveryManifest(
                feed: feed, department: obj["department"] as? String ?? "",
                asOf: asOf, rows: rows, sha256: sha, encoding: enc))
    }
}

/// What is wrong with a manifest: which field, never what it holds.
public struct ManifestProblem: Error, Sendable {
    public var message: String
    init(_ message: String) { self.message = message }
}

/// A delivered feed file, read, checked against its manifest and laid out in records.
public final class FeedFile: @unchecked Sendable {
    public let spec: FeedSpec
    /// The file's name as a message may show it (`DeliveryNames.shown`).
    public let shownName: String
    public let manifest: DeliveryManifest
    /// The sha256 of the file's bytes as delivered.
    public let sha256: String
    /// The delivered bytes (mapped) and, for GB18030 files with other than ASCII, the UTF-8 text.
    let mapped: MappedFile
    let converted: [UInt8]?
    /// Bytes of a UTF-8 BOM to skip.
    let textOffset: Int
    public let layout: CSVLayout
    /// The position of each of the contract's columns that the header names.
    public let columns: [String: Int]
    public let sizeBytes: Int

    init(
        spec: FeedSpec, shownName: String, manifest: DeliveryManifest, sha256: String, mapped: MappedFile,
        converted: [UInt8]?, textOffset: Int, layout: CSVLayout, columns: [String: Int]
    ) {
        self.mapped = mapped
        self.converted = converted
        self.textOffset = textOffset
        self.spec = spec
        self.shownName = shownName
        self.manifest = manifest
        self.sha256 = sha256
        self.layout = layout
        self.columns = columns
        self.sizeBytes = mapped.bytes.count
    }

    /// The text's bytes, without a BOM; record offsets of `layout` are relative to it.
    public func withText<T>(_ body: (UnsafeRawBufferPointer) -> T) -> T {
        if let converted { return converted.withUnsafeBytes { body($0) } }
        return body(UnsafeRawBufferPointer(rebasing: mapped.bytes[textOffset...]))
    }

    /// Reads an opened file, computing its sha256 while the text is decoded.
    static func load(
        spec: FeedSpec, file: DeliveredFile, shownName: String, manifest: DeliveryManifest
    ) -> Result<FeedFile, PipelineError> {
        let mapped: MappedFile
        do { mapped = try MappedFile(file: file, location: shownName) } catch let e as PipelineError {
            return .failure(e)
        } catch {
            return .failure(.failure(location: shownName, "cannot read the file"))
        }
        let raw = mapped.bytes
        func broken(
            _ m: String, hint: String = "ask the department to deliver the file and its manifest again"
        ) -> Result<FeedFile, PipelineError> {
            .failure(
                .badInput(stage: "ingest", feed: spec.name, location: shownName, "broken delivery: " + m, hint: hint))
        }
        // Hash on a thread of its own; here, decode and (when the bytes are already
        // UTF-8) find the record boundaries. Not two iterations of one parallel
        // loop: a conversion's own parallel loop nested in one runs on one core.
        nonisolated(unsafe) let whole = raw
        let hashing = Background("pfp-feed-hash") { SHA256Digest.hex(of: whole) }
        var decoded: Result<[UInt8]?, TextDecoding.DecodeFailure> = .success(nil)
        var rawLayout: CSVLayout?
        let bom = TextDecoding.bomLength(raw)
        decode: do {
            let body = UnsafeRawBufferPointer(rebasing: raw[bom...])
            switch manifest.encoding {
            case .utf8:
                if let bad = TextDecoding.firstInvalidUTF8(body) {
                    decoded = .failure(.init(offset: bad + bom)); break decode
                }
            case .gb18030:
                if !TextDecoding.isASCII(body) {
                    // The population's non-ASCII text is its names (and any extra
                    // column), which nothing reads: every column it reads is matched
                    // against ASCII words, digits and codes, and a comma, quote or
                    // line feed is never inside a GB18030 character. So its bytes are
                    // parsed as they are, once iconv has taken them all, with the
                    // same verdict on every field. (At city scale the UTF-8 would be
                    // gigabytes written for nothing.) A header with other
                    // characters, and tag rows (whose values the catalogue's words
                    // may name), are converted.
                    if spec.shape == .population {
                        let layout = CSVLayout.scan(body)
                        if TextDecoding.isASCII(UnsafeRawBufferPointer(rebasing: body[..<layout.headerEnd])) {
                            if let bad = TextDecoding.firstInvalidGB18030(body) {
                                decoded = .failure(.init(offset: bad + bom))
                            }
                            rawLayout = layout
                            break decode
                        }
                    }
                    decoded = TextDecoding.gb18030ToUTF8(body).map { Optional($0) }.mapError {
                        TextDecoding.DecodeFailure(offset: $0.offset + bom)
                    }
                    break decode
                }
            // ASCII: the same bytes in UTF-8
            }
            rawLayout = CSVLayout.scan(body)
        }
        let digest = (try? hashing.value()) ?? ""  // it cannot fail: "" would mismatch the manifest
        if digest != manifest.sha256 {
            return broken(
                "the file's sha256 is \(digest.prefix(12))…, the manifest says \(manifest.sha256.prefix(12))… (a "
                    + "partial or replaced file)"
            )
        }
        let converted: [UInt8]?
        switch decoded {
        case .failure(let f):
            let line = raw.prefix(f.offset).reduce(1) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
            return broken(
                "the bytes at line \(line) are not valid \(manifest.encoding.rawValue), the encoding the "
                    + "manifest declares",
                hint: "check the manifest's 'encoding' (utf-8 or gb18030) and ask the department to deliver again")
        case .success(let out):
            converted = out
        }
        let textOffset = converted == nil ? bom : 0
        let layout =
            converted.map { c in c.withUnsafeBytes { CSVLayout.scan($0) } } ?? rawLayout
            ?? CSVLayout.scan(UnsafeRawBufferPointer(rebasing: raw[bom...]))
        // The first line is judged in the contract's terms: it may be a resident's row.
        let columns: [String: Int]
        switch HeaderCheck.positions(
            header: layout.header, wellFormed: layout.headerWellFormed, shape: spec.shape, feed: spec.name)
        {
        case .failure(let problem):
            return broken(
                problem.message,
                hint: "ask the department to deliver the file again with its header row, "
                    + "and check that the manifest belongs to this file")
        case .success(let found):
            columns = found
        }
        let file = FeedFile(
            spec: spec, shownName: shownName, manifest: manifest, sha256: digest, mapped: mapped, converted: converted,
            textOffset: textOffset, layout: layout, columns: columns)
        // Checked: the pages are read again when the feed is parsed, one feed at a time.
        mapped.dropResidentPages()
        if layout.records != manifest.rows {
            return broken(
                "the file holds \(layout.records) records, the manifest says \(manifest.rows)",
                hint: "a file cut short or a manifest from another delivery; ask the department to deliver again")
        }
        return .success(file)
    }
}

/// What happened to each configured feed of a delivery.
public struct FeedReport: Sendable {
    public enum Status: String, Sendable {
        case ok
        case missing
        case stale
        case broken
        /// Missing, stale or broken, but the operator allowed the run to go on without it.
        case allowedMissing = "allowed_missing"
    }
    public var feed: String
    public var required: Bool
    public var status: Status
    public var message: String?
    public var file: String?
    public var asOf: CivilDate?
    public var sha256: String?
    public var bytes: Int = 0
    public var rowsRead: Int = 0
    public var accepted: Int = 0
    public var rejected: Int = 0
    public var rejectCounts: [RejectReason: Int] = [:]
    public var conflicts: Int = 0
    public var warnings: [String: Int] = [:]

    /// Whether the feed's rows are used in this run.
    public var used: Bool { status == .ok }

    public init(feed: String, required: Bool, status: Status) {
        self.feed = feed
        self.required = required
        self.status = status
    }
}

/// How the files of a delivery are named in messages: by their names when those are
/// made of the contract's words (`population.csv`, `hr_20261123.csv.manifest.json`),
/// otherwise by inode, since a file name is delivered text and may be personal data.
struct DeliveryNames {
    let words: ContractWords
    /// The configured feeds' names, for "did you mean" on a manifest's `feed`.
    let feeds: ContractWords

    init(config: PipelineConfig) {
        words = ContractWords(config.feeds.map(\.name) + HeaderCheck.shapes.flatMap(HeaderCheck.columns(of:)))
        feeds = ContractWords(config.feeds.map(\.name))
    }

    /// The name when it may be shown, else nil.
    func shownIfSafe(_ entry: InboxDirectory.Entry) -> String? { words.fileName(entry.text) }

    /// The name, or the inode that finds the file (`ls -i`) when the name is withheld.
    func shown(_ entry: InboxDirectory.Entry) -> String {
        shownIfSafe(entry) ?? "the file with inode \(entry.inode) (name withheld)"
    }

    /// What a message may say of a manifest's `feed` that no configured feed has.
    func unknownFeed(_ feed: String) -> String {
        if let word = feeds.canonical(feed) ?? feeds.nearMiss(feed) {
            return "feed '\(feed)', which this pipeline does not know (did you mean \(word)?)"
        }
        return "a feed this pipeline does not know (not shown: it is not a configured feed's name)"
    }
}

/// A feed's file as the inbox lists it, with its manifest.
struct DeliveredFeedFile {
    var data: InboxDirectory.Entry
    var manifest: DeliveryManifest
}

/// Finds each feed's file and manifest in an inbox and decides, for each, whether the run can use it.
///
/// Every file is opened once, through the inbox's descriptor, without following a
/// symbolic link (`InboxDirectory`); every message names files and columns only as
/// `DeliveryNames` and `HeaderCheck` allow, never quoting delivered bytes.
public struct DeliveryCheck {
    public var reports: [String: FeedReport] = [:]
    public var problems: [PipelineError] = []

    /// `decided` is called as each configured feed's check ends, in the configuration's
    /// order, with its file when the run can use it (the caller parses it and lets it
    /// go) and whether the delivery is already refused.
    public static func run(
        inbox: String, config: PipelineConfig, catalogue: TagCatalogue, runDate: CivilDate,
        allowMissing: Set<String>, console: Console,
        decided: (String, FeedFile?, Bool) -> Void
    ) throws -> DeliveryCheck {
        let directory = try InboxDirectory(path: inbox)
        for name in allowMissing where config.feed(name) == nil {
            throw PipelineError.usage(
                "--allow-missing \(name): no such feed; feeds are \(config.feeds.map(\.name).joined(separator: ", "))")
        }
        if allowMissing.contains(config.populationFeed.name) {
            throw PipelineError.usage(
                "--allow-missing \(config.populationFeed.name): the population feed defines the households and "
                    + "cannot be missing"
            )
        }
        var check = DeliveryCheck()
        let names = DeliveryNames(config: config)
        let entries = try directory.entries()
        let found = check.readManifests(entries, directory: directory, names: names, config: config, console: console)
        let suffix = Array(".manifest.json".utf8)
        // A file beside a manifest, used or not, has one; a file with none is ignored.
        let sidecars = Set(entries.filter { $0.name.ends(with: suffix) }.map { Array($0.name.dropLast(suffix.count)) })
        for entry in entries
        where !entry.name.ends(with: suffix) && !sidecars.contains(entry.name) && entry.name.first != UInt8(ascii: ".")
        {
            console.warn("\(names.shown(entry)) in the inbox has no manifest; ignored")
        }
        // Each feed's data file opened once, here; parts of them the page cache lost
        // are read back ahead of the check.
        var opened: [String: Result<DeliveredFile, InboxFileProblem>] = [:]
        for spec in config.feeds {
            if let only = found[spec.name], only.count == 1 { opened[spec.name] = directory.open(only[0].data.name) }
        }
        PageCacheWarmer.start(config.feeds.compactMap { try? opened[$0.name]?.get() })
        for spec in config.feeds {
            var report = FeedReport(feed: spec.name, required: spec.required, status: .ok)
            let outcome = check.use(
                spec, candidates: found[spec.name] ?? [], opened: opened[spec.name], names: names, runDate: runDate,
                console: console, report: &report)
            opened[spec.name] = nil
            if case .failure(let refusal) = outcome {
                check.settle(refusal, of: spec, allowMissing: allowMissing, console: console, report: &report)
            }
            check.reports[spec.name] = report
            decided(spec.name, try? outcome.get(), !check.problems.isEmpty)
        }
        return check
    }

    /// A feed's file, when exactly one manifest names it and its data file opened,
    /// judged; the report gets what is known of it on the way.
    private func use(
        _ spec: FeedSpec, candidates: [DeliveredFeedFile], opened: Result<DeliveredFile, InboxFileProblem>?,
        names: DeliveryNames, runDate: CivilDate, console: Console, report: inout FeedReport
    ) -> Result<FeedFile, FeedRefusal> {
        func refuse(
            _ status: FeedReport.Status, at file: String? = nil, _ message: String, hint: String
        )
            -> Result<FeedFile, FeedRefusal>
        {
            let error = PipelineError.badInput(stage: "ingest", feed: spec.name, location: file, message, hint: hint)
            return .failure(FeedRefusal(status, error))
        }
        guard let candidate = candidates.first else {
            return refuse(
                .missing, "missing: no file in the inbox has a manifest naming this feed",
                hint: "wait for the delivery, or run with --allow-missing \(spec.name) to go on without it")
        }
        guard candidates.count == 1 else {
            let list = candidates.map { names.shown($0.data) }.joined(separator: ", ")
            return refuse(
                .broken, "broken delivery: two files of this feed in one inbox (\(list))",
                hint: "remove the file that should not be there, or ask the department which one is right")
        }
        report.file = names.shownIfSafe(candidate.data)
        report.asOf = candidate.manifest.asOf
        let shown = names.shown(candidate.data)
        switch opened {
        case .success(let file)?:
            let judged = judge(
                spec, file: file, shownName: shown, manifest: candidate.manifest, runDate: runDate, console: console)
            if case .success(let f) = judged {
                report.sha256 = f.sha256
                report.bytes = f.sizeBytes
                report.rowsRead = f.layout.records
            }
            return judged
        case .failure(.missing)?, nil:
            return refuse(
                .missing, at: shown, "missing: the manifest is there but the data file is not",
                hint: "wait for the delivery to finish, or run with --allow-missing \(spec.name)")
        case .failure(let problem)?:
            return refuse(
                .broken, at: shown, "broken delivery: the data file is refused: \(problem)",
                hint: "ask the department to deliver the file itself into the inbox (a regular file, not a link)")
        }
    }

    /// What a feed that cannot be used means for the run: allowed missing (the
    /// operator said so), ignored with a warning (an optional feed missing or
    /// stale), or a problem that refuses the delivery.
    private mutating func settle(
        _ refusal: FeedRefusal, of spec: FeedSpec, allowMissing: Set<String>, console: Console, report: inout FeedReport
    ) {
        let message = refusal.error.message
        report.message = message
        if allowMissing.contains(spec.name) {
            report.status = .allowedMissing
            console.warn("feed \(spec.name): \(message); going on without it (--allow-missing)")
        } else if !spec.required && refusal.status != .broken {
            report.status = refusal.status
            let meaning =
                spec.shape == .outreach
                ? "there are no outreach events: no push entry is held back" : "its tags are absent for everyone"
            console.warn("optional feed \(spec.name): \(message); \(meaning)")
        } else {
            report.status = refusal.status
            problems.append(refusal.error)
        }
    }

    /// Every manifest of the inbox read and checked, by the feed it names; a
    /// manifest that cannot be used is a problem of the delivery.
    private mutating func readManifests(
        _ entries: [InboxDirectory.Entry], directory: InboxDirectory, names: DeliveryNames,
        config: PipelineConfig, console: Console
    ) -> [String: [DeliveredFeedFile]] {
        let suffix = Array(".manifest.json".utf8)
        var found: [String: [DeliveredFeedFile]] = [:]
        for entry in entries where entry.name.ends(with: suffix) {
            let shown = names.shown(entry)
            func refuse(
                _ message: String, _ hint: String = "ask the department to deliver the file and its manifest again"
            ) {
                problems.append(.badInput(stage: "ingest", location: shown, message, hint: hint))
            }
            let bytes: [UInt8]?
            switch directory.open(entry.name) {
            case .failure(let problem):
                refuse(
                    "the manifest is refused: \(problem)",
                    "ask the department to deliver the manifest itself into the inbox (a regular file, not a link)")
                continue
            case .success(let file):
                do { bytes = try file.readAll(limit: DeliveryManifest.maxBytes) } catch {
                    refuse("the manifest cannot be read")
                    continue
                }
            }
            guard let bytes else {
                refuse(
                    "the manifest is larger than \(DeliveryManifest.maxBytes >> 20) MiB: a manifest is a small "
                        + "JSON object"
                )
                continue
            }
            switch DeliveryManifest.parse(bytes) {
            case .failure(let problem):
                refuse(problem.message)
            case .success(let m):
                guard config.feed(m.feed) != nil else {
                    console.warn("\(shown) names \(names.unknownFeed(m.feed)); ignored")
                    continue
                }
                let data = InboxDirectory.Entry(name: Array(entry.name.dropLast(suffix.count)), inode: 0)
                found[m.feed, default: []].append(
                    DeliveredFeedFile(
                        data: entries.first(where: { $0.name == data.name }) ?? data, manifest: m))
            }
        }
        return found
    }

    /// A feed's opened file judged: its age against the run date, then its bytes
    /// against the manifest and the contract.
    private func judge(
        _ spec: FeedSpec, file: DeliveredFile, shownName: String, manifest: DeliveryManifest, runDate: CivilDate,
        console: Console
    ) -> Result<FeedFile, FeedRefusal> {
        let age = Int(runDate.days - manifest.asOf.days)
        if age > spec.maxAgeDays {
            return .failure(
                FeedRefusal(
                    .stale,
                    .badInput(
                        stage: "ingest", feed: spec.name,
                        "stale: as_of \(manifest.asOf) is \(age) days before the run date \(runDate) (the limit "
                            + "is \(spec.maxAgeDays))",
                        hint: "ask the department for a current delivery, or run with --allow-missing \(spec.name)")))
        }
        if age < 0 {
            return .failure(
                FeedRefusal(
                    .broken,
                    .badInput(
                        stage: "ingest", feed: spec.name,
                        "broken delivery: as_of \(manifest.asOf) is after the run date \(runDate)",
                        hint: "check --run-date, or ask the department to correct the manifest")))
        }
        let started = FileIO.now()
        defer {
            console.detail(
                "    \(spec.name): read, hashed and checked in \(String(format: "%.2f", FileIO.now() - started)) s")
        }
        return FeedFile.load(spec: spec, file: file, shownName: shownName, manifest: manifest).mapError {
            FeedRefusal(.broken, $0)
        }
    }
}

/// Why a feed's file cannot be used: the feed's status and the error to report.
struct FeedRefusal: Error {
    var status: FeedReport.Status
    var error: PipelineError
    init(_ status: FeedReport.Status, _ error: PipelineError) {
        self.status = status
        self.error = error
    }
}

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && self[(count - suffix.count)...].elementsEqual(suffix)
    }
}

extension FeedReport {
    /// The feed's counts as the manifest's inputs and the JSON log's feed events
    /// give them: rows read, accepted, rejected, conflicts, rejects by reason.
    public var counts: [(String, JSON)] {
        [
            ("rows_read", .int(rowsRead)), ("accepted", .int(accepted)), ("rejected", .int(rejected)),
            ("conflicts", .int(conflicts)),
            (
                "rejects_by_reason",
                .object(rejectCounts.sorted { $0.key < $1.key }.map { ($0.key.code, .int($0.value)) })
            ),
        ]
    }

    /// The report as the run registry keeps it.
    public var record: RunRegistry.FeedRecord {
        var r = RunRegistry.FeedRecord(feed: feed, required: required, status: status.rawValue)
        r.file = file
        r.asOf = asOf
        r.sha256 = sha256
        r.bytes = bytes; r.rowsRead = rowsRead; r.accepted = accepted; r.rejected = rejected; r.conflicts = conflicts
        r.message = message
        r.rejectCounts = Dictionary(uniqueKeysWithValues: rejectCounts.map { ($0.key.code, $0.value) })
        return r
    }

    /// A report read back from the run registry.
    public init(record r: RunRegistry.FeedRecord) {
        self.init(feed: r.feed, required: r.required, status: Status(rawValue: r.status) ?? .ok)
        file = r.file
        asOf = r.asOf
        sha256 = r.sha256
        bytes = r.bytes; rowsRead = r.rowsRead; accepted = r.accepted; rejected = r.rejected; conflicts = r.conflicts
        message = r.message
        rejectCounts = Dictionary(
            uniqueKeysWithValues: r.rejectCounts.compactMap { k, v in RejectReason(spelling: k).map { ($0, v) } })
    }
}
