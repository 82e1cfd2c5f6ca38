import Foundation
import PFPCore

/// The delivery check on a thread of its own, ahead of the parsing: while one feed is
/// parsed, the next ones are read, hashed and validated. When the feeds are not in the
/// page cache (city scale: gigabytes), reading them is disk-bound and now overlaps with
/// the parsing instead of coming before it.
///
/// The parser takes each feed as its check ends (`file(_:)`), in the configuration's
/// order. Nothing parsed is kept unless the whole check passes: the caller calls
/// `finish()` before it uses anything, and a refusal still lists every problem.
final class CheckAhead: @unchecked Sendable {
    private let cond = NSCondition()
    /// Feeds whose check has ended, with their file when usable (taken once).
    private var ready: [String: FeedFile] = [:]
    private var ended: Set<String> = []
    /// Whether the whole check has ended (its outcome: `work.value()`).
    private var over = false
    private var work: Background<DeliveryCheck>!
    /// Whether the check has already found a reason to refuse the delivery.
    private var refused = false
    let started = FileIO.now()
    /// When the last check ended.
    private(set) var checkedAt = 0.0
    private(set) var checkedBytes = 0
    private(set) var checkedFeeds = 0

    /// With one thread (`--threads 1`) the check runs here, before any parsing.
    init(_ body: @escaping @Sendable (_ decided: @escaping (String, FeedFile?, Bool) -> Void) throws -> DeliveryCheck) {
        work = Background("pfp-delivery-check") { [self] in
            defer {
                cond.lock()
                over = true
                checkedAt = FileIO.now()
                cond.broadcast()
                cond.unlock()
            }
            return try body { name, file, refused in self.decided(name, file, refused) }
        }
    }

    private func decided(_ name: String, _ file: FeedFile?, _ refused: Bool) {
        cond.lock()
        ended.insert(name)
        if refused { self.refused = true }
        if let file {
            ready[name] = file
            checkedBytes += file.sizeBytes
            checkedFeeds += 1
        }
        cond.broadcast()
        cond.unlock()
    }

    /// Waits until the feed's check has ended; its file if the run can use it (nil
    /// for a missing or allowed-missing feed). Throws, once the whole check has ended,
    /// when the delivery is refused: nothing more is parsed in vain. The file is
    /// handed over: this object keeps no reference to it.
    func file(_ name: String, refusal: () throws -> Void) rethrows -> FeedFile? {
        cond.lock()
        while !ended.contains(name) && !over && !refused { cond.wait() }
        let stop = refused || (over && !ended.contains(name))
        let file = stop ? nil : ready.removeValue(forKey: name)
        cond.unlock()
        if stop { try refusal() }
        return file
    }

    /// Waits until the whole check has ended: its reports and problems, or the error
    /// that stopped it (a missing inbox, a misused option).
    func finish() throws -> DeliveryCheck {
        defer {
            cond.lock()
            ready = [:]
            cond.unlock()
        }
        return try work.value()
    }
}
