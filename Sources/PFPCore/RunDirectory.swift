import CPFPNative
import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// A run's published directory, built under a temporary name and renamed into
/// place whole: `_SUCCESS` is the last file written, and a reader that sees it
/// may trust every file beside it (outputs.md, "Where and when").
public final class RunDirectory {
    public let root: String
    /// The published folder's name under `root`: the run date, or a what-if's reform.
    public let name: String
    /// The hidden directory being filled.
    public let staging: String
    /// The files written so far (for the manifest), recorded by `add` from any thread.
    public var files: [(name: String, rows: Int, sha256: String, bytes: Int)] {
        lock.lock()
        defer { lock.unlock() }
        return written
    }
    private var written: [(name: String, rows: Int, sha256: String, bytes: Int)] = []
    private let lock = NSLock()

    public var finalPath: String { (root as NSString).appendingPathComponent(name) }

    public convenience init(root: String, runDate: CivilDate) throws {
        try self.init(root: root, name: runDate.description)
    }

    public init(root: String, name: String) throws {
        self.root = root
        self.name = name
        try FileIO.makeDirectory(root)
        RunDirectory.sweep(root: root)
        staging = (root as NSString).appendingPathComponent(".tmp-\(name)-\(getpid())")
        try FileIO.remove(staging)
        if mkdir(staging, 0o700) != 0 {
            throw PipelineError.failure(
                stage: "emit", location: staging,
                "cannot create the staging directory: \(String(cString: strerror(errno)))",
                hint: "check that the output root is writable and the disk is not full")
        }
        RunDirectory.filling(staging, true)
    }

    /// The staging directories this process is filling (a what-if fills several
    /// at once, published together): `sweep` leaves them.
    private nonisolated(unsafe) static var filling: Set<String> = []
    private static let fillingLock = NSLock()

    private static func filling(_ path: String, _ yes: Bool) {
        fillingLock.lock()
        if yes { filling.insert(path) } else { filling.remove(path) }
        fillingLock.unlock()
    }

    /// Removes staging directories left by runs that were killed (their process is
    /// gone), and this process's own that it no longer fills (a pid used again).
    public static func sweep(root: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root) else { return }
        fillingLock.lock()
        let live = filling
        fillingLock.unlock()
        for n in names where n.hasPrefix(".tmp-") || n.hasPrefix(".old-") {
            if live.contains((root as NSString).appendingPathComponent(n)) { continue }
            if let pidText = n.split(separator: "-").last, let pid = Int32(pidText), pid != getpid(), kill(pid, 0) == 0
            {
                continue
            }
            try? FileIO.remove((root as NSString).appendingPathComponent(n))
        }
    }

    public func path(_ name: String) -> String { (staging as NSString).appendingPathComponent(name) }

    /// Folders made inside the staging directory, synced before publication.
    private var folders: [String] = []

    /// Makes a folder inside the run (owner-only), for files named "folder/file".
    public func makeFolder(_ name: String) throws {
        if mkdir(path(name), 0o700) != 0 && errno != EEXIST {
            throw PipelineError.failure(
                stage: "emit", location: path(name), "cannot create a folder: \(String(cString: strerror(errno)))",
                hint: "check that the output root is writable and the disk is not full")
        }
        folders.append(name)
    }

    /// Records a written file for the manifest.
    public func add(name: String, rows: Int, sha256: String, bytes: Int) {
        lock.lock()
        written.append((name, rows, sha256, bytes))
        lock.unlock()
    }

    /// Writes a whole file into the staging directory, owner-only, and records it:
    /// its pieces in order (never joined in memory).
    public func write(_ name: String, pieces: [[UInt8]], rows: Int) throws {
        try write(name, rows: rows) { put in for p in pieces { try p.withUnsafeBytes { try put($0) } } }
    }

    /// Writes a whole file whose pieces `produce` hands over one by one, in order
    /// (never all in memory), and records it. A piece's bytes are written before
    /// `put` returns (the buffer they lie in can be used again).
    public func write(
        _ name: String, rows: Int, produce: (_ put: (UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) throws {
        let w = try FileIO.Writer(path: path(name))
        try produce { try w.write($0) }
        let sha = try w.finish()
        add(name: name, rows: rows, sha256: sha, bytes: w.bytesWritten)
    }

    public func write(_ name: String, _ bytes: [UInt8], rows: Int) throws {
        try write(name, pieces: [bytes], rows: rows)
    }

    /// Writes `_SUCCESS` last and renames the directory into place, replacing an
    /// earlier publication of the same date.
    public func publish() throws {
        RunDirectory.filling(staging, false)
        FaultPoint.hit("emit.before_success")
        try FileIO.write(path("_SUCCESS"), [])
        FaultPoint.hit("emit.before_publish")
        for f in folders { FileIO.syncDirectory(path(f)) }
        FileIO.syncDirectory(staging)
        let final = finalPath
        let old = (root as NSString).appendingPathComponent(".old-\(name)-\(getpid())")
        if FileIO.exists(final) {
            // Swap in one step where the kernel can (renameat2 RENAME_EXCHANGE);
            // otherwise move the old one aside first: readers then briefly see
            // no directory, never a half-written one.
            if RunDirectory.exchange(staging, final) {
                try? FileIO.remove(staging)  // now holds the old run
                FileIO.syncDirectory(root)
                return
            }
            if rename(final, old) != 0 {
                throw PipelineError.failure(
                    stage: "emit", location: final,
                    "cannot replace the earlier publication: \(String(cString: strerror(errno)))")
            }
        }
        if rename(staging, final) != 0 {
            let err = String(cString: strerror(errno))
            if FileIO.exists(old) { _ = rename(old, final) }
            throw PipelineError.failure(stage: "emit", location: final, "cannot publish the run directory: \(err)")
        }
        FileIO.syncDirectory(root)
        try? FileIO.remove(old)
    }

    /// Links `src` as `dst` (same file system), else copies it; then syncs it to disk.
    public static func linkOrCopy(_ src: String, _ dst: String) throws {
        if link(src, dst) != 0 {
            let w = try FileIO.Writer(path: dst, check: .none, direct: true)
            try w.append(file: src)
            _ = try w.finish()
            return
        }
        chmod(dst, 0o600)
        let fd = open(dst, O_RDONLY)
        guard fd >= 0 else {
            throw PipelineError.failure(location: dst, "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        if fsync(fd) != 0 {
            throw PipelineError.failure(
                location: dst, "cannot sync: \(String(cString: strerror(errno)))",
                hint: "check free space on the output disk")
        }
    }

    /// Gives up: removes the staging directory; what was published stays.
    public func abandon() {
        RunDirectory.filling(staging, false)
        try? FileIO.remove(staging)
    }

    static func exchange(_ a: String, _ b: String) -> Bool {
        pfp_rename_exchange(a, b) == 0
    }
}
