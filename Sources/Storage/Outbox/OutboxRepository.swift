import CallTrackCore
import Foundation

/// One delivery waiting in, or logged by, the outbox.
public struct OutboxEntry: Sendable, Equatable {
    public enum Status: String, Sendable { case pending, delivered, failed }
    /// The event's id: the same on every attempt (`X-CallTrack-Delivery`).
    public let id, project, endpoint: String
    public let event: DeliveryEvent
    public let callID: CallID?
    /// For `sale.recorded`: the CRM's deal.
    public let dealID: String?
    public let createdAt: Date
    public let status: Status
    public let attempts: Int
    public let nextAttemptAt: Date?
    public let lastResult: String?
    /// The body as first sent, so that every retry sends the same bytes.
    public let body: Data?

    /// `evt_` and 32 hex digits: the only shape an event id has.
    public static func isEventID(_ s: String) -> Bool {
        s.count == 36 && s.hasPrefix("evt_") && s.dropFirst(4).allSatisfy(\.isHexDigit)
    }
}

/// A failed attempt of one delivery: retried at `next`, or given up when that is nil; `body` is what
/// the attempt sent, kept (when none was) so that every retry sends the same bytes.
public struct FailedAttempt: Sendable {
    public let id: String
    public let next: Date?
    public let body: Data?
    public init(id: String, next: Date?, body: Data?) {
        self.id = id
        self.next = next
        self.body = body
    }
}

/// The persistent outbox of outgoing deliveries: what the sender works through and the delivery log
/// the API and the dashboard show. Rows are added with the change behind them (`DeliveryRoutes`).
public protocol OutboxRepository: Sendable {
    /// The endpoint's deliveries due by `now`, oldest first.
    func due(endpoint: String, now: Date, limit: Int) async throws -> [OutboxEntry]
    /// When the endpoint's next pending delivery is due, if it has one.
    func nextDue(endpoint: String) async throws -> Date?
    /// The endpoint's oldest pending deliveries (at most `limit`), due or not: what probes an endpoint that fails.
    func oldestPending(endpoint: String, limit: Int) async throws -> [OutboxEntry]
    /// Makes every pending delivery of these endpoints due at `now` (an outage is over).
    func releaseBacklog(endpoints: [String], now: Date) async throws
    /// Gives up the endpoint's pending deliveries made before `date` (`failed`, with `result`); how many.
    func giveUp(endpoint: String, createdBefore date: Date, result: String) async throws -> Int
    /// Marks deliveries sent together (one upload) delivered, at once.
    func delivered(_ ids: [String], result: String, at: Date) async throws
    /// Records a failed attempt of each delivery (one `result` for all of them).
    func attemptFailed(_ attempts: [FailedAttempt], result: String) async throws
    /// The delivery log, newest first, optionally of one status and one project; `before` continues a page.
    func entries(status: OutboxEntry.Status?, project: String?, limit: Int, before: String?) async throws
        -> [OutboxEntry]
    /// Sends a delivery again now, whatever its state; false for an unknown id.
    func retry(_ id: String, now: Date) async throws -> Bool
    /// Forgets delivered and failed deliveries created before `date`; returns how many.
    @discardableResult func prune(before date: Date) async throws -> Int
    /// Pending deliveries per endpoint, for /metrics.
    func backlog() async throws -> [String: Int]
}
