import Foundation
import PFPCore

/// The sidecar `<file>.manifest.json` of a delivered file (feeds.md, "A delivery").
public struct DeliveryManifest: Sendable {
    public var feed: String
    public var department: String
    public var asOf: CivilDate
    public var rows: Int
    public var sha256: String
    public var encoding: FeedEncoding

    /// Reads and checks a manifest; the error says which field is wrong.
    public static func read(_ path: String) -> Result<DeliveryManifest, PipelineError> {
        let name = (path as NSString).lastPathComponent
        guard let bytes = try? FileIO.readAll(path), let obj = JSON.parseObject(bytes) else {
            return .failure(.badInput(location: name, "the manifest is not a JSON object",
                                      hint: "ask the department to deliver the manifest again"))
        }
        func bad(_ m: String) -> Result<DeliveryManifest, PipelineError> {
            .failure(.badInput(feed: obj["feed"] as? String, location: name, m, hint: "ask the department to deliver the file and its manifest again"))
        }
        guard let feed = obj["feed"] as? String, !feed.isEmpty else { return bad("the manifest has no 'feed'") }
        guard let asOfText = obj["as_of"] as? String, let asOf = CivilDate.parse(asOfText) else {
            return bad("'as_of' is missing or not a real YYYY-MM-DD date")
        }
        guard let rows = obj["rows"] as? Int, rows >= 0 else {
            return bad("'rows' is missing or not a whole number")
        }
        guard let sha = (obj["sha256"] as? String)?.lowercased(), sha.count == 64,
              sha.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
            return bad("'sha256' is missing or not 64 hex digits")
        }
        guard let encText = obj["encoding"] as? String, let enc = FeedEncoding(manifestValue: encText) else {
            return bad("'encoding' must be utf-8 or gb18030")
        }
        return .success(DeliveryManifest(feed: feed, department: obj["department"] as? String ?? "",
                                         asOf: asOf, rows: rows, sha256: sha, encoding: enc))
    }
}

/// A delivered feed file, read, checked against its manifest and laid out in records.
public final class FeedFile: @unchecked Sendable {
    public let spec: FeedSpec
    public let path: String
    public let manifest: DeliveryManifest
    /// The sha256 of the file's bytes as delivered.
    public let sha256: String
    /// The delivered bytes (mapped) and, for GB18030 files with other than ASCII, the UTF-8 text.
    let mapped: MappedFile
    let converted: [UInt8]?
    /// Bytes of a UTF-8 BOM to skip.
    let textOffset: Int
    public let layout: CSVLayout
    public let sizeBytes: Int

    init(spec: FeedSpec, path: String, manifest: DeliveryManifest, sha256: String, mapped: MappedFile, converted: [UInt8]?,
         textOffset: Int, layout: CSVLayout, size: Int) {
        self.mapped = mapped
        self.converted = converted
        self.textOffset = textOffset
        self.spec = spec
        self.path = path
        self.manifest = manifest
        self.sha256 = sha256
        self.layout = layout
        self.sizeBytes = size
    }

    public var fileName: String { (path as NSString).lastPathComponent }

    /// The text's bytes, without a BOM; record offsets of `layout` are relative to it.
    public func withText<T>(_ body: (UnsafeRawBufferPointer) -> T) -> T {
        if let converted { return converted.withUnsafeBytes { body($0) } }
        return body(UnsafeRawBufferPointer(rebasing: mapped.bytes[textOffset...]))
    }

    /// Column positions by name; a duplicate name is an error, a missing one is reported by the caller.
    public func columns() -> Result<[String: Int], HeaderProblem> {
        var m: [String: Int] = [:]
        for (i, h) in layout.header.enumerated() {
            if m[h] != nil { return .failure(HeaderProblem(message: "the header names column '\(h)' twice")) }
            m[h] = i
        }
        return .success(m)
    }

    /// Reads a file, computing its sha256 while the text is decoded.
    static func load(spec: FeedSpec, path: String, manifest: DeliveryManifest, required columns: [String]) -> Result<FeedFile, PipelineError> {
        let mapped: MappedFile
        do { mapped = try MappedFile(path: path) } catch let e as PipelineError { return .failure(e) } catch {
            return .failure(.failure(location: path, "cannot read the file"))
        }
        let raw = mapped.bytes
        func broken(_ m: String, hint: String = "ask the department to deliver the file and its manifest again") -> Result<FeedFile, PipelineError> {
            .failure(.badInput(stage: "ingest", feed: spec.name, location: (path as NSString).lastPathComponent, "broken delivery: " + m, hint: hint))
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
                if let bad = TextDecoding.firstInvalidUTF8(body) { decoded = .failure(.init(offset: bad + bom)); break decode }
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
                            if let bad = TextDecoding.firstInvalidGB18030(body) { decoded = .failure(.init(offset: bad + bom)) }
                            rawLayout = layout
                            break decode
                        }
                    }
                    decoded = TextDecoding.gb18030ToUTF8(body).map { Optional($0) }.mapError { TextDecoding.DecodeFailure(offset: $0.offset + bom) }
                    break decode
                }
                // ASCII: the same bytes in UTF-8
            }
            rawLayout = CSVLayout.scan(body)
        }
        let digest = (try? hashing.value()) ?? ""   // it cannot fail: "" would mismatch the manifest
        if digest != manifest.sha256 {
            return broken("the file's sha256 is \(digest.prefix(12))…, the manifest says \(manifest.sha256.prefix(12))… (a partial or replaced file)")
        }
        let converted: [UInt8]?
        switch decoded {
        case .failure(let f):
            let line = raw.prefix(f.offset).reduce(1) { $0 + ($1 == 10 ? 1 : 0) }
            return broken("the bytes at line \(line) are not valid \(manifest.encoding.rawValue), the encoding the manifest declares",
                          hint: "check the manifest's 'encoding' (utf-8 or gb18030) and ask the department to deliver again")
        case .success(let out):
            converted = out
        }
        let textOffset = converted == nil ? bom : 0
        let layout = converted.map { c in c.withUnsafeBytes { CSVLayout.scan($0) } } ?? rawLayout ?? CSVLayout.scan(UnsafeRawBufferPointer(rebasing: raw[bom...]))
        let file = FeedFile(spec: spec, path: path, manifest: manifest, sha256: digest, mapped: mapped, converted: converted,
                            textOffset: textOffset, layout: layout, size: raw.count)
        // Checked: the pages are read again when the feed is parsed, one feed at a time.
        mapped.dropResidentPages()
        switch file.columns() {
        case .failure(let m): return broken(m.message)
        case .success(let cols):
            let missing = columns.filter { cols[$0] == nil }
            if !missing.isEmpty {
                return broken("the header lacks column(s) \(missing.joined(separator: ", ")) (header: \(layout.header.joined(separator: ",").prefix(200)))")
            }
        }
        if layout.records != manifest.rows {
            return broken("the file holds \(layout.records) records, the manifest says \(manifest.rows)",
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

/// Finds each feed's file and manifest in an inbox and decides, for each, whether the run can use it.
public struct DeliveryCheck {
    public var reports: [String: FeedReport] = [:]
    public var problems: [PipelineError] = []

    /// `decided` is called as each configured feed's check ends, in the configuration's
    /// order, with its file when the run can use it (the caller parses it and lets it
    /// go) and whether the delivery is already refused.
    public static func run(inbox: String, config: PipelineConfig, catalogue: TagCatalogue, runDate: CivilDate,
                           allowMissing: Set<String>, console: Console,
                           decided: (String, FeedFile?, Bool) -> Void) throws -> DeliveryCheck {
        guard FileIO.isDirectory(inbox) else {
            throw PipelineError.badInput(stage: "ingest", location: inbox, "the inbox directory does not exist",
                                         hint: "check --inbox or the 'inbox' setting, and that the delivery for this run date has arrived")
        }
        for name in allowMissing where config.feed(name) == nil {
            throw PipelineError.usage("--allow-missing \(name): no such feed; feeds are \(config.feeds.map(\.name).joined(separator: ", "))")
        }
        if allowMissing.contains(config.populationFeed.name) {
            throw PipelineError.usage("--allow-missing \(config.populationFeed.name): the population feed defines the households and cannot be missing")
        }
        var check = DeliveryCheck()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: inbox).sorted()) ?? []
        var found: [String: [(path: String, manifest: DeliveryManifest)]] = [:]
        for name in entries where name.hasSuffix(".manifest.json") {
            let mpath = (inbox as NSString).appendingPathComponent(name)
            let dataPath = String(mpath.dropLast(".manifest.json".count))
            switch DeliveryManifest.read(mpath) {
            case .failure(let e):
                check.problems.append(PipelineError.badInput(stage: "ingest", feed: e.feed, location: name, e.message, hint: e.hint))
            case .success(let m):
                guard config.feed(m.feed) != nil else {
                    console.warn("\(name) names feed '\(m.feed)', which this pipeline does not know; ignored")
                    continue
                }
                found[m.feed, default: []].append((dataPath, m))
            }
        }
        let dataFiles = Set(found.values.flatMap { $0.map { ($0.path as NSString).lastPathComponent } })
        for name in entries where !name.hasSuffix(".manifest.json") && !dataFiles.contains(name) && !name.hasPrefix(".") {
            console.warn("\(name) in the inbox has no manifest; ignored")
        }
        // Parts of the files the page cache lost are read back ahead of the check.
        PageCacheWarmer.start(config.feeds.compactMap { spec in found[spec.name].flatMap { $0.count == 1 ? $0[0].path : nil } })
        for spec in config.feeds {
            var report = FeedReport(feed: spec.name, required: spec.required, status: .ok)
            let allowed = allowMissing.contains(spec.name)
            let candidates = found[spec.name] ?? []
            var failure: (FeedReport.Status, PipelineError)?
            var loaded: FeedFile?
            if candidates.isEmpty {
                failure = (.missing, .badInput(stage: "ingest", feed: spec.name, "missing: no file in the inbox has a manifest naming this feed",
                                               hint: "wait for the delivery, or run with --allow-missing \(spec.name) to go on without it"))
            } else if candidates.count > 1 {
                let names = candidates.map { ($0.path as NSString).lastPathComponent }.joined(separator: ", ")
                failure = (.broken, .badInput(stage: "ingest", feed: spec.name, "broken delivery: two files of this feed in one inbox (\(names))",
                                              hint: "remove the file that should not be there, or ask the department which one is right"))
            } else {
                let (path, manifest) = candidates[0]
                report.file = (path as NSString).lastPathComponent
                report.asOf = manifest.asOf
                let age = Int(runDate.days - manifest.asOf.days)
                if !FileIO.exists(path) {
                    failure = (.missing, .badInput(stage: "ingest", feed: spec.name, location: report.file, "missing: the manifest is there but the data file is not",
                                                   hint: "wait for the delivery to finish, or run with --allow-missing \(spec.name)"))
                } else if age > spec.maxAgeDays {
                    failure = (.stale, .badInput(stage: "ingest", feed: spec.name, "stale: as_of \(manifest.asOf) is \(age) days before the run date \(runDate) (the limit is \(spec.maxAgeDays))",
                                                 hint: "ask the department for a current delivery, or run with --allow-missing \(spec.name)"))
                } else if age < 0 {
                    failure = (.broken, .badInput(stage: "ingest", feed: spec.name, "broken delivery: as_of \(manifest.asOf) is after the run date \(runDate)",
                                                  hint: "check --run-date, or ask the department to correct the manifest"))
                } else {
                    let columns = spec.shape == .population ? PopulationColumns.required : TagColumns.required
                    let tLoad = FileIO.now()
                    defer { console.detail("    \(spec.name): read, hashed and checked in \(String(format: "%.2f", FileIO.now() - tLoad)) s") }
                    switch FeedFile.load(spec: spec, path: path, manifest: manifest, required: columns) {
                    case .success(let f):
                        loaded = f
                        report.sha256 = f.sha256
                        report.bytes = f.sizeBytes
                        report.rowsRead = f.layout.records
                    case .failure(let e):
                        failure = (.broken, e)
                    }
                }
            }
            if let (status, error) = failure {
                if allowed {
                    report.status = .allowedMissing
                    report.message = error.message
                    console.warn("feed \(spec.name): \(error.message); going on without it (--allow-missing)")
                } else if !spec.required && status != .broken {
                    report.status = status
                    report.message = error.message
                    console.warn("optional feed \(spec.name): \(error.message); its tags are absent for everyone")
                } else {
                    report.status = status
                    report.message = error.message
                    check.problems.append(error)
                }
            }
            check.reports[spec.name] = report
            decided(spec.name, loaded, !check.problems.isEmpty)
        }
        return check
    }
}

public struct HeaderProblem: Error, Sendable { public var message: String }
