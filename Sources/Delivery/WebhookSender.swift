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
    /// A URL some projects send to, with each project's signing secret.
    public struct Endpoint: Sendable {
        public let url: String
        public let secrets: [String: String]
        public init(url: String, secrets: [String: String]) { self.url = url; self.secrets = secrets }
    }

    private let outbox: SQLiteOutbox
    private let endpoints: [Endpoint]
    private let config: DeliveryConfig
    /// The body of an event about a call: the call as `GET /v1/calls/{id}` shows it.
    private let renderCall: @Sendable (CallID) throws -> Data?
    private let logger: Logger
    static let timeout: TimeAmount = .seconds(10)
    /// The longest a worker sleeps before looking at the outbox again (new events wake it no sooner).
    static let pollMilliseconds: Int64 = 200

    public init(outbox: SQLiteOutbox, endpoints: [Endpoint], config: DeliveryConfig,
                renderCall: @escaping @Sendable (CallID) throws -> Data?, logger: Logger) {
        self.outbox = outbox; self.endpoints = endpoints; self.config = config; self.renderCall = renderCall; self.logger = logger
    }

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
                guard let built = try envelope(entry) else { return .failure("the call is gone") }
                body = built
                try outbox.setBody(entry.id, built)
            } catch {
                return .failure("cannot build the body: \(error)")
            }
        }
        var request = HTTPClientRequest(url: endpoint.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "CallTrack")
        request.headers.add(name: "X-CallTrack-Event", value: entry.event)
        request.headers.add(name: "X-CallTrack-Delivery", value: entry.id)
        request.headers.add(name: "X-CallTrack-Signature",
                            value: WebhookSignature.header(secret: endpoint.secrets[entry.project] ?? "",
                                                           timestamp: Int(Date().timeIntervalSince1970), body: body))
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

    /// `{"call": …, "created_at", "id", "project", "type"}`.
    private func envelope(_ entry: OutboxEntry) throws -> Data? {
        guard let callID = entry.callID, let call = try renderCall(callID) else { return nil }
        func string(_ s: String) throws -> String { String(decoding: try JSONEncoder().encode(s), as: UTF8.self) }
        var body = Data("{\"call\":".utf8)
        body.append(call)
        let created = ISO8601DateFormatter.string(from: entry.createdAt, timeZone: .gmt,
                                                  formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        body.append(Data(",\"created_at\":\(try string(created)),\"id\":\(try string(entry.id)),\"project\":\(try string(entry.project)),\"type\":\(try string(entry.event))}".utf8))
        return body
    }
}
