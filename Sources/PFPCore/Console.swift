import Foundation

/// What the pipeline tells the operator, on standard error.
///
/// Messages never hold names or full ID numbers; callers mask IDs first.
public final class Console: @unchecked Sendable {
    public enum Level: Int, Sendable { case quiet = 0, normal = 1, verbose = 2 }
    public var level: Level
    private let lock = NSLock()
    public private(set) var warnings: [String] = []

    public init(level: Level = .normal) { self.level = level }

    public nonisolated(unsafe) static var shared = Console()

    private func emit(_ s: String) {
        lock.lock(); defer { lock.unlock() }
        FileHandle.standardError.write((s + "\n").data(using: .utf8)!)
    }

    public func info(_ s: String) { if level.rawValue >= 1 { emit(s) } }
    public func detail(_ s: String) { if level.rawValue >= 2 { emit(s) } }
    public func warn(_ s: String) {
        lock.lock(); warnings.append(s); lock.unlock()
        emit("warning: " + s)
    }
    public func error(_ s: String) { emit("error: " + s) }

    /// A progress line for long work ("ingest population: 1,200,000 rows").
    public func progress(_ s: String) { if level.rawValue >= 1 { emit("  " + s) } }
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
