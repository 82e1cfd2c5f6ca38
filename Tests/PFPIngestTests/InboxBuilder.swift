import Foundation
import XCTest
import PFPTestSupport
@testable import PFPCore
import PFPSchema
@testable import PFPIngest

func pipelineConfig() throws -> PipelineConfig {
    try PipelineConfig(path: repoRoot + "/Pipelines/nightly.conf")
}

/// Writes a delivery into a temporary inbox: every configured feed with a
/// header, the rows given, and a manifest that tells the truth unless asked not to.
final class InboxBuilder {
    let dir: String
    var asOf = "2026-11-23"
    var files: [String: (header: String, rows: [String])] = [:]
    var encoding: [String: FeedEncoding] = [:]
    var bom: Set<String> = []
    var crlf: Set<String> = []
    var manifestRows: [String: Int] = [:]
    var manifestSHA: [String: String] = [:]
    var manifestAsOf: [String: String] = [:]
    var omit: Set<String> = []

    static let popHeader = "household_id,id_number,name,sex,birth_date,relation,hukou,district,street,community"

    init() {
        dir = NSTemporaryDirectory() + "pfp-inbox-\(UUID().uuidString)"
        try? FileIO.makeDirectory(dir)
        files["population"] = (InboxBuilder.popHeader, [])
        for f in [
            "hr", "tax", "medical", "disability", "health", "civil", "education", "housing", "verification",
            "utilities", "community",
        ] {
            files[f] = ("id_number,tag,value,as_of", [])
        }
    }

    deinit { try? FileIO.remove(dir) }

    /// A population row: household, ID, sex, birth date, relation, hukou and codes.
    func person(
        _ hh: String, _ id: String, sex: String? = nil, birth: String? = nil, relation: String = "head",
        hukou: String = "local", district: String = "310101", street: String = "310101001",
        community: String = "310101001001"
    ) {
        var b = birth ?? ""
        var s = sex ?? ""
        if birth == nil || sex == nil, case .valid(let parsed, _) = IDNumber.parse(id) {
            if birth == nil { b = parsed.birthDate!.description }
            if sex == nil { s = parsed.isMale ? "M" : "F" }
        }
        files["population"]!.rows.append(
            "\(hh),\(id),Name,\(s),\(b),\(relation),\(hukou),\(district),\(street),\(community)")
    }

    func tag(_ feed: String, _ id: String, _ tag: String, _ value: String, asOf: String = "2026-11-20") {
        files[feed]!.rows.append("\(id),\(tag),\(value),\(asOf)")
    }

    func raw(_ feed: String, _ line: String) { files[feed]!.rows.append(line) }

    /// Writes the files and manifests.
    @discardableResult
    func write() throws -> String {
        for (feed, content) in files where !omit.contains(feed) {
            let eol = crlf.contains(feed) ? "\r\n" : "\n"
            var text = content.header + eol
            for r in content.rows { text += r + eol }
            var bytes: [UInt8]
            let enc = encoding[feed] ?? .utf8
            if enc == .gb18030 {
                bytes = try gb18030(text)
            } else {
                bytes = Array(text.utf8)
                if bom.contains(feed) { bytes = [0xEF, 0xBB, 0xBF] + bytes }
            }
            let path = dir + "/\(feed).csv"
            try FileIO.write(path, bytes)
            let sha = manifestSHA[feed] ?? SHA256Digest.hex(of: bytes)
            let rows =
                manifestRows[feed]
                ?? bytes.withUnsafeBytes {
                    CSVLayout.scan(UnsafeRawBufferPointer(rebasing: $0[TextDecoding.bomLength($0)...])).records
                }
            let m = JSON.object([
                ("feed", .string(feed)), ("department", .string("test")),
                ("as_of", .string(manifestAsOf[feed] ?? asOf)),
                ("rows", .int(rows)), ("sha256", .string(sha)), ("encoding", .string(enc.rawValue)),
            ])
            try FileIO.write(path + ".manifest.json", Array(m.serialized(pretty: true).utf8))
        }
        return dir
    }

    func gb18030(_ s: String) throws -> [UInt8] { try PFPTestSupport.gb18030(s) }

    /// Runs the ingest stage on this inbox.
    func ingest(
        runDate: String = "2026-11-24", allowMissing: Set<String> = [], console: Console = Console(level: .quiet)
    ) throws -> IngestOutcome {
        try write()
        let config = try pipelineConfig()
        let (cat, _) = try config.loadCatalogue()
        return try IngestStage(config: config, catalogue: cat, console: console)
            .run(inbox: dir, runDate: CivilDate.parse(runDate)!, allowMissing: allowMissing)
    }
}

extension IngestOutcome {
    /// (feed, line, reason code) of every reject.
    var rejectTriples: [String] { rejects.map { "\($0.feed):\($0.reject.line):\($0.reject.reason.code)" } }

    func value(_ tag: String, of id: String) -> (value: Int64, conflict: Bool, asOf: String)? {
        guard case .valid(let parsed, _) = IDNumber.parse(id),
            let p = result.personID.firstIndex(of: parsed.key)
        else { return nil }
        let config = try! pipelineConfig()
        let (cat, _) = try! config.loadCatalogue()
        let t = result.tags[cat.index(of: tag)!]
        guard let i = t.find(Int32(p)) else { return nil }
        return (t.value[i], t.conflict[i] != 0, CivilDate(days: t.asOf[i]).description)
    }
}

func loadCatalogues() throws -> (TagCatalogue, PolicyCatalogue) {
    try pipelineConfig().loadCatalogue()
}
