import Synchronization

/// Fans call events out to every subscriber without ever blocking the publisher.
///
/// Telephony publishes from libre's thread; each subscriber gets its own unbounded
/// `AsyncStream`, so a slow consumer (the database) never stalls SIP. Each event is numbered and,
/// with a log, written there before any subscriber sees it: an event a crash catches between the bus
/// and the database is read back from the log at the next start.
public final class CallEventBus: Sendable {
    private struct State {
        var continuations: [AsyncStream<Numbered<CallEvent>>.Continuation] = []
        var next: UInt64
    }
    private let state: Mutex<State>
    private let log: (any WriteAheadLog<CallEvent>)?

    /// `firstNumber` continues the numbering of the events the log already holds.
    public init(log: (any WriteAheadLog<CallEvent>)? = nil, firstNumber: UInt64 = 1) {
        self.log = log
        state = Mutex(State(next: firstNumber))
    }

    /// A stream of every event published from now on; it ends when the bus is finished.
    public func subscribe() -> AsyncStream<Numbered<CallEvent>> {
        let (stream, continuation) = AsyncStream<Numbered<CallEvent>>.makeStream(bufferingPolicy: .unbounded)
        state.withLock { $0.continuations.append(continuation) }
        return stream
    }

    /// Logs and hands on `event`; under one lock, so the log's order is every subscriber's order.
    public func publish(_ event: CallEvent) {
        state.withLock { state in
            let numbered = Numbered(number: state.next, value: event)
            state.next += 1
            log?.append(numbered)
            for c in state.continuations { c.yield(numbered) }
        }
    }

    /// Ends every subscriber's stream (after the last call has ended).
    public func finish() {
        let list = state.withLock { state in
            defer { state.continuations.removeAll() }
            return state.continuations
        }
        for c in list { c.finish() }
    }
}
