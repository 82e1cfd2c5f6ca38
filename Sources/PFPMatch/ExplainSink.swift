import Foundation
import PFPCore
import PFPFormats

/// Where the match stage's explanations go while it runs. Tasks finish in any
/// order; each is written once every task before it is, so the file is written
/// once, in its order (outputs.md: sorted by its key columns, list id in byte
/// order, then the list's keys), and hashed as it is written.
final class ExplainSink: @unchecked Sendable {
    let path: String, tmp: String
    let main: FileIO.Writer
    let lock = NSLock()
    var next = 0
    var pending: [Int: ByteWriter] = [:]
    var rows = 0
    var failure: Error?
    /// Buffers already written, for the next tasks (their pages stay mapped:
    /// no fresh zeroed pages for every task).
    var spare: [ByteWriter] = []

    init(path: String) throws {
        self.path = path
        tmp = path + ".tmp-\(getpid())"
        // Past the page cache: nothing in this run reads it back (emit links it).
        main = try FileIO.Writer(path: tmp, direct: true)
    }

    /// An empty buffer for a task's explanations.
    func buffer() -> ByteWriter {
        lock.lock()
        defer { lock.unlock() }
        return spare.popLast() ?? ByteWriter(capacity: 1 << 16)
    }

    func deliver(task: Int, _ text: ByteWriter, rows n: Int) {
        lock.lock()
        defer { lock.unlock() }
        pending[task] = text
        rows += n
        while let t = pending.removeValue(forKey: next) {
            next += 1
            guard failure == nil else { continue }
            do {
                try main.write(t.bytes)
                t.clear()
                spare.append(t)
            } catch { failure = error }
        }
    }

    /// Its rows, sha256 and size; the file renamed into place.
    func finish() throws -> (rows: Int, sha: String, bytes: Int) {
        do {
            if let failure { throw failure }
            let sha = try main.finish(sync: false)
            if rename(tmp, path) != 0 {
                throw PipelineError.failure(
                    stage: "match", location: path, "cannot store the explanations: \(String(cString: strerror(errno)))"
                )
            }
            return (rows, sha, main.bytesWritten)
        } catch {
            try? FileIO.remove(tmp)
            throw error
        }
    }
}
