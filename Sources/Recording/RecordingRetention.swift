import CallTrackCore
import Foundation
import Logging
import ServiceLifecycle

/// Deletes recordings older than `recording.retention_days`, in the background.
public final class RecordingRetention: Service {
    private let index: any RecordingIndex
    private let root: String
    private let days: Int
    private let interval: Duration
    private let logger: Logger

    public init(index: any RecordingIndex, root: String, days: Int, intervalSeconds: Int, logger: Logger) {
        self.index = index
        self.root = root
        self.days = days
        self.interval = .seconds(intervalSeconds)
        self.logger = logger
    }

    public func run() async throws {
        guard days > 0 else {
            try? await gracefulShutdown()
            return
        }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do { _ = try await sweep(now: Date()) } catch {
                logger.error("recording retention sweep failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
        }
    }

    /// Deletes every recording of a call that ended more than `days` before `now`; returns how many.
    @discardableResult public func sweep(now: Date) async throws -> Int {
        let cutoff = now.addingTimeInterval(-Double(days) * 86400)
        var deleted = 0
        while true {
            let batch = try await index.recordings(endedBefore: cutoff, limit: 500)
            if batch.isEmpty { break }
            for (id, relative) in batch {
                let path = URL(fileURLWithPath: root).appendingPathComponent(relative).standardizedFileURL.path
                if path.hasPrefix(URL(fileURLWithPath: root).standardizedFileURL.path + "/") {
                    try? FileManager.default.removeItem(atPath: path)
                }
                try await index.markRecordingDeleted(id, reason: "older than recording.retention_days (\(days))")
                deleted += 1
            }
        }
        if deleted > 0 {
            logger.info("old recordings deleted", metadata: ["count": "\(deleted)", "retention_days": "\(days)"])
        }
        return deleted
    }
}
