import AsyncAlgorithms
import CallTrackCore
import Foundation
import Logging
import ServiceLifecycle

/// Writes a stream of changes to the database in batches, off the thread that produced them.
///
/// It runs until its stream ends, so a graceful shutdown loses nothing: the call-record
/// stream is ended by Telephony after the last call; other streams are ended by `finish`,
/// called when the service group reaches this writer in its shutdown order.
///
/// A batch that fails because the disk is full, read-only or locked, or PostgreSQL cannot be reached, is
/// held and retried with backoff (calls go on meanwhile; later changes wait in the stream), for up to
/// `holdSeconds`, so that a disk that is freed or a database that returns loses nothing; the log says
/// once when writing stops and why, and once when it resumes. Any other failure is retried twice at
/// once, then logged and dropped.
public final class BatchWriter<Change: Sendable>: Service {
    private let name: String
    private let changes: AsyncStream<Change>
    private let finish: (@Sendable () -> Void)?
    private let apply: @Sendable ([Change]) async throws -> Void
    private let logger: Logger
    /// How long a batch is held while the disk cannot take it: this bounds the memory the changes
    /// waiting behind it take.
    private let holdSeconds: Double

    public init(
        name: String, changes: AsyncStream<Change>, finishOnShutdown finish: (@Sendable () -> Void)? = nil,
        holdSeconds: Double = 600, logger: Logger, apply: @escaping @Sendable ([Change]) async throws -> Void
    ) {
        self.name = name
        self.changes = changes
        self.finish = finish
        self.apply = apply
        self.logger = logger
        self.holdSeconds = holdSeconds
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            for await batch in changes.chunks(ofCount: 512, or: .repeating(every: .milliseconds(50))) {
                await write(batch)
            }
            if finish == nil {
                // Every event is written; stay up until the group reaches this service in its shutdown order.
                try? await gracefulShutdown()
            }
        } onGracefulShutdown: { [finish] in
            finish?()
        }
    }

    private func write(_ batch: [Change]) async {
        var attempt = 0, stoppedAt: ContinuousClock.Instant?
        while true {
            attempt += 1
            do {
                let start = ContinuousClock.now
                try await apply(batch)
                let took = ContinuousClock.now - start
                Telemetry.databaseBatch(
                    store: name, seconds: Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18)
                if let stoppedAt {
                    logger.notice(
                        "writing \(name) again; nothing was lost",
                        metadata: ["stopped_seconds": "\(Int((ContinuousClock.now - stoppedAt).components.seconds))"])
                }
                return
            } catch let error as DatabaseError where error.isPassing {
                let since = stoppedAt ?? .now
                if stoppedAt == nil {
                    logger.error(
                        "cannot write \(name); calls go on, and the changes are held and retried",
                        metadata: ["error": "\(error.message)"])
                    stoppedAt = since
                }
                // Shutting down, a held batch gets a few seconds more, not the whole hold.
                let hold = Task.isShuttingDownGracefully || Task.isCancelled ? min(holdSeconds, 10) : holdSeconds
                if ContinuousClock.now - since > .seconds(hold) {
                    logger.critical(
                        "\(name) dropped: the database could not take them",
                        metadata: [
                            "changes": "\(batch.count)", "held_seconds": "\(Int(holdSeconds))",
                            "error": "\(error.message)",
                        ])
                    return
                }
                let wait = min(30, 0.5 * pow(2, Double(min(attempt, 6))))
                if Task.isCancelled {
                    usleep(UInt32(min(wait, 1) * 1_000_000))  // Task.sleep returns at once in a cancelled task
                } else {
                    try? await Task.sleep(for: .seconds(wait))
                }
            } catch {
                logger.error("cannot write \(name)", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                if attempt >= 3 { return }
            }
        }
    }
}
