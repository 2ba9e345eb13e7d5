import AsyncHTTPClient
import CallTrackCore
import Crypto
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Storage

/// `X-CallTrack-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
public enum WebhookSignature {
    public static func header(secret: String, timestamp: Int, body: Data) -> String {
        var signed = Data("\(timestamp).".utf8)
        signed.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(timestamp),v1=" + mac.map { String(format: "%02x", $0) }.joined()
    }
}

/// Sends the outbox's webhook deliveries: one worker per endpoint, so a slow or failing endpoint
/// never holds up another or any call; each delivery is retried with exponential backoff
/// (`delivery.retry_base_seconds`, doubling, at most an hour apart) until its endpoint answers 2xx
/// within 10 s, or until it is `delivery.max_age_hours` old. Nothing is lost across restarts: the
/// state lives in the outbox, and a delivery cut short by shutdown is sent again.
public final class WebhookSender: Service {
    /// A URL some projects send to, with each project's signing secret; or a GA4 collect URL with its API secret.
    public struct Endpoint: Sendable {
        public let url: String
        public let secrets: [String: String]
        public let ga4Secret: String?
        public init(url: String, secrets: [String: String] = [:], ga4Secret: String? = nil) {
            self.url = url; self.secrets = secrets; self.ga4Secret = ga4Secret
        }
    }

    private let outbox: SQLiteOutbox
    private let endpoints: [Endpoint]
    private let config: DeliveryConfig
    /// What an event is about, as JSON under its key: `call` (as `GET /v1/calls/{id}` shows it) or `sale`;
    /// for `ga4.phone_call` the whole GA4 body.
    private let renderSubject: @Sendable (OutboxEntry) throws -> (key: String, json: Data)?
    private let logger: Logger
    static let timeout: TimeAmount = .seconds(10)
    /// The longest a worker sleeps before looking at the outbox again (new events wake it no sooner).
    static let pollMilliseconds: Int64 = 200

    public init(outbox: SQLiteOutbox, endpoints: [Endpoint], config: DeliveryConfig,
                renderSubject: @escaping @Sendable (OutboxEntry) throws -> (key: String, json: Data)?, logger: Logger) {
        self.outbox = outbox; self.endpoints = endpoints; self.config = config; self.renderSubject = renderSubject
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

    /// One endpoint's deliveries, oldest first, until shutdown.
    private func work(_ endpoint: Endpoint, client: HTTPClient) async {
        var failing: String?  // the reason while the endpoint fails: logged once per change of state
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let due = (try? outbox.due(endpoint: endpoint.url, now: Date())) ?? []
            for entry in due {
                if Task.isShuttingDownGracefully { break }
                let result = await deliver(entry, to: endpoint, client: client)
                switch result {
                case .success(let code):
                    try? outbox.delivered(entry.id, result: String(code), at: Date())
                    if let was = failing {
                        logger.info("webhook endpoint delivers again", metadata: ["url": "\(endpoint.url)", "was": "\(was)"])
                        failing = nil
                    }
                case .failure(let reason):
                    let age = Date().timeIntervalSince(entry.createdAt)
                    let wait = min(3600, config.retryBaseSeconds * pow(2, Double(min(entry.attempts, 20))))
                    let giveUp = age + wait > config.maxAgeHours * 3600
                    try? outbox.attemptFailed(entry.id, result: reason, next: giveUp ? nil : Date().addingTimeInterval(wait))
                    if failing == nil {
                        logger.warning("webhook endpoint fails; deliveries are kept and retried",
                                       metadata: ["url": "\(endpoint.url)", "reason": "\(reason)"])
                    }
                    failing = reason
                    if giveUp {
                        logger.error("webhook delivery given up", metadata: ["url": "\(endpoint.url)", "event": "\(entry.id)",
                                                                               "type": "\(entry.event)"])
                    }
                }
            }
            if due.isEmpty || failing != nil {
                // Sleep until the next delivery is due, but look again soon for new events.
                let next = (try? outbox.nextDue(endpoint: endpoint.url))?.timeIntervalSinceNow ?? 1
                let ms = max(20, min(Self.pollMilliseconds, Int64(next * 1000)))
                try? await Task.sleep(for: .milliseconds(ms))
            }
        }
    }

    private enum Outcome { case success(Int), failure(String) }

    private func deliver(_ entry: OutboxEntry, to endpoint: Endpoint, client: HTTPClient) async -> Outcome {
        let body: Data
        if let stored = entry.body {
            body = stored
        } else {
            do {
                guard let built = try envelope(entry) else { return .failure("what the event is about is gone") }
                body = built
                try outbox.setBody(entry.id, built)
            } catch {
                return .failure("cannot build the body: \(error)")
            }
        }
        var request: HTTPClientRequest
        if let secret = endpoint.ga4Secret {
            request = HTTPClientRequest(url: endpoint.url + "&api_secret=" + secret.percentEncodedUnreserved)
        } else {
            request = HTTPClientRequest(url: endpoint.url)
            request.headers.add(name: "X-CallTrack-Event", value: entry.event)
            request.headers.add(name: "X-CallTrack-Delivery", value: entry.id)
            request.headers.add(name: "X-CallTrack-Signature",
                                value: WebhookSignature.header(secret: endpoint.secrets[entry.project] ?? "",
                                                               timestamp: Int(Date().timeIntervalSince1970), body: body))
        }
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "CallTrack")
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, deadline: .now() + Self.timeout)
            _ = try? await response.body.collect(upTo: 64 * 1024)  // read, so the connection can be reused
            let code = Int(response.status.code)
            return (200..<300).contains(code) ? .success(code) : .failure("HTTP \(code)")
        } catch {
            return .failure("\(error)")
        }
    }

    /// A `phone_call` event for the visitor's GA client id, with the call's source and outcome.
    public static func ga4Body(_ call: CallRecord) throws -> Data? {
        guard let a = call.start.attribution, let client = a.gaClientID else { return nil }
        var params: [String: Any] = [
            "call_id": call.id.rawValue, "answered": call.status == .answered ? 1 : 0, "first_time": call.firstTime ? 1 : 0,
            "duration_seconds": Int((call.talkSeconds ?? 0).rounded()),
        ]
        for (key, value) in [("source", a.source), ("medium", a.medium), ("campaign", a.campaign)] {
            if let value { params[key] = String(value.prefix(100)) }
        }
        return try JSONSerialization.data(withJSONObject: ["client_id": client, "events": [["name": "phone_call", "params": params]]],
                                          options: [.sortedKeys])
    }

    /// `{"call" or "sale": …, "created_at", "id", "project", "type"}`, keys in order; for GA4 the
    /// Measurement Protocol body as rendered (`ga4Body`).
    private func envelope(_ entry: OutboxEntry) throws -> Data? {
        guard let subject = try renderSubject(entry) else { return nil }
        if entry.event == "ga4.phone_call" { return subject.json }
        func string(_ s: String) throws -> Data { try JSONEncoder().encode(s) }
        let created = ISO8601DateFormatter.string(from: entry.createdAt, timeZone: .gmt,
                                                  formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        let fields: [(String, Data)] = [(subject.key, subject.json), ("created_at", try string(created)), ("id", try string(entry.id)),
                                        ("project", try string(entry.project)), ("type", try string(entry.event))]
        var body = Data("{".utf8)
        for (i, (key, value)) in fields.sorted(by: { $0.0 < $1.0 }).enumerated() {
            if i > 0 { body.append(Data(",".utf8)) }
            body.append(try string(key))
            body.append(Data(":".utf8))
            body.append(value)
        }
        body.append(Data("}".utf8))
        return body
    }
}
