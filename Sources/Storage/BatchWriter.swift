import AsyncAlgorithms
import Logging
import ServiceLifecycle

/// Writes a stream of changes to the database in batches, off the thread that produced them.
///
/// It runs until its stream ends, so a graceful shutdown loses nothing: the call-record
/// stream is ended by Telephony after the last call; other streams are ended by `finish`,
/// called when the service group reaches this writer in its shutdown order. A failed batch
/// is retried, then logged.
public final class BatchWriter<Change: Sendable>: Service {
    private let name: String
    private let changes: AsyncStream<Change>
    private let finish: (@Sendable () -> Void)?
    private let apply: @Sendable ([Change]) throws -> Void
    private let logger: Logger

    public init(name: String, changes: AsyncStream<Change>, finishOnShutdown finish: (@Sendable () -> Void)? = nil,
                logger: Logger, apply: @escaping @Sendable ([Change]) throws -> Void) {
        self.name = name; self.changes = changes; self.finish = finish; self.apply = apply; self.logger = logger
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            for await batch in changes.chunks(ofCount: 512, or: .repeating(every: .milliseconds(50))) {
                write(batch)
            }
            if finish == nil {
                // Every event is written; stay up until the group reaches this service in its shutdown order.
                try? await gracefulShutdown()
            }
        } onGracefulShutdown: { [finish] in
            finish?()
        }
    }

    private func write(_ batch: [Change]) {
        for attempt in 1...3 {
            do {
                try apply(batch)
                return
            } catch {
                logger.error("cannot write \(name)", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
            }
        }
    }
}
