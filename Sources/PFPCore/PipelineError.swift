import Foundation

/// Exit codes of `pfp`, so a scheduler can tell what went wrong without reading text.
public enum ExitCode: Int32, Sendable {
    case success = 0
    /// Internal failure: a bug, a full disk, a database that cannot be written.
    case failure = 1
    /// Command line misuse (as sysexits EX_USAGE).
    case usage = 64
    /// Bad input: a feed or rule file was refused; the operator must act.
    case badInput = 65
    /// Another run holds the lock.
    case busy = 75
}

/// A failure the operator can act on: where it happened, what it was, what to do.
///
/// It never carries a resident's name or full ID number: callers mask IDs
/// with `IDNumber.masked` before they put one in a message.
public struct PipelineError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        case badInput
        case usage
        case internalFailure
        case busy
    }
    public var kind: Kind
    public var stage: String?
    public var feed: String?
    /// A file and optionally a line and column ("Pipelines/x.rules:12:5").
    public var location: String?
    public var message: String
    /// What the operator can do about it.
    public var hint: String?

    public init(
        _ kind: Kind, stage: String? = nil, feed: String? = nil, location: String? = nil,
        _ message: String, hint: String? = nil
    ) {
        self.kind = kind
        self.stage = stage
        self.feed = feed
        self.location = location
        self.message = message
        self.hint = hint
    }

    public static func badInput(
        stage: String? = nil, feed: String? = nil, location: String? = nil,
        _ message: String, hint: String? = nil
    ) -> PipelineError {
        PipelineError(.badInput, stage: stage, feed: feed, location: location, message, hint: hint)
    }

    public static func usage(_ message: String, hint: String? = nil) -> PipelineError {
        PipelineError(.usage, message, hint: hint)
    }

    public static func failure(
        stage: String? = nil, location: String? = nil, _ message: String,
        hint: String? = nil
    ) -> PipelineError {
        PipelineError(.internalFailure, stage: stage, location: location, message, hint: hint)
    }

    public var exitCode: ExitCode {
        switch kind {
        case .badInput: return .badInput
        case .usage: return .usage
        case .internalFailure: return .failure
        case .busy: return .busy
        }
    }

    public var description: String {
        var parts: [String] = []
        if let stage { parts.append("stage \(stage)") }
        if let feed { parts.append("feed \(feed)") }
        if let location { parts.append(location) }
        var text = parts.isEmpty ? message : parts.joined(separator: ", ") + ": " + message
        if let hint { text += "\n  what to do: " + hint }
        return text
    }
}
