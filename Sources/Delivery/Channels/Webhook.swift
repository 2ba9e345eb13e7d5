import Crypto
import Foundation
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

enum WebhookEnvelope {
    /// `{"call" or "sale": …, "created_at", "id", "project", "type"}`, keys in order.
    static func body(_ entry: OutboxEntry, key: String, json: Data) throws -> Data {
        func string(_ s: String) throws -> Data { try JSONEncoder().encode(s) }
        let created = ISO8601DateFormatter.string(from: entry.createdAt, timeZone: .gmt,
                                                  formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        let fields: [(String, Data)] = [(key, json), ("created_at", try string(created)), ("id", try string(entry.id)),
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
