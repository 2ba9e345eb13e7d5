import AsyncHTTPClient
import CallTrackCore
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Storage

/// Sends the outbox's deliveries: one worker per endpoint, so a slow or failing endpoint never holds
/// up another or any call; each delivery is retried with exponential backoff
/// (`delivery.retry_base_seconds`, doubling, at most an hour apart) until its endpoint takes it, or
/// until it is `delivery.max_age_hours` old. Nothing is lost across restarts: the state lives in the
/// outbox, and a delivery cut short by shutdown is sent again. What each endpoint needs is its
/// `DeliveryChannel`'s business; this type only schedules.
public final class OutboxSender: Service {
    private let outbox: any OutboxRepository
    private let channels: [any DeliveryChannel]
    private let source: DeliverySource
    private let config: DeliveryConfig
    private let smtp: SMTPRelay?
    private let logger: Logger
    /// The longest a worker sleeps before looking at the outbox again (new events wake it no sooner).
    static let pollMilliseconds: Int64 = 200
    /// Due deliveries read at once.
    static let dueLimit = 1000
    /// Delivered and failed deliveries stay in the log this long.
    static let logDays = 30.0

    public init(
        outbox: any OutboxRepository, channels: [any DeliveryChannel], source: DeliverySource, config: DeliveryConfig,
        smtp: SMTPRelay?, logger: Logger
    ) {
        self.outbox = outbox
        self.channels = channels
        self.source = source
        self.config = config
        self.smtp = smtp
        self.logger = logger
    }

    public func run() async throws {
        // A service that returns ends the whole group: without endpoints, wait for the shutdown.
        guard !channels.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(10)))
        configuration.connectionPool.idleTimeout = .seconds(30)
        // The outbox retries with its own backoff; the client's retrying a refused connection or a bad
        // certificate until the connect timeout only cost 5 s per delivery of a failing endpoint.
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let transport = DeliveryTransport(http: client, smtp: smtp)
        // On shutdown a request in flight is cut short: it stays pending and goes out after the restart.
        try? await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for channel in self.channels { group.addTask { await self.work(channel, transport: transport) } }
                group.addTask { await self.pruneHourly() }
            }
        }
        try? await client.shutdown()
    }

    /// The log is bounded: old finished deliveries are forgotten, hourly.
    private func pruneHourly() async {
        while !Task.isCancelled {
            let keep = max(Self.logDays * 86400, config.maxAgeHours * 3600)
            await outboxCall("prune") { try await $0.prune(before: Date().addingTimeInterval(-keep)) }
            try? await Task.sleep(for: .seconds(3600))
        }
    }

    /// One endpoint's deliveries, oldest first, until shutdown.
    private func work(_ channel: any DeliveryChannel, transport: DeliveryTransport) async {
        var failing: String?  // the reason while the endpoint fails: logged once per change of state
        var lastAttempt = Date.distantPast
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let nextAllowed = lastAttempt.addingTimeInterval(channel.attemptInterval)
            let due =
                Date() < nextAllowed
                ? []
                : await outboxCall("due") {
                    try await $0.due(endpoint: channel.endpoint, now: Date(), limit: Self.dueLimit)
                } ?? []
            // A channel that takes several at once gets every due one in one attempt.
            let attempts = channel.batchLimit == 1 ? due.map { [$0] } : (due.isEmpty ? [] : [due])
            for entries in attempts {
                if Task.isShuttingDownGracefully { break }
                let (ready, gone) = await prepare(entries, channel)
                if !gone.isEmpty {
                    await record(.failed("what the event is about is gone"), gone.map { ($0, nil) }, channel, &failing)
                }
                if ready.isEmpty { continue }
                let result = await channel.send(ready, via: transport)
                lastAttempt = Date()
                await record(result, ready.map { ($0.entry, $0.body) }, channel, &failing)
            }
            if due.isEmpty || failing != nil {
                // Sleep until the next delivery is due, but look again soon for new events.
                let next =
                    Date() < nextAllowed
                    ? nextAllowed
                    : await outboxCall("next_due") { try await $0.nextDue(endpoint: channel.endpoint) } ?? nil
                let ms = max(20, min(Self.pollMilliseconds, Int64((next?.timeIntervalSinceNow ?? 1) * 1000)))
                try? await Task.sleep(for: .milliseconds(ms))
            }
        }
    }

    /// Each entry's body: as stored by a failed attempt, or built now (and stored if this attempt
    /// fails, so that every retry sends the same bytes); entries whose subject is gone apart.
    private func prepare(_ entries: [OutboxEntry], _ channel: any DeliveryChannel) async -> (
        ready: [Delivery], gone: [OutboxEntry]
    ) {
        var ready: [Delivery] = [], gone: [OutboxEntry] = []
        for entry in entries {
            if let body = entry.body {
                ready.append(Delivery(entry: entry, body: body))
            } else if let body = try? await channel.body(entry, from: source) {
                ready.append(Delivery(entry: entry, body: body))
            } else {
                gone.append(entry)
            }
        }
        return (ready, gone)
    }

    private func record(
        _ result: DeliveryResult, _ attempted: [(entry: OutboxEntry, body: Data?)], _ channel: any DeliveryChannel,
        _ failing: inout String?
    ) async {
        let name = channel.endpoint
        switch result {
        case .delivered(let answer):
            await outboxCall("delivered") {
                try await $0.delivered(attempted.map(\.entry.id), result: answer, at: Date())
            }
            if let was = failing {
                logger.info(
                    "delivery endpoint takes deliveries again", metadata: ["endpoint": "\(name)", "was": "\(was)"])
                failing = nil
            }
        case .failed(let reason):
            let now = Date()
            let attempts = attempted.map { entry, body in
                let next = Self.nextAttempt(after: entry, now: now, config: config)
                if next == nil {
                    logger.error(
                        "delivery given up",
                        metadata: ["endpoint": "\(name)", "event": "\(entry.id)", "type": "\(entry.event.rawValue)"])
                }
                return FailedAttempt(id: entry.id, next: next, body: entry.body == nil ? body : nil)
            }
            await outboxCall("attempt_failed") { try await $0.attemptFailed(attempts, result: reason) }
            Telemetry.deliveryFailed(endpoint: name)
            if failing == nil {
                logger.warning(
                    "delivery endpoint fails; deliveries are kept and retried",
                    metadata: ["endpoint": "\(name)", "reason": "\(reason)"])
            }
            failing = reason
        }
    }

    /// When a delivery that just failed goes again: `retry_base_seconds` after its first failure, twice
    /// as long after each next one, at most an hour apart; nil (given up) once that would be past
    /// `max_age_hours` from its event.
    static func nextAttempt(after entry: OutboxEntry, now: Date, config: DeliveryConfig) -> Date? {
        let wait = min(3600, config.retryBaseSeconds * pow(2, Double(min(entry.attempts, 20))))
        let age = now.timeIntervalSince(entry.createdAt)
        return age + wait > config.maxAgeHours * 3600 ? nil : now.addingTimeInterval(wait)
    }

    /// An outbox operation whose failure is logged and counted, never dropped in silence: a
    /// "delivered" that could not be written means the delivery goes again (at least once).
    @discardableResult private func outboxCall<T>(_ operation: String, _ body: (any OutboxRepository) async throws -> T)
        async -> T?
    {
        do { return try await body(outbox) } catch {
            Telemetry.outboxError(operation: operation)
            logger.error("outbox \(operation) failed", metadata: ["error": "\(error)"])
            return nil
        }
    }
}
