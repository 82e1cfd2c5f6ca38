import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What the pipeline tells the operator, on standard error, in one of two forms:
///
/// - `text`, for people. On a terminal each stage shows a live progress line
///   (what it is doing, how much is done, the rate, the time left) redrawn in
///   place, and leaves one summary line behind when it ends; the lines of
///   `progress` only feed the live line there. When standard error is not a
///   terminal (a pipe, a file, journald) nothing is redrawn: every line is
///   written once, as it comes.
/// - `json`, for machines (journald, log shippers): one JSON object per line for
///   every event, with the time, the level and the event's own fields.
///
/// Messages never hold names or full ID numbers; callers mask IDs first.
public final class Console: @unchecked Sendable {
    public enum Level: Int, Sendable { case quiet = 0, normal = 1, verbose = 2 }
    public enum Format: String, Sendable, CaseIterable { case text, json }

    public var level: Level
    public var format: Format
    /// Whether the live progress line is drawn: standard error is a terminal
    /// whose TERM is not `dumb`, and the format is text. Tests set it.
    public var live: Bool
    private let lock = NSLock()
    public private(set) var warnings: [String] = []
    /// Where the lines go (standard error; a test may collect them).
    private let sink: @Sendable (String) -> Void

    // The live line: the stage it belongs to and whether it is on the screen.
    private var liveStage: String?
    private var liveStatus = ""
    private var liveShown = false
    private var ticker: DispatchSourceTimer?

    public init(
        level: Level = .normal, format: Format = .text, live: Bool? = nil,
        sink: (@Sendable (String) -> Void)? = nil
    ) {
        self.level = level
        self.format = format
        self.live = live ?? Console.standardErrorIsTerminal()
        self.sink = sink ?? { FileHandle.standardError.write(Data($0.utf8)) }
    }

    public nonisolated(unsafe) static var shared = Console()

    /// Standard error is a terminal that can redraw a line.
    public static func standardErrorIsTerminal() -> Bool {
        isatty(STDERR_FILENO) != 0 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    private var drawsLive: Bool { live && format == .text && level != .quiet }

    // MARK: Messages

    public func info(_ s: String) { if level.rawValue >= 1 { message("info", "message", s) } }
    public func detail(_ s: String) { if level.rawValue >= 2 { message("debug", "message", s) } }
    public func warn(_ s: String) {
        lock.lock(); warnings.append(s); lock.unlock()
        message("warning", "warning", s, prefix: "warning: ")
    }
    public func error(_ s: String) { message("error", "error", s, prefix: "error: ") }

    /// What a stage is doing now ("hr: 1,200,000 rows accepted"): a line of its
    /// own in a pipe, the live line's text on a terminal.
    public func progress(_ s: String) {
        guard level.rawValue >= 1 else { return }
        Meter.shared.reset()  // the counted work before it is done
        lock.lock()
        let stage = liveStage
        let inPlace = drawsLive && stage != nil
        if inPlace { liveStatus = s; redrawLocked() }
        lock.unlock()
        if inPlace { return }
        message("info", "progress", s, prefix: "  ", fields: stage.map { [("stage", .string($0))] } ?? [])
    }

    /// A failure the run stops on: in text its description, in JSON its parts
    /// (kind, stage, feed, location, message, what to do, exit code).
    public func failure(_ e: PipelineError) {
        let event: String
        switch e.kind {
        case .badInput: event = "refused"
        case .usage: event = "usage"
        case .internalFailure: event = "failed"
        case .busy: event = "busy"
        }
        var fields: [(String, JSON)] = []
        if let s = e.stage { fields.append(("stage", .string(s))) }
        if let f = e.feed { fields.append(("feed", .string(f))) }
        if let l = e.location { fields.append(("location", .string(l))) }
        fields.append(("reason", .string(e.message)))
        if let h = e.hint { fields.append(("what_to_do", .string(h))) }
        fields.append(("exit_code", .int(Int(e.exitCode.rawValue))))
        message("error", event, e.description, prefix: "error: ", fields: fields, messageKey: nil)
    }

    /// A structured event: one JSON line in the JSON format; nothing in text
    /// (the text lines say the same for people).
    public func event(_ name: String, _ fields: [(String, JSON)], level lv: String = "info") {
        guard format == .json, level.rawValue >= 1 || lv != "info" else { return }
        emit(jsonLine(lv, name, fields))
    }

    // MARK: Stages

    /// A stage begins: its header in a pipe, its live line on a terminal.
    public func stageStarted(_ stage: String) {
        Meter.shared.reset()
        lock.lock(); liveStage = stage; liveStatus = ""; lock.unlock()
        event("stage_start", [("stage", .string(stage))])
        guard format == .text, level.rawValue >= 1 else { return }
        if drawsLive {
            lock.lock(); redrawLocked(); lock.unlock()
            startTicker()
        } else {
            emit("[\(stage)]")
        }
    }

    /// A stage ends: its live line gives way to one summary line.
    public func stageEnded(_ stage: String, wall: Double, cpu: Double, peakRSS: Int, summary: String) {
        stopTicker()
        lock.lock()
        liveStage = nil
        liveStatus = ""
        clearLocked()
        lock.unlock()
        Meter.shared.reset()
        event(
            "stage_end",
            [
                ("stage", .string(stage)), ("wall_s", .measured(wall)), ("cpu_s", .measured(cpu)),
                ("peak_rss_bytes", .int(peakRSS)), ("summary", .string(summary)),
            ])
        guard format == .text, level.rawValue >= 1 else { return }
        let head = String(format: "%@ done in %.2f s", stage, wall)
        if drawsLive {
            emit(stage.padding(toLength: 8, withPad: " ", startingAt: 0) + String(format: "%7.2f s  ", wall) + summary)
        } else {
            emit("  " + head + (summary.isEmpty ? "" : ": " + summary))
        }
    }

    // MARK: Output

    private func message(
        _ lv: String, _ event: String, _ text: String, prefix: String = "", fields: [(String, JSON)] = [],
        messageKey: String? = "message"
    ) {
        switch format {
        case .json:
            var all = fields
            if let k = messageKey { all.append((k, .string(text))) }
            emit(jsonLine(lv, event, all))
        case .text:
            emit(prefix + text)
        }
    }

    private func jsonLine(_ lv: String, _ event: String, _ fields: [(String, JSON)]) -> String {
        JSON.object([("time", .string(Console.now())), ("level", .string(lv)), ("event", .string(event))] + fields)
            .serialized()
    }

    /// The time of an event, UTC with milliseconds.
    static func now() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var t = time_t(tv.tv_sec)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(tv.tv_usec / 1000))
    }

    /// Writes whole lines; a live line on the screen is cleared first and drawn again after.
    private func emit(_ line: String) {
        lock.lock(); defer { lock.unlock() }
        clearLocked()
        sink(line + "\n")
        redrawLocked()
    }

    private func clearLocked() {
        if liveShown { sink("\r\u{1B}[K"); liveShown = false }
    }

    private func redrawLocked() {
        guard drawsLive, let stage = liveStage else { return }
        let width = Console.terminalColumns()
        var line =
            stage.padding(toLength: 8, withPad: " ", startingAt: 0) + " " + Meter.shared.status(fallback: liveStatus)
        if line.count > width - 1 { line = String(line.prefix(max(10, width - 2))) + "…" }
        sink("\r\u{1B}[K" + line)
        liveShown = true
    }

    private func startTicker() {
        let t = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
        t.schedule(deadline: .now() + .milliseconds(200), repeating: .milliseconds(200))
        t.setEventHandler { [weak self] in
            guard let self else { return }
            self.lock.lock(); self.redrawLocked(); self.lock.unlock()
        }
        lock.lock(); ticker = t; lock.unlock()
        t.resume()
    }

    private func stopTicker() {
        lock.lock(); let t = ticker; ticker = nil; lock.unlock()
        t?.cancel()
    }

    static func terminalColumns() -> Int {
        var ws = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0 { return Int(ws.ws_col) }
        return 100
    }
}

/// How far the work under way has got: what it is, how many of how many are
/// done, since when. The stages' parallel loops add their chunks' counts; the
/// console's live line reads it. Cheap enough to call once per chunk.
public final class Meter: @unchecked Sendable {
    public static let shared = Meter()
    private let lock = NSLock()
    private var what = "", unit = "", total: Int?, done = 0, started = 0.0

    /// New work: `total` of `unit` (nil when not known ahead).
    public func start(_ what: String, unit: String, total: Int?) {
        let t = FileIO.now()
        lock.lock()
        self.what = what; self.unit = unit; self.total = total; done = 0; started = t
        lock.unlock()
    }

    public func add(_ n: Int) {
        lock.lock(); done += n; lock.unlock()
    }

    public func reset() {
        lock.lock(); what = ""; done = 0; total = nil; lock.unlock()
    }

    /// "population 1,200,000/3,000,000 rows  2,400,000 rows/s  ~1 s left", or
    /// `fallback` when no counted work is under way.
    func status(fallback: String) -> String {
        lock.lock()
        let (what, unit, total, done, started) = (self.what, self.unit, self.total, self.done, self.started)
        lock.unlock()
        guard !what.isEmpty else { return fallback }
        let elapsed = max(0.001, FileIO.now() - started)
        let rate = Double(done) / elapsed
        var s = what + " " + grouped(done) + (total.map { "/" + grouped($0) } ?? "") + " " + unit
        if done > 0 { s += "  " + grouped(Int(rate)) + " \(unit)/s" }
        if let total, done > 0, total > done {
            s += String(format: "  ~%.0f s left", (Double(total - done) / rate).rounded(.up))
        }
        return s
    }
}

/// Formats counts with thousands separators for people.
public func grouped(_ n: Int) -> String {
    let s = String(n.magnitude)
    var out = ""
    for (i, c) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return (n < 0 ? "-" : "") + out
}
