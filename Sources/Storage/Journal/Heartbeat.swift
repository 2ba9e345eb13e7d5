import Foundation
import Logging
import ServiceLifecycle

/// Notes the time in a file once a second while the process runs, so that calls a crash cut short end
/// when the process was last alive, not at the restart.
public struct Heartbeat: Service {
    public let path: String
    private let logger: Logger

    public init(path: String, logger: Logger) {
        self.path = path
        self.logger = logger
    }

    /// When the last run was last alive (nil when it never wrote).
    public func lastAlive() -> Date? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let seconds = Double(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return nil }
        return Date(timeIntervalSince1970: seconds)
    }

    public func run() async throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            logger.error("cannot write \(path): calls a crash interrupts will end at the restart's time")
            return try await gracefulShutdown()
        }
        defer { close(fd) }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // Fixed width, so a rewrite in place never leaves a longer old tail behind.
            let stamp = String(format: "%020.3f\n", Date().timeIntervalSince1970)
            _ = stamp.withCString { pwrite(fd, $0, 21, 0) }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
