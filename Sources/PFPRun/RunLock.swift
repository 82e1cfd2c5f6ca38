import Foundation
import PFPCore
#if canImport(Glibc)
    import Glibc
#endif

/// An advisory lock (flock) beside the database: a second run on the same
/// database refuses with the first one's pid; the kernel drops the lock when a
/// process dies, so a killed run never blocks the next one.
package final class RunLock {
    let fd: Int32
    let path: String
    var next: RunLock?

    init(fd: Int32, path: String) { self.fd = fd; self.path = path }

    /// Locks the database and the output root (a second run on either refuses).
    package static func acquire(dbPath: String, outRoot: String) throws -> RunLock {
        let db = try lockFile(dbPath + ".lock", what: "database")
        do {
            try FileIO.makeDirectory(outRoot)
            db.next = try lockFile((outRoot as NSString).appendingPathComponent(".pfp.lock"), what: "output root")
        } catch {
            db.release()
            throw error
        }
        return db
    }

    static func lockFile(_ path: String, what: String) throws -> RunLock {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileIO.makeDirectory(dir) }
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw PipelineError.failure(
                location: path, "cannot open the lock file: \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            var buf = [UInt8](repeating: 0, count: 256)
            let n = pread(fd, &buf, 255, 0)
            let holder =
                n > 0
                ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                : "another process"
            close(fd)
            throw PipelineError(
                .busy, location: path, "another pfp run holds the lock on this \(what) (\(holder))",
                hint: "wait for it to finish; the lock goes away by itself when that process ends")
        }
        ftruncate(fd, 0)
        let text = "pid \(getpid()), started \(RunRegistry.timestamp())\n"
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        return RunLock(fd: fd, path: path)
    }

    package func release() {
        next?.release()
        next = nil
        flock(fd, LOCK_UN)
        close(fd)
    }
}
