import Foundation
import CPFPNative

/// Parallel loops over chunks with Dispatch, limited to `Parallel.threads` workers.
/// Each iteration writes only its own result slot, so results never depend on
/// the number of threads.
public enum Parallel {
    /// Worker count; `--threads` sets it. Defaults to the machine's cores.
    public nonisolated(unsafe) static var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    public static func forEach(_ iterations: Int, _ body: (Int) -> Void) {
        forEach(iterations) { (_: Int, i: Int) in body(i) }
    }

    /// How many workers `forEach` uses for that many iterations.
    public static func workers(for iterations: Int) -> Int { max(1, min(threads, iterations)) }

    /// As `forEach`, also telling each iteration which worker (0..<workers(for:)) runs
    /// it, so a worker can use state of its own that no other thread touches.
    public static func forEach(_ iterations: Int, _ body: (_ worker: Int, _ i: Int) -> Void) {
        if iterations <= 0 { return }
        let workers = max(1, min(threads, iterations))
        if workers == 1 {
            for i in 0..<iterations { body(0, i) }
            return
        }
        // Each worker takes the next iteration no one has taken (an atomic counter):
        // iterations of unequal cost keep every core busy to the end, and they are
        // started in order (the match's explanations are written in that order).
        let next = UnsafeMutablePointer<CLong>.allocate(capacity: 1)
        next.initialize(to: 0)
        defer { next.deallocate() }
        withoutActuallyEscaping(body) { escaping in
            // Each iteration touches only its own slot; the caller guarantees that.
            nonisolated(unsafe) let work = escaping
            nonisolated(unsafe) let counter = next
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                while true {
                    let i = pfp_take_next(counter)
                    if i >= iterations { break }
                    work(w, i)
                }
            }
        }
    }
}

/// Work on a thread of its own, waited for later (`value()` returns its result or
/// rethrows its error): for work that mostly waits (a disk, a file's completion)
/// beside work that computes. With one thread (`--threads 1`) it runs at once, on
/// the calling thread.
public final class Background<T>: @unchecked Sendable {
    private let done = DispatchGroup()
    private var result: Result<T, Error>?

    public init(_ name: String, _ work: @escaping @Sendable () throws -> T) {
        if Parallel.threads == 1 {
            result = Result { try work() }
            return
        }
        done.enter()
        let thread = Thread { [self] in
            result = Result { try work() }
            done.leave()
        }
        thread.name = name
        thread.start()
    }

    /// Waits for the work; its result, or its error.
    public func value() throws -> T {
        done.wait()
        return try result!.get()
    }
}

/// Calls `action` once every `n` ticks, whichever thread ticks (a lock counts
/// them): the work done in order lets the pages it read go behind it, every so
/// often rather than after each step (each drop costs the other core a TLB
/// shootdown).
public final class EveryNth: @unchecked Sendable {
    private let n: Int
    private let action: () -> Void
    private let lock = NSLock()
    private var ticks = 0

    public init(_ n: Int, _ action: @escaping () -> Void) {
        precondition(n > 0)
        self.n = n
        self.action = action
    }

    public func tick() {
        lock.lock()
        ticks += 1
        let fire = ticks % n == 0
        lock.unlock()
        if fire { action() }
    }
}
