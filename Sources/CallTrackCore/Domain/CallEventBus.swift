import Synchronization

/// Fans call events out to every subscriber without ever blocking the publisher.
///
/// Telephony publishes from libre's thread; each subscriber gets its own unbounded
/// `AsyncStream`, so a slow consumer (the database) never stalls SIP.
public final class CallEventBus: Sendable {
    private let continuations = Mutex<[AsyncStream<CallEvent>.Continuation]>([])

    public init() {}

    /// A stream of every event published from now on; it ends when the bus is finished.
    public func subscribe() -> AsyncStream<CallEvent> {
        let (stream, continuation) = AsyncStream<CallEvent>.makeStream(bufferingPolicy: .unbounded)
        continuations.withLock { $0.append(continuation) }
        return stream
    }

    public func publish(_ event: CallEvent) { continuations.withLock { list in for c in list { c.yield(event) } } }

    /// Ends every subscriber's stream (after the last call has ended).
    public func finish() {
        let list = continuations.withLock { list in
            defer { list.removeAll() }
            return list
        }
        for c in list { c.finish() }
    }
}
