import AsyncHTTPClient
import CallTrackCore
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Storage

/// Sends the outbox's deliveries: one worker per endpoint URL, so a slow or failing endpoint never
/// holds up another or any call. A delivery an endpoint refuses is retried on its own with exponential
/// backoff (`delivery.retry_base_seconds`, doubling, at most an hour apart). An endpoint (scheme, host
/// and port) that cannot be reached or fails its requests is probed with one delivery at a time, at
/// most `delivery.probe_max_seconds` apart, while the rest wait and spend no attempts; the first probe
/// it takes makes its whole backlog due at once (`EndpointHealth`). A delivery is given up when it is
/// `delivery.max_age_hours` old. Nothing is lost across restarts: the state lives in the outbox, and a
/// delivery cut short by shutdown is sent again. What each endpoint needs is its `DeliveryChannel`'s
/// business; this type only schedules.
public final class OutboxSender: Service {
    private let outbox: any OutboxRepository
    private let channels: [any DeliveryChannel]
    private let source: DeliverySource
    private let config: DeliveryConfig
    private let smtp: SMTPRelay?
    private let logger: Logger
    private let health: EndpointHealth
    /// The URLs of every endpoint (scheme, host and port), whose outages they share.
    private let urls: [String: [String]]
    /// The longest a worker sleeps before looking at the outbox again (new events wake it no sooner).
    static let pollMilliseconds: Int64 = 200
    /// Due deliveries read at once.
    static let dueLimit = 1000
    /// Delivered and failed deliveries stay in the log this long.
    static let logDays = 30.0

    /// With several nodes, one sends each endpoint's deliveries: the one holding its lease.
    private let leases: any JobLeases

    public init(
        outbox: any OutboxRepository, channels: [any DeliveryChannel], source: DeliverySource, config: DeliveryConfig,
        smtp: SMTPRelay?, leases: any JobLeases = SoleNode(), logger: Logger
    ) {
        self.leases = leases
        self.outbox = outbox
        self.channels = channels
        self.source = source
        self.config = config
        self.smtp = smtp
        self.logger = logger
        health = EndpointHealth(probeMaxSeconds: config.probeMaxSeconds)
        urls = Dictionary(grouping: channels.map(\.endpoint), by: Self.endpoint)
    }

    /// An endpoint as outages count it: scheme, host and port (every `mailto:` is the one mail relay).
    static func endpoint(_ url: String) -> String { Telemetry.endpointLabel(url) }

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
            guard await leases.hold("outbox-prune") else {
                try? await Task.sleep(for: .seconds(60))
                continue
            }
            await outboxCall("prune") { try await $0.prune(before: Date().addingTimeInterval(-keep)) }
            try? await Task.sleep(for: .seconds(3600))
        }
    }

    /// One endpoint URL's deliveries, oldest first, until shutdown.
    private func work(_ channel: any DeliveryChannel, transport: DeliveryTransport) async {
        let endpoint = Self.endpoint(channel.endpoint)
        var lastAttempt = Date.distantPast
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            guard await leases.hold("outbox\u{1f}" + channel.endpoint) else {
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            if health.failing(endpoint) != nil {
                // A channel that paces its attempts (Metrica's uploads) probes at that pace too.
                if Date() >= lastAttempt.addingTimeInterval(channel.attemptInterval),
                    await probe(channel, endpoint: endpoint, transport: transport)
                {
                    lastAttempt = Date()
                }
                try? await Task.sleep(for: .milliseconds(Self.pollMilliseconds))
                continue
            }
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
                if Task.isShuttingDownGracefully || health.failing(endpoint) != nil { break }
                guard let ready = await prepare(entries, channel) else { continue }
                let result = await channel.send(ready, via: transport)
                lastAttempt = Date()
                await record(result, ready, channel, endpoint: endpoint, probe: false)
            }
            if due.isEmpty {
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

    /// While the endpoint fails, once a probe is due and no other worker sends it: the URL's deliveries
    /// past the maximum age are given up, and its oldest pending deliveries go (one attempt's worth: a
    /// delivery, or an upload), due or not. True when a probe was sent.
    private func probe(_ channel: any DeliveryChannel, endpoint: String, transport: DeliveryTransport) async -> Bool {
        guard health.claimProbe(endpoint, now: Date()) else { return false }
        let tooOld = Date().addingTimeInterval(-config.maxAgeHours * 3600)
        let reason = "given up: the endpoint failed for max_age_hours"
        if let n = await outboxCall(
            "give_up", { try await $0.giveUp(endpoint: channel.endpoint, createdBefore: tooOld, result: reason) }),
            n > 0
        {
            logger.error("deliveries given up", metadata: ["endpoint": "\(channel.endpoint)", "deliveries": "\(n)"])
        }
        let oldest = await outboxCall("oldest") {
            try await $0.oldestPending(endpoint: channel.endpoint, limit: channel.batchLimit)
        }
        guard let ready = await prepare(oldest ?? [], channel) else {
            health.probeSkipped(endpoint)
            return false
        }
        let result = await channel.send(ready, via: transport)
        await record(result, ready, channel, endpoint: endpoint, probe: true)
        return true
    }

    /// Each entry's body: as stored by a failed attempt, or built now (and stored if this attempt
    /// fails, so that every retry sends the same bytes). Entries whose subject is gone are retried on
    /// their own (and given up in the end); nil when none is left to send.
    private func prepare(_ entries: [OutboxEntry], _ channel: any DeliveryChannel) async -> [Delivery]? {
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
        if !gone.isEmpty { await retryLater(gone.map { ($0, nil) }, reason: "what the event is about is gone") }
        return ready.isEmpty ? nil : ready
    }

    /// What an attempt's result means for its deliveries, and for the endpoint (`probe`: the attempt
    /// was the probe of a failing endpoint).
    private func record(
        _ result: DeliveryResult, _ sent: [Delivery], _ channel: any DeliveryChannel, endpoint: String, probe: Bool
    ) async {
        switch result {
        case .delivered(let answer):
            await outboxCall("delivered") { try await $0.delivered(sent.map(\.entry.id), result: answer, at: Date()) }
            await endpointAnswered(endpoint)
        case .refused(let reason):
            Telemetry.deliveryFailed(endpoint: channel.endpoint)
            await retryLater(sent.map { ($0.entry, $0.body) }, reason: reason)
            await endpointAnswered(endpoint)
        case .failed(let reason):
            Telemetry.deliveryFailed(endpoint: channel.endpoint)
            await retryLater(sent.map { ($0.entry, $0.body) }, reason: reason)
            if probe {
                health.probeFailed(endpoint, reason: reason, now: Date())
            } else if health.failed(endpoint, reason: reason, now: Date()) {
                logger.warning(
                    "delivery endpoint fails; its deliveries are kept, and one at a time probes it",
                    metadata: ["endpoint": "\(endpoint)", "reason": "\(reason)"])
            }
        }
    }

    /// The endpoint answered: if it was failing, the outage is over and every delivery waiting for it
    /// is due now.
    private func endpointAnswered(_ endpoint: String) async {
        guard let was = health.recovered(endpoint) else { return }
        await outboxCall("release") { try await $0.releaseBacklog(endpoints: urls[endpoint] ?? [], now: Date()) }
        logger.info("delivery endpoint takes deliveries again", metadata: ["endpoint": "\(endpoint)", "was": "\(was)"])
    }

    /// A failed attempt of each delivery: it goes again after its backoff, or is given up.
    private func retryLater(_ attempted: [(entry: OutboxEntry, body: Data?)], reason: String) async {
        let now = Date()
        let attempts = attempted.map { entry, body in
            let next = Self.nextAttempt(after: entry, now: now, config: config)
            if next == nil {
                logger.error(
                    "delivery given up",
                    metadata: [
                        "endpoint": "\(entry.endpoint)", "event": "\(entry.id)", "type": "\(entry.event.rawValue)",
                    ])
            }
            return FailedAttempt(id: entry.id, next: next, body: entry.body == nil ? body : nil)
        }
        await outboxCall("attempt_failed") { try await $0.attemptFailed(attempts, result: reason) }
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
