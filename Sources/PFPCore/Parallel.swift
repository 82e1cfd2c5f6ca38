import Foundation

/// Parallel loops over chunks with Dispatch, limited to `Parallel.threads` workers.
/// Each iteration writes only its own result slot, so results never depend on
/// the number of threads.
public enum Parallel {
    /// Worker count; `--threads` sets it. Defaults to the machine's cores.
    public nonisolated(unsafe) static var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    public static func forEach(_ iterations: Int, _ body: (Int) -> Void) {
        if iterations <= 0 { return }
        let workers = max(1, min(threads, iterations))
        if workers == 1 {
            for i in 0..<iterations { body(i) }
            return
        }
        // Workers take iterations in turn (an atomic counter would need a package);
        // a stride keeps the split even when chunks are of similar size.
        withoutActuallyEscaping(body) { escaping in
            // Each iteration touches only its own slot; the caller guarantees that.
            nonisolated(unsafe) let work = escaping
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var i = w
                while i < iterations {
                    work(i)
                    i += workers
                }
            }
        }
    }
}
