import AsyncHTTPClient
import CallTrackCore
import Crypto
import Foundation
import NIOCore
import Storage

/// A signed JSON `POST` per event (docs/webhooks.md). One URL several projects send to is one
/// endpoint, signing each project's events with that project's secret.
struct WebhookChannel: HTTPDeliveryChannel {
    struct Subscription: Sendable {
        let secret: String
        let events: Set<DeliveryEvent>
    }

    let endpoint: String
    let projects: [String: Subscription]

    func delivery(of event: DeliveryEvent, project: String) -> DeliveryEvent? {
        projects[project]?.events.contains(event) == true ? event : nil
    }

    func body(_ entry: OutboxEntry, from source: DeliverySource) async throws -> Data? {
        if entry.event == .saleRecorded {
            guard let deal = entry.dealID, let sale = try await source.calls.sale(project: entry.project, dealID: deal)
            else { return nil }
            return WebhookEnvelope.body(entry, key: "sale", json: try source.saleJSON(sale))
        }
        guard let call = try await source.call(entry) else { return nil }
        return WebhookEnvelope.body(entry, key: "call", json: try source.callJSON(call))
    }

    func request(for deliveries: [Delivery]) -> HTTPClientRequest {
        let delivery = deliveries[0]
        var request = HTTPClientRequest(url: endpoint)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-CallTrack-Event", value: delivery.entry.event.rawValue)
        request.headers.add(name: "X-CallTrack-Delivery", value: delivery.entry.id)
        request.headers.add(
            name: "X-CallTrack-Signature",
            value: WebhookSignature.header(
                secret: projects[delivery.entry.project]?.secret ?? "", timestamp: Int(Date().timeIntervalSince1970),
                body: delivery.body))
        request.body = .bytes(ByteBuffer(bytes: delivery.body))
        return request
    }
}

/// `X-CallTrack-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
public enum WebhookSignature {
    public static func header(secret: String, timestamp: Int, body: Data) -> String {
        var signed = Data("\(timestamp).".utf8)
        signed.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(timestamp),v1=" + Hex.bytes(mac)
    }
}

enum WebhookEnvelope {
    /// `{"call" or "sale": …, "created_at", "id", "project", "type"}`, keys in order.
    static func body(_ entry: OutboxEntry, key: String, json: Data) -> Data {
        var body = Data("{".utf8)
        let fields: [(String, Data)] = [
            (key, json), ("created_at", string(entry.createdAt.iso8601Milliseconds)), ("id", string(entry.id)),
            ("project", string(entry.project)), ("type", string(entry.event.rawValue)),
        ]
        for (i, (key, value)) in fields.sorted(by: { $0.0 < $1.0 }).enumerated() {
            if i > 0 { body.append(UInt8(ascii: ",")) }
            body.append(string(key))
            body.append(UInt8(ascii: ":"))
            body.append(value)
        }
        body.append(UInt8(ascii: "}"))
        return body
    }

    /// A JSON string: quotes, backslashes and control characters escaped.
    static func string(_ s: String) -> Data {
        var out = Data("\"".utf8)
        for unit in s.utf8 {
            switch unit {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), unit]
            case 0..<0x20: out += Data(("\\u" + Hex.fixed(UInt64(unit), width: 4)).utf8)
            default: out.append(unit)
            }
        }
        out.append(UInt8(ascii: "\""))
        return out
    }
}
