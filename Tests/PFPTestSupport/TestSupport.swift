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
    if shell.isEmpty { return try runProgram(pfpBinary, args, env: env) }
    let quoted = args.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
    return try runProgram("/bin/sh", ["-c", "\(shell) exec '\(pfpBinary)' \(quoted)"], env: env)
}

/// Runs a program from the repository root with SOURCE_DATE_EPOCH set and
/// `env` added; both pipes drained at once. `status` as `runPFP`'s.
@discardableResult
public func runProgram(
    _ path: String, _ args: [String], env: [String: String] = [:]
) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
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

/// Where a program is on the PATH, or nil.
public func which(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let path = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
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

/// Every regular file under a published run directory, as paths relative to it
/// ("push.csv", "feedback/hr.csv"), sorted.
public func publishedFiles(_ dir: String) throws -> [String] {
    var out: [String] = []
    guard let walker = FileManager.default.enumerator(atPath: dir) else { return out }
    while let rel = walker.nextObject() as? String {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir + "/" + rel, isDirectory: &isDir), !isDir.boolValue {
            out.append(rel)
        }
    }
    return out.sorted()
}

/// A new empty directory under the system's temporary directory, named after `prefix`.
public func makeWorkDirectory(_ prefix: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A reform's rule file used by several tests: a new allowance (its own
/// parameter, no receiving tag) and a policy replaced (education assistance
/// without its `assisted` criterion).
public let heatingAllowanceRules = """
    parameter heating.amount money "冬季取暖补贴（元/月）"
      from 2026-01-01 = 200

    policy heating "冬季取暖补贴" household
      criterion assisted: has(dibao) or has(low_income)
      amount heating.amount

    policy education_assistance "教育救助" person
      criterion enrolled: education.stage != "none"
    """
