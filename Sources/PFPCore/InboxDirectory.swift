import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// A file of a delivery, opened once: every check and every read goes through this
/// descriptor, so a name swapped in the inbox after the check cannot redirect a read.
public final class DeliveredFile: @unchecked Sendable {
    public let descriptor: Int32
    /// The size when it was opened.
    public let size: Int
    public let inode: UInt64

    init(descriptor: Int32, size: Int, inode: UInt64) {
        self.descriptor = descriptor
        self.size = size
        self.inode = inode
    }

    deinit { close(descriptor) }

    /// The whole file, or nil when it holds more than `limit` bytes.
    public func readAll(limit: Int) throws -> [UInt8]? {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(out.count)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw PipelineError.failure("cannot read a delivered file: \(String(cString: strerror(errno)))")
            }
            if n == 0 { return out }
            if out.count + n > limit { return nil }
            out.append(contentsOf: buffer[..<n])
        }
    }
}

/// Why a name in the inbox is not read as a delivered file.
public enum InboxFileProblem: Error, Equatable, Sendable, CustomStringConvertible {
    case missing
    /// Every symbolic link is refused, wherever it leads (docs/DECISIONS.md).
    case symbolicLink
    /// A directory, a FIFO, a device or a socket: what it is, in words.
    case notRegular(String)
    /// The name led to another file between its check and its opening.
    case replaced
    case unreadable(Int32)

    public var description: String {
        switch self {
        case .missing: return "it is not there"
        case .symbolicLink:
            return "it is a symbolic link; pfp reads only regular files in the inbox, never where a link leads"
        case .notRegular(let kind): return "it is \(kind), not a regular file"
        case .replaced: return "it was replaced while it was being opened"
        case .unreadable(let e): return "it cannot be opened: \(String(cString: strerror(e)))"
        }
    }
}

/// The delivery directory, opened once: its entries are listed, checked and opened
/// through its descriptor, each file without following a symbolic link and without
/// blocking on a FIFO or touching a device.
public final class InboxDirectory: @unchecked Sendable {
    /// A name the directory holds.
    public struct Entry: Sendable {
        /// The name's bytes as the file system gives them.
        public let name: [UInt8]
        /// The name as text (bytes that are not UTF-8 replaced): for matching, and for
        /// a message only through `ContractWords.fileName`.
        public var text: String { String(decoding: name, as: UTF8.self) }
        public let inode: UInt64

        public init(name: [UInt8], inode: UInt64) {
            self.name = name
            self.inode = inode
        }
    }

    public let path: String
    private let descriptor: Int32

    /// Opens the inbox; the error says what to check when it is not a directory.
    public init(path: String) throws {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            let missing = errno == ENOENT || errno == ENOTDIR
            throw PipelineError.badInput(
                stage: "ingest", location: path,
                missing
                    ? "the inbox directory does not exist"
                    : "the inbox cannot be opened: \(String(cString: strerror(errno)))",
                hint: "check --inbox or the 'inbox' setting, and that the delivery for this run date has arrived")
        }
        self.path = path
        self.descriptor = fd
    }

    deinit { close(descriptor) }

    /// Every name but `.` and `..`, in byte order.
    public func entries() throws -> [Entry] {
        let fd = dup(descriptor)
        guard fd >= 0, let dir = fdopendir(fd) else {
            if fd >= 0 { close(fd) }
            throw PipelineError.failure(
                stage: "ingest", location: path, "cannot list the inbox: \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        rewinddir(dir)
        var out: [Entry] = []
        while let ent = readdir(dir) {
            let name: [UInt8] = withUnsafeBytes(of: &ent.pointee.d_name) { raw in
                Array(raw.prefix(while: { $0 != 0 }))
            }
            if name == [46] || name == [46, 46] { continue }
            out.append(Entry(name: name, inode: UInt64(ent.pointee.d_ino)))
        }
        return out.sorted { $0.name.lexicographicallyPrecedes($1.name) }
    }

    /// Opens a regular file of the inbox by its name: a symbolic link (wherever it
    /// leads), a directory, a FIFO, a device or a socket is refused before it is
    /// opened, and the opened file must be the one that was checked.
    public func open(_ name: [UInt8]) -> Result<DeliveredFile, InboxFileProblem> {
        let cName = name.map { CChar(bitPattern: $0) } + [0]
        var st = stat()
        guard fstatat(descriptor, cName, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            return .failure(errno == ENOENT ? .missing : .unreadable(errno))
        }
        if let problem = InboxDirectory.problem(mode: st.st_mode) { return .failure(problem) }
        let fd = openat(descriptor, cName, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else {
            switch errno {
            case ELOOP: return .failure(.symbolicLink)
            case ENOENT: return .failure(.missing)
            default: return .failure(.unreadable(errno))
            }
        }
        var opened = stat()
        guard fstat(fd, &opened) == 0, InboxDirectory.problem(mode: opened.st_mode) == nil,
            opened.st_dev == st.st_dev, opened.st_ino == st.st_ino
        else {
            close(fd)
            return .failure(.replaced)
        }
        return .success(DeliveredFile(descriptor: fd, size: Int(opened.st_size), inode: UInt64(opened.st_ino)))
    }

    /// What a file of this mode is when it is not a regular file.
    static func problem(mode: mode_t) -> InboxFileProblem? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFLNK: return .symbolicLink
        case S_IFDIR: return .notRegular("a directory")
        case S_IFIFO: return .notRegular("a FIFO (named pipe)")
        case S_IFCHR: return .notRegular("a character device")
        case S_IFBLK: return .notRegular("a block device")
        case S_IFSOCK: return .notRegular("a socket")
        default: return .notRegular("a file of an unknown type")
        }
    }
}
