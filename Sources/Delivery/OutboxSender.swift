import AsyncHTTPClient
import CallTrackCore
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Storage

/// Sends the outbox's deliveries: one worker per endpoint, so a slow or failing endpoint never holds
/// up another or any call; each delivery is retried with exponential backoff
/// (`delivery.retry_base_seconds`, doubling, at most an hour apart) until its endpoint takes it
/// (HTTP 2xx within 10 s, or the mail relay's OK), or until it is `delivery.max_age_hours` old.
/// Nothing is lost across restarts: the state lives in the outbox, and a delivery cut short by
/// shutdown is sent again.
public final class OutboxSender: Service {
    /// One destination and how to reach it; `url` is the outbox's name for it.
    public struct Endpoint: Sendable {
        public enum Channel: Sendable {
            /// Signed JSON; each project signs with its own secret.
            case webhook(secrets: [String: String])
            /// GA4's Measurement Protocol, with its API secret.
            case ga4(apiSecret: String)
            /// Metrica's calls upload: every due call in one file, at most once per interval.
            case metrica(token: String, uploadIntervalSeconds: Double)
            /// Missed-call e-mail to these addresses, through the SMTP relay.
            case email(recipients: [String])
        }
        public let url: String
        public let channel: Channel
        public init(url: String, channel: Channel) { self.url = url; self.channel = channel }
    }

    private let outbox: SQLiteOutbox
    private let endpoints: [Endpoint]
    private let config: DeliveryConfig
    private let renderer: OutboxRenderer
    private let smtp: SMTPRelay?
    private let logger: Logger
    static let timeout: TimeAmount = .seconds(10)
    /// The longest a worker sleeps before looking at the outbox again (new events wake it no sooner).
    static let pollMilliseconds: Int64 = 200
    /// Calls in one Metrica upload at most.
    static let uploadRows = 1000

    public init(outbox: SQLiteOutbox, endpoints: [Endpoint], config: DeliveryConfig, renderer: OutboxRenderer,
                smtp: SMTPRelay?, logger: Logger) {
        self.outbox = outbox; self.endpoints = endpoints; self.config = config; self.renderer = renderer; self.smtp = smtp
        self.logger = logger
    }

    /// Delivered and failed deliveries stay in the log this long.
    static let logDays = 30.0

    public func run() async throws {
        // A service that returns ends the whole group: without endpoints, wait for the shutdown.
        guard !endpoints.isEmpty else { try? await gracefulShutdown(); return }
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow,
                                                     timeout: .init(connect: .seconds(5), read: Self.timeout))
        configuration.connectionPool.idleTimeout = .seconds(30)
        // The outbox retries with its own backoff; the client's retrying a refused connection or a bad
        // certificate until the connect timeout only cost 5 s per delivery of a failing endpoint.
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        // On shutdown a request in flight is cut short: it stays pending and goes out after the restart.
        try? await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for endpoint in self.endpoints {
                    group.addTask { await self.work(endpoint, client: client) }
                }
                group.addTask {
                    // The log is bounded: old finished deliveries are forgotten, hourly.
                    while !Task.isCancelled {
                        let keep = max(Self.logDays * 86400, self.config.maxAgeHours * 3600)
                        _ = try? self.outbox.prune(before: Date().addingTimeInterval(-keep))
                        try? await Task.sleep(for: .seconds(3600))
                    }
                }
            }
        }
        try? await client.shutdown()
    }

    private enum Outcome { case success(String), failure(String) }

    /// One endpoint's deliveries, oldest first, until shutdown.
    private func work(_ endpoint: Endpoint, client: HTTPClient) async {
        var failing: String?  // the reason while the endpoint fails: logged once per change of state
        var lastUpload = Date.distantPast
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var waitUntil: Date?
            var due: [OutboxEntry] = []
            if case .metrica(_, let interval) = endpoint.channel, Date() < lastUpload.addingTimeInterval(interval) {
                waitUntil = lastUpload.addingTimeInterval(interval)
            } else {
                due = (try? outbox.due(endpoint: endpoint.url, now: Date(), limit: Self.uploadRows)) ?? []
            }
            // Metrica takes every due call in one upload; everything else goes one by one.
            let groups: [[OutboxEntry]]
            if case .metrica = endpoint.channel { groups = due.isEmpty ? [] : [due] } else { groups = due.map { [$0] } }
            for group in groups {
                if Task.isShuttingDownGracefully { break }
                let (built, unbuildable) = bodies(group)
                if !unbuildable.isEmpty {
                    record(.failure("what the event is about is gone"), unbuildable.map { ($0, nil) }, endpoint, &failing)
                }
                if built.isEmpty { continue }
                let outcome = await send(built, to: endpoint, client: client)
                if case .metrica = endpoint.channel { lastUpload = Date() }
                record(outcome, built.map { ($0.entry, $0.body) }, endpoint, &failing)
            }
            if due.isEmpty || failing != nil {
                // Sleep until the next delivery is due, but look again soon for new events.
                let next = waitUntil?.timeIntervalSinceNow ?? (try? outbox.nextDue(endpoint: endpoint.url))?.timeIntervalSinceNow ?? 1
                let ms = max(20, min(Self.pollMilliseconds, Int64(next * 1000)))
                try? await Task.sleep(for: .milliseconds(ms))
            }
        }
    }

    /// Each entry's body: as stored by a failed attempt, or rendered now (and stored if this attempt
    /// fails, so that every retry sends the same bytes).
    private func bodies(_ entries: [OutboxEntry]) -> (built: [(entry: OutboxEntry, body: Data)], unbuildable: [OutboxEntry]) {
        var built: [(entry: OutboxEntry, body: Data)] = [], unbuildable: [OutboxEntry] = []
        for entry in entries {
            if let body = entry.body {
                built.append((entry, body))
            } else if let body = try? renderer.body(entry) {
                built.append((entry, body))
            } else {
                unbuildable.append(entry)
            }
        }
        return (built, unbuildable)
    }

    private func record(_ outcome: Outcome, _ attempted: [(entry: OutboxEntry, body: Data?)], _ endpoint: Endpoint,
                        _ failing: inout String?) {
        let entries = attempted.map(\.entry)
        let name = endpoint.url
        switch outcome {
        case .success(let result):
            try? outbox.delivered(entries.map(\.id), result: result, at: Date())
            if let was = failing {
                logger.info("delivery endpoint takes deliveries again", metadata: ["endpoint": "\(name)", "was": "\(was)"])
                failing = nil
            }
        case .failure(let reason):
            var attempts: [(id: String, next: Date?, body: Data?)] = []
            for (entry, body) in attempted {
                let age = Date().timeIntervalSince(entry.createdAt)
                let wait = min(3600, config.retryBaseSeconds * pow(2, Double(min(entry.attempts, 20))))
                let giveUp = age + wait > config.maxAgeHours * 3600
                attempts.append((entry.id, giveUp ? nil : Date().addingTimeInterval(wait), entry.body == nil ? body : nil))
                if giveUp {
                    logger.error("delivery given up", metadata: ["endpoint": "\(name)", "event": "\(entry.id)", "type": "\(entry.event)"])
                }
            }
            try? outbox.attemptFailed(attempts, result: reason)
            Telemetry.deliveryFailed(endpoint: name)
            if failing == nil {
                logger.warning("delivery endpoint fails; deliveries are kept and retried",
                               metadata: ["endpoint": "\(name)", "reason": "\(reason)"])
            }
            failing = reason
        }
    }

    private func send(_ items: [(entry: OutboxEntry, body: Data)], to endpoint: Endpoint, client: HTTPClient) async -> Outcome {
        var request: HTTPClientRequest
        let body: Data
        switch endpoint.channel {
        case .email(let recipients):
            guard let smtp else { return .failure("no smtp relay is configured") }
            for item in items {
                if let problem = await smtp.send(item.body, to: recipients, timeoutSeconds: 30) { return .failure(problem) }
            }
            return .success("sent")
        case .webhook(let secrets):
            let entry = items[0].entry
            body = items[0].body
            request = HTTPClientRequest(url: endpoint.url)
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "X-CallTrack-Event", value: entry.event)
            request.headers.add(name: "X-CallTrack-Delivery", value: entry.id)
            request.headers.add(name: "X-CallTrack-Signature",
                                value: WebhookSignature.header(secret: secrets[entry.project] ?? "",
                                                               timestamp: Int(Date().timeIntervalSince1970), body: body))
        case .ga4(let secret):
            body = items[0].body
            request = HTTPClientRequest(url: endpoint.url + "&api_secret=" + secret.percentEncodedUnreserved)
            request.headers.add(name: "Content-Type", value: "application/json")
        case .metrica(let token, _):
            let boundary = MetricaUpload.boundary()
            body = MetricaUpload.body(rows: items.map(\.body), boundary: boundary)
            request = HTTPClientRequest(url: endpoint.url)
            request.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
            request.headers.add(name: "Authorization", value: "OAuth \(token)")
        }
        request.method = .POST
        request.headers.add(name: "User-Agent", value: "CallTrack")
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, deadline: .now() + Self.timeout)
            _ = try? await response.body.collect(upTo: 64 * 1024)  // read, so the connection can be reused
            let code = Int(response.status.code)
            return (200..<300).contains(code) ? .success(String(code)) : .failure("HTTP \(code)")
        } catch {
            return .failure("\(error)")
        }
    }
}

/// Turns an outbox entry into the bytes its endpoint gets, from what storage holds now.
public struct OutboxRenderer: Sendable {
    let store: SQLiteCallRecordStore
    let callJSON: @Sendable (CallRecord) throws -> Data
    let saleJSON: @Sendable (Sale) throws -> Data
    /// The missed-call e-mail of each project that sends one.
    let emails: [String: MissedCallEmail]

    public init(store: SQLiteCallRecordStore, callJSON: @escaping @Sendable (CallRecord) throws -> Data,
                saleJSON: @escaping @Sendable (Sale) throws -> Data, emails: [String: MissedCallEmail]) {
        self.store = store; self.callJSON = callJSON; self.saleJSON = saleJSON; self.emails = emails
    }

    /// Nil when what the event is about is gone.
    func body(_ entry: OutboxEntry) throws -> Data? {
        switch entry.event {
        case "sale.recorded":
            guard let sale = try entry.dealID.flatMap({ try store.sale(project: entry.project, dealID: $0) }) else { return nil }
            return try WebhookEnvelope.body(entry, key: "sale", json: saleJSON(sale))
        case "metrica.call":
            return try entry.callID.flatMap { try store.exportCall(id: $0) }.flatMap(MetricaUpload.row)
        default:
            guard let call = try entry.callID.flatMap({ try store.call(id: $0) }) else { return nil }
            switch entry.event {
            case "ga4.phone_call": return try GA4.body(call)
            case "email.missed_call": return emails[entry.project]?.message(call, eventID: entry.id)
            default: return try WebhookEnvelope.body(entry, key: "call", json: callJSON(call))
            }
        }
    }
}
