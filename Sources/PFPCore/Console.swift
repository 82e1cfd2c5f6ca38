import Foundation

/// What the pipeline tells the operator, on standard error.
///
/// Messages never hold names or full ID numbers; callers mask IDs first.
package final class Console: @unchecked Sendable {
    package enum Level: Int, Sendable { case quiet = 0, normal = 1, verbose = 2 }
    package var level: Level
    private let lock = NSLock()
    package private(set) var warnings: [String] = []

    package init(level: Level = .normal) { self.level = level }

    package nonisolated(unsafe) static var shared = Console()

    private func emit(_ s: String) {
        lock.lock(); defer { lock.unlock() }
        FileHandle.standardError.write((s + "\n").data(using: .utf8)!)
    }

    package func info(_ s: String) { if level.rawValue >= 1 { emit(s) } }
    package func detail(_ s: String) { if level.rawValue >= 2 { emit(s) } }
    package func warn(_ s: String) {
        lock.lock(); warnings.append(s); lock.unlock()
        emit("warning: " + s)
    }
    package func error(_ s: String) { emit("error: " + s) }

    /// A progress line for long work ("ingest population: 1,200,000 rows").
    package func progress(_ s: String) { if level.rawValue >= 1 { emit("  " + s) } }
}

/// Formats counts with thousands separators for people.
package func grouped(_ n: Int) -> String {
    let s = String(n.magnitude)
    var out = ""
    for (i, c) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return (n < 0 ? "-" : "") + out
}
