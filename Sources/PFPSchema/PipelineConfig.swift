import Foundation
import PFPCore

/// What a feed is and how the run treats it (from `Pipelines/nightly.conf`).
public struct FeedSpec: Sendable {
    /// Population rows, tag rows, or outreach rows (outreach.md).
    public enum Shape: String, Sendable { case population, tags, outreach }
    public var name: String
    public var shape: Shape
    public var required: Bool
    public var maxAgeDays: Int
}

/// The nightly job's settings: `Pipelines/nightly.conf`, overridden by flags.
public struct PipelineConfig: Sendable {
    public var configPath: String
    /// The folder relative paths are resolved against (the parent of Pipelines/).
    public var baseDirectory: String
    public var inboxPattern: String
    public var outRoot: String
    public var dbPath: String
    public var tagsPath: String
    public var policiesPath: String
    public var deceasedTag: String
    public var rulesPath: String
    /// The largest share by which a feed's row count may fall below its previous accepted delivery.
    public var driftMaxDrop: Double = 0.2
    public var driftMinRows: Int = 1000
    public var ruleTestsPath: String
    /// The bureau's time zone (`timezone`, an IANA name): what "today" is for a run
    /// without `--run-date`. nil: the server's zone.
    public var timezone: TimeZone?
    /// Where `pfp.prom` is written after every run (`metrics_dir`), for
    /// node_exporter's textfile collector; none when not set.
    public var metricsDir: String?
    public var feeds: [FeedSpec]
    /// Rule files (issue 3); kept so the configuration has a single home.
    public var extra: [String: String]

    public init(path: String) throws {
        let file = try ConfigFile(path: path)
        configPath = path
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let pipelinesDir = (absolute as NSString).deletingLastPathComponent
        baseDirectory = (pipelinesDir as NSString).deletingLastPathComponent
        let top = file.top
        func text(_ key: String, _ def: String) -> String { top.value(key)?.value ?? def }
        inboxPattern = text("inbox", "inbox/{date}")
        outRoot = text("out", "out/published")
        dbPath = text("db", "out/pfp.sqlite")
        tagsPath = text("tags", "Pipelines/tags.catalogue")
        policiesPath = text("policies", "Pipelines/policies.catalogue")
        deceasedTag = text("deceased_tag", "civil.deceased_on")
        rulesPath = text("rules", "Pipelines/rules")
        if let e = top.value("drift_max_drop") {
            guard let v = Double(e.value), v >= 0, v <= 1 else {
                throw PipelineError.badInput(
                    location: file.location(e), "drift_max_drop must be a share between 0 and 1, found '\(e.value)'")
            }
            driftMaxDrop = v
        }
        if let e = top.value("drift_min_rows") {
            guard let v = Int(e.value), v >= 0 else {
                throw PipelineError.badInput(
                    location: file.location(e), "drift_min_rows must be a whole number, found '\(e.value)'")
            }
            driftMinRows = v
        }
        ruleTestsPath = text("rule_tests", "Pipelines/tests")
        metricsDir = top.value("metrics_dir")?.value
        if let e = top.value("timezone") {
            guard e.value.contains("/") || e.value == "UTC", let zone = TimeZone(identifier: e.value) else {
                throw PipelineError.badInput(
                    location: file.location(e),
                    "timezone '\(e.value)' is not a time zone this system knows",
                    hint: "write an IANA name such as Asia/Shanghai; the zones are read from /usr/share/zoneinfo "
                        + "(Debian: apt-get install tzdata)")
            }
            timezone = zone
        }
        var defaultAge = 7
        if let e = top.value("max_age_days") {
            guard let v = Int(e.value), v >= 0 else {
                throw PipelineError.badInput(
                    location: file.location(e), "max_age_days must be a whole number of days, found '\(e.value)'")
            }
            defaultAge = v
        }
        var extra: [String: String] = [:]
        for e in top.entries { extra[e.key] = e.value }
        self.extra = extra
        var feeds: [FeedSpec] = []
        for (name, section) in file.sections(kind: "feed") {
            var spec = FeedSpec(name: name, shape: .tags, required: true, maxAgeDays: defaultAge)
            for e in section.entries {
                switch e.key {
                case "shape":
                    guard let s = FeedSpec.Shape(rawValue: e.value) else {
                        throw PipelineError.badInput(
                            location: file.location(e),
                            "shape must be 'population', 'tags' or 'outreach', found '\(e.value)'")
                    }
                    spec.shape = s
                case "required":
                    guard e.value == "true" || e.value == "false" else {
                        throw PipelineError.badInput(
                            location: file.location(e), "required must be true or false, found '\(e.value)'")
                    }
                    spec.required = e.value == "true"
                case "max_age_days":
                    guard let v = Int(e.value), v >= 0 else {
                        throw PipelineError.badInput(
                            location: file.location(e),
                            "max_age_days must be a whole number of days, found '\(e.value)'")
                    }
                    spec.maxAgeDays = v
                default:
                    throw PipelineError.badInput(
                        location: file.location(e),
                        "unknown setting '\(e.key)' for a feed; expected shape, required or max_age_days")
                }
            }
            feeds.append(spec)
        }
        guard feeds.filter({ $0.shape == .population }).count == 1 else {
            throw PipelineError.badInput(location: path, "exactly one feed must have 'shape = population'")
        }
        guard feeds.filter({ $0.shape == .outreach }).count <= 1 else {
            throw PipelineError.badInput(location: path, "at most one feed may have 'shape = outreach'")
        }
        self.feeds = feeds
    }

    /// A path from the configuration, resolved against the base directory.
    public func resolve(_ p: String) -> String {
        if p.hasPrefix("/") { return p }
        return (baseDirectory as NSString).appendingPathComponent(p)
    }

    public func inbox(for date: CivilDate) -> String {
        resolve(inboxPattern.replacingOccurrences(of: "{date}", with: date.description))
    }

    public var populationFeed: FeedSpec { feeds.first { $0.shape == .population }! }

    /// Today in the bureau's zone (the server's when the configuration names none).
    public func today(at instant: Date = Date()) -> CivilDate {
        timezone.map { CivilDate.today(in: $0, at: instant) } ?? CivilDate.today()
    }

    /// The feed of outreach events, when the configuration has one.
    public var outreachFeed: FeedSpec? { feeds.first { $0.shape == .outreach } }

    public func feed(_ name: String) -> FeedSpec? { feeds.first { $0.name == name } }

    /// Loads the tag and policy catalogues named by the configuration.
    public func loadCatalogue() throws -> (TagCatalogue, PolicyCatalogue) {
        let policies = try PolicyCatalogue(path: resolve(policiesPath))
        let tags = try TagCatalogue(path: resolve(tagsPath), policies: policies)
        for t in tags.tags where feed(t.feed) == nil {
            throw PipelineError.badInput(
                location: resolve(tagsPath),
                "tag \(t.name) belongs to feed '\(t.feed)', which the configuration does not declare")
        }
        guard tags[deceasedTag]?.type == .date else {
            throw PipelineError.badInput(
                location: configPath, "deceased_tag '\(deceasedTag)' must name a date tag of the catalogue")
        }
        return (tags, policies)
    }
}
