import Synchronization

/// Fans events out to every subscriber without ever blocking the publisher.
///
/// Telephony publishes call events from libre's thread, Tracking its visits and reservations from
/// HTTP's; each subscriber gets its own unbounded `AsyncStream`, so a slow consumer (the database)
/// never stalls them. Each event is numbered and, with a log, written there before any subscriber
/// sees it: an event a crash catches between the bus and the database is read back from the log at
/// the next start.
public final class EventBus<Event: Sendable>: Sendable {
    private struct State {
        var continuations: [AsyncStream<Numbered<Event>>.Continuation] = []
        var next: UInt64
    }
    private let state: Mutex<State>
    private let log: (any WriteAheadLog<Event>)?

    /// `firstNumber` continues the numbering of the events the log already holds.
    public init(log: (any WriteAheadLog<Event>)? = nil, firstNumber: UInt64 = 1) {
        self.log = log
        state = Mutex(State(next: firstNumber))
    }

    /// A stream of every event published from now on; it ends when the bus is finished.
    public func subscribe() -> AsyncStream<Numbered<Event>> {
        let (stream, continuation) = AsyncStream<Numbered<Event>>.makeStream(bufferingPolicy: .unbounded)
        state.withLock { $0.continuations.append(continuation) }
        return stream
    }

    /// Logs and hands on `event`; under one lock, so the log's order is every subscriber's order.
    public func publish(_ event: Event) {
        state.withLock { state in
            let numbered = Numbered(number: state.next, value: event)
            state.next += 1
            log?.append(numbered)
            for c in state.continuations { c.yield(numbered) }
        }
    }

    /// Ends every subscriber's stream (after the last call has ended, or the last change is handed on).
    public func finish() {
        let list = state.withLock { state in
            defer { state.continuations.removeAll() }
            return state.continuations
        }
        for c in list { c.finish() }
    }
}

/// What Telephony and the recorder publish, and the call-record writer stores.
public typealias CallEventBus = EventBus<CallEvent>
