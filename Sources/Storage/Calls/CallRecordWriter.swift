import AsyncAlgorithms
import CallTrackCore
import Logging
import ServiceLifecycle

/// Writes call events to the database in batches, off the SIP thread.
///
/// It runs until the event stream ends (Telephony finishes it after the last call), so a
/// graceful shutdown loses no event. A failed batch is retried, then logged and dropped.
public final class CallRecordWriter: Service {
    private let store: SQLiteCallRecordStore
    private let events: AsyncStream<CallEvent>
    private let logger: Logger

    public init(store: SQLiteCallRecordStore, events: AsyncStream<CallEvent>, logger: Logger) {
        self.store = store
        self.events = events
        self.logger = logger
    }

    public func run() async throws {
        // Ignore cancellation-on-shutdown: the stream's end is the signal to stop.
        for await batch in events.chunks(ofCount: 512, or: .repeating(every: .milliseconds(50))) {
            write(batch)
        }
        // Every event is written; stay up until the group reaches this service in its shutdown order.
        try? await gracefulShutdown()
    }

    private func write(_ batch: [CallEvent]) {
        for attempt in 1...3 {
            do {
                try store.apply(batch)
                return
            } catch {
                logger.error("cannot write call records", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
            }
        }
    }
}
