import Foundation
import PFPCore

/// `pfp sample`: writes consecutive synthetic deliveries (one inbox per day) that
/// follow shared/spec/feeds.md, dirty input included, at any scale.
package struct SampleGenerator {
    package struct Settings: Sendable {
        package var households: Int
        package var seed: UInt64
        package var firstRunDate: CivilDate
        package var days: Int
        package var outDirectory: String
        package init(households: Int, seed: UInt64, firstRunDate: CivilDate, days: Int, outDirectory: String) {
            self.households = households
            self.seed = seed
            self.firstRunDate = firstRunDate
            self.days = days
            self.outDirectory = outDirectory
        }
    }

    /// How each department writes its file: the variety real deliveries show.
    struct Format {
        var feed: String
        var department: String
        var encoding: FeedEncoding
        var bom: Bool
        var crlf: Bool
        var columns: [String]
    }

    static let tagColumns = ["id_number", "tag", "value", "as_of"]
    static let formats: [Format] = [
        Format(
            feed: "population", department: "public-security", encoding: .gb18030, bom: false, crlf: true,
            columns: [
                "household_id", "note", "id_number", "name", "sex", "birth_date", "relation", "hukou", "district",
                "street", "community",
            ]),
        Format(
            feed: "hr", department: "human-resources-social-security", encoding: .utf8, bom: true, crlf: false,
            columns: ["value", "source", "id_number", "as_of", "tag"]),
        Format(feed: "tax", department: "tax-bureau", encoding: .utf8, bom: false, crlf: true, columns: tagColumns),
        Format(
            feed: "medical", department: "medical-insurance-bureau", encoding: .utf8, bom: false, crlf: true,
            columns: tagColumns),
        Format(
            feed: "disability", department: "disabled-persons-federation", encoding: .utf8, bom: false, crlf: false,
            columns: tagColumns),
        Format(
            feed: "health", department: "health-commission", encoding: .utf8, bom: true, crlf: true, columns: tagColumns
        ),
        Format(
            feed: "civil", department: "civil-affairs", encoding: .gb18030, bom: false, crlf: false, columns: tagColumns
        ),
        Format(
            feed: "education", department: "education-commission", encoding: .utf8, bom: false, crlf: false,
            columns: tagColumns),
        Format(
            feed: "housing", department: "housing-authority", encoding: .utf8, bom: false, crlf: false,
            columns: tagColumns),
        Format(
            feed: "verification", department: "economic-status-verification-centre", encoding: .utf8, bom: false,
            crlf: false, columns: tagColumns),
        Format(
            feed: "utilities", department: "utilities", encoding: .utf8, bom: false, crlf: false, columns: tagColumns),
        Format(
            feed: "community", department: "community", encoding: .utf8, bom: false, crlf: false,
            columns: ["id_number", "tag", "value", "as_of", "adviser_note"]),
    ]

    package let settings: Settings
    let world: SampleWorld
    let names: NameBank

    package init(settings: Settings, knobs: SampleKnobs) {
        self.settings = settings
        self.world = SampleWorld(seed: settings.seed, firstDay: settings.firstRunDate, knobs: knobs)
        self.names = NameBank()
    }

    /// Writes `inbox-<date>` directories under the output directory; returns their paths.
    @discardableResult
    package func generate(console: Console) throws -> [String] {
        try FileIO.makeDirectory(settings.outDirectory)
        var inboxes: [String] = []
        for day in 0..<settings.days {
            let runDate = world.date(day)
            let inbox = (settings.outDirectory as NSString).appendingPathComponent("inbox-\(runDate)")
            try FileIO.makeDirectory(inbox)
            let t0 = FileIO.now()
            try writeDay(day, inbox: inbox)
            console.progress(
                "sample \(runDate): \(grouped(settings.households)) households in \(inbox) "
                    + "(\(String(format: "%.1f", FileIO.now() - t0)) s)"
            )
            inboxes.append(inbox)
        }
        return inboxes
    }

    func writeDay(_ day: Int, inbox: String) throws {
        let runDate = world.date(day)
        let asOf = runDate.adding(days: -1)
        let n = settings.households
        let chunkSize = 20_000
        let chunkCount = (n + chunkSize - 1) / chunkSize
        let feedCount = SampleGenerator.formats.count
        // Every feed file is written chunk by chunk in household order; chunks are made in parallel batches.
        var writers: [FileIO.Writer] = []
        var rowCounts = [Int](repeating: 0, count: feedCount)
        for f in SampleGenerator.formats {
            let w = try FileIO.Writer(path: (inbox as NSString).appendingPathComponent("\(f.feed).csv"), mode: 0o600)
            var header: [UInt8] = f.bom ? [0xEF, 0xBB, 0xBF] : []
            header.append(contentsOf: f.columns.joined(separator: ",").utf8)
            header.append(contentsOf: f.crlf ? [13, 10] : [10])
            try w.write(header)
            writers.append(w)
        }
        let batch = max(1, Parallel.threads * 2)
        var start = 0
        while start < chunkCount {
            let end = min(chunkCount, start + batch)
            var parts = [[[UInt8]]](repeating: [], count: end - start)
            var counts = [[Int]](repeating: [], count: end - start)
            parts.withUnsafeMutableBufferPointer { partBuf in
                counts.withUnsafeMutableBufferPointer { countBuf in
                    Parallel.forEach(end - start) { k in
                        let c = start + k
                        var emitter = RowEmitter(world: world, names: names, day: day, asOf: asOf, households: n)
                        for h in (c * chunkSize)..<min(n, (c + 1) * chunkSize) { emitter.household(h) }
                        partBuf[k] = emitter.buffers
                        countBuf[k] = emitter.rows
                    }
                }
            }
            for k in 0..<(end - start) {
                for f in 0..<feedCount {
                    try writers[f].write(parts[k][f])
                    rowCounts[f] += counts[k][f]
                }
            }
            start = end
        }
        for (f, format) in SampleGenerator.formats.enumerated() {
            let sha = try writers[f].finish()
            let manifest = JSON.object([
                ("feed", .string(format.feed)),
                ("department", .string(format.department)),
                ("as_of", .string(asOf.description)),
                ("rows", .int(rowCounts[f])),
                ("sha256", .string(sha)),
                ("encoding", .string(format.encoding.rawValue)),
            ])
            try FileIO.write(
                (inbox as NSString).appendingPathComponent("\(format.feed).csv.manifest.json"),
                Array((manifest.serialized(pretty: true) + "\n").utf8))
        }
    }
}

/// Chinese names, held in both UTF-8 and GB18030 bytes (converted once with iconv).
struct NameBank: @unchecked Sendable {
    static let family = Array(
        "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
            + "彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金"
            + "石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
            + "万钱严覃武戴莫孔向汤")
    static let given = Array(
        "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国文"
            + "辉玲燕红鹏宇浩凯欣怡涵轩晨阳雪梅海波斌俊峰")
    let familyGB: [[UInt8]]
    let givenGB: [[UInt8]]

    init() {
        familyGB = NameBank.family.map { NameBank.gb18030(String($0)) }
        givenGB = NameBank.given.map { NameBank.gb18030(String($0)) }
    }

    static func gb18030(_ s: String) -> [UInt8] {
        guard let cd = iconv_open("GB18030", "UTF-8"), cd != iconv_t(bitPattern: -1) else { return Array(s.utf8) }
        defer { iconv_close(cd) }
        var input = Array(s.utf8).map { CChar(bitPattern: $0) }
        var out = [CChar](repeating: 0, count: input.count * 4 + 8)
        var inLeft = input.count, outLeft = out.count
        input.withUnsafeMutableBufferPointer { ib in
            out.withUnsafeMutableBufferPointer { ob in
                var ip: UnsafeMutablePointer<CChar>? = ib.baseAddress
                var op: UnsafeMutablePointer<CChar>? = ob.baseAddress
                _ = iconv(cd, &ip, &inLeft, &op, &outLeft)
            }
        }
        return out[0..<(out.count - outLeft)].map { UInt8(bitPattern: $0) }
    }
}
