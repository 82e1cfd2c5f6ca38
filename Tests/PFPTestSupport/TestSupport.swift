import Foundation

/// The repository root, found from this file's path (Tests/PFPTestSupport/...).
public let repoRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// The debug build of pfp, as `swift build --build-tests` leaves it.
public var pfpBinary: String { repoRoot + "/.build/debug/pfp" }

/// Runs the built pfp as a scheduler would, from the repository root, with
/// SOURCE_DATE_EPOCH set (so published directories compare byte for byte).
/// `shell` is run first by /bin/sh (a umask, a file-size limit). `status` is the
/// exit status, or minus the signal that ended the process.
@discardableResult
public func runPFP(
    _ args: [String], shell: String = "", env: [String: String] = [:]
) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    if shell.isEmpty {
        p.executableURL = URL(fileURLWithPath: pfpBinary)
        p.arguments = args
    } else {
        let quoted = args.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "\(shell) exec '\(pfpBinary)' \(quoted)"]
    }
    p.currentDirectoryURL = URL(fileURLWithPath: repoRoot)
    var e = ProcessInfo.processInfo.environment
    e["SOURCE_DATE_EPOCH"] = "1795000000"
    for (k, v) in env { e[k] = v }
    p.environment = e
    let o = Pipe(), er = Pipe()
    p.standardOutput = o
    p.standardError = er
    try p.run()
    // Both pipes drained at once: a full stderr must not block the child.
    final class Box: @unchecked Sendable { var data = Data() }  // written by one thread, read after wait()
    let errBox = Box()
    let group = DispatchGroup()
    let errHandle = er.fileHandleForReading
    DispatchQueue.global().async(group: group) { errBox.data = errHandle.readDataToEndOfFile() }
    let outData = o.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    let errData = errBox.data
    p.waitUntilExit()
    let status = p.terminationReason == .uncaughtSignal ? -p.terminationStatus : p.terminationStatus
    return (status, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// A valid 18-character GB 11643 ID number for a body of 17 digits (ISO 7064 MOD 11-2).
public func idWithCheck(_ body: String) -> String {
    let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    let s = zip(body.utf8, w).reduce(0) { $0 + Int($1.0 - 48) * $1.1 }
    return body + String(Array("10X98765432")[s % 11])
}

/// Text in GB18030, as the system's iconv writes it.
public func gb18030(_ s: String) throws -> [UInt8] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/iconv")
    p.arguments = ["-f", "UTF-8", "-t", "GB18030"]
    let inPipe = Pipe(), outPipe = Pipe()
    p.standardInput = inPipe
    p.standardOutput = outPipe
    try p.run()
    inPipe.fileHandleForWriting.write(Data(s.utf8))
    try inPipe.fileHandleForWriting.close()
    let data = outPipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Array(data)
}
