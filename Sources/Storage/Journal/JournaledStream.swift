import CallTrackCore
import Synchronization

/// A stream of changes for one consumer (a batch writer), each numbered and written to a journal
/// before the consumer can see it, under one lock so the journal's order is the stream's.
public final class JournaledStream<Change: Codable & Sendable>: Sendable {
    public let changes: AsyncStream<Numbered<Change>>
    private let continuation: AsyncStream<Numbered<Change>>.Continuation
    public let journal: Journal<Change>
    private let next: Mutex<UInt64>

    public init(journal: Journal<Change>) {
        self.journal = journal
        (changes, continuation) = AsyncStream<Numbered<Change>>.makeStream(bufferingPolicy: .unbounded)
        next = Mutex(journal.nextNumber)
    }

    public func yield(_ change: Change) {
        next.withLock { next in
            let numbered = Numbered(number: next, value: change)
            next += 1
            journal.append(numbered)
            continuation.yield(numbered)
        }
    }

    public func finish() { continuation.finish() }
}
