import CallTrackCore
import Foundation
import Logging
import Synchronization

/// `CALLTRACK_LOG_FORMAT=json`: one JSON object per line on standard error — `time`, `level`,
/// `message`, `label`, then the line's metadata (a call's lines carry `call`, `project` and
/// `sip_call_id`) — for journald, Loki or anything else that reads JSON lines.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    /// One line at a time, whole, whichever thread logs.
    private static let output = Mutex<Void>(())

    public init(label: String, level: Logger.Level) {
        self.label = label
        logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(
        level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String, file: String,
        function: String, line: UInt
    ) {
        var fields: [String: String] = [:]
        for (key, value) in metadata.merging(explicit ?? [:], uniquingKeysWith: { $1 }) { fields[key] = "\(value)" }
        fields["time"] = Date().iso8601Milliseconds
        fields["level"] = level.rawValue
        fields["message"] = message.description
        fields["label"] = label
        guard
            var data = try? JSONSerialization.data(
                withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        data.append(UInt8(ascii: "\n"))
        Self.output.withLock { _ in FileHandle.standardError.write(data) }
    }
}
