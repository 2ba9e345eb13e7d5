import AsyncHTTPClient
import CallTrackCore
import Foundation
import NIOCore
import Storage

/// One kind of endpoint the outbox delivers to (a webhook, GA4, Metrica, e-mail): which events it
/// takes, what body each delivery carries, how it is sent and what the answer means. Each conformer is
/// one file under `Channels/`; a new channel is a new file and its config (`DeliveryPlan`).
public protocol DeliveryChannel: Sendable {
    /// The outbox's and the log's name for the endpoint: its URL without secrets.
    var endpoint: String { get }
    /// Which calls its deliveries are made for at all.
    var condition: DeliveryCondition { get }
    /// What the outbox stores when `event` happens to a call of `project`; nil when it does not take it.
    func delivery(of event: DeliveryEvent, project: String) -> DeliveryEvent?
    /// Deliveries one attempt carries at most: 1, or every due one (Metrica's upload).
    var batchLimit: Int { get }
    /// The shortest time between two attempts (Metrica's upload interval), in seconds.
    var attemptInterval: Double { get }
    /// The body of one delivery, from what storage holds now; nil when what it is about is gone.
    func body(_ entry: OutboxEntry, from source: DeliverySource) async throws -> Data?
    /// Sends the deliveries (one attempt) and says whether the endpoint took them.
    func send(_ deliveries: [Delivery], via transport: DeliveryTransport) async -> DeliveryResult
}

extension DeliveryChannel {
    public var condition: DeliveryCondition { .always }
    public var batchLimit: Int { 1 }
    public var attemptInterval: Double { 0 }
}

/// A delivery ready to go: the outbox's entry and the bytes it carries.
public struct Delivery: Sendable {
    public let entry: OutboxEntry
    public let body: Data
}

/// What an endpoint made of an attempt, in words for the delivery log.
public enum DeliveryResult: Sendable, Equatable {
    case delivered(String)
    /// The endpoint answered and would not take this delivery (say an HTTP 400): it is tried again
    /// later on its own, and the endpoint's other deliveries go on.
    case refused(String)
    /// The endpoint could not be reached or could not take deliveries now (a refused connection, a
    /// timeout, a 5xx, 429): it fails until a probe gets through.
    case failed(String)
}

/// How deliveries leave: the HTTP client, and the mail relay when one is configured.
public struct DeliveryTransport: Sendable {
    let http: HTTPClient
    let smtp: SMTPRelay?
}

/// What channels read to build a body: the stored call or sale a delivery is about, and the JSON the
/// API shows of them (a webhook carries the same shape as `GET /v1/calls/{id}`).
public struct DeliverySource: Sendable {
    let calls: any CallRepository
    let callJSON: @Sendable (CallRecord) throws -> Data
    let saleJSON: @Sendable (Sale) throws -> Data

    public init(
        calls: any CallRepository, callJSON: @escaping @Sendable (CallRecord) throws -> Data,
        saleJSON: @escaping @Sendable (Sale) throws -> Data
    ) {
        self.calls = calls
        self.callJSON = callJSON
        self.saleJSON = saleJSON
    }

    /// The call an entry is about, if it is still stored.
    func call(_ entry: OutboxEntry) async throws -> CallRecord? {
        guard let id = entry.callID else { return nil }
        return try await calls.call(id: id)
    }
}

/// A channel that speaks HTTP: it builds the request, and reads the answer (2xx: taken).
public protocol HTTPDeliveryChannel: DeliveryChannel {
    func request(for deliveries: [Delivery]) -> HTTPClientRequest
    /// What the endpoint's answer means; by default any 2xx is taken, another 4xx (but 408 and 429)
    /// refuses that one delivery, and anything else means the endpoint fails.
    func result(status: Int, body: ByteBuffer) -> DeliveryResult
}

extension HTTPDeliveryChannel {
    /// An endpoint that does not answer within this is retried later.
    static var timeout: TimeAmount { .seconds(10) }

    public func result(status: Int, body: ByteBuffer) -> DeliveryResult {
        switch status {
        case 200..<300: .delivered(String(status))
        case 400..<500 where status != 408 && status != 429: .refused("HTTP \(status)")
        default: .failed("HTTP \(status)")
        }
    }

    public func send(_ deliveries: [Delivery], via transport: DeliveryTransport) async -> DeliveryResult {
        var request = request(for: deliveries)
        request.method = .POST
        request.headers.add(name: "User-Agent", value: "CallTrack")
        do {
            let response = try await transport.http.execute(request, deadline: .now() + Self.timeout)
            // Read whole (a bounded amount), so that the connection can be reused.
            let body = (try? await response.body.collect(upTo: 64 * 1024)) ?? ByteBuffer()
            return result(status: Int(response.status.code), body: body)
        } catch { return .failed("\(error)") }
    }
}
