import CallTrackCore
import Crypto
import Foundation
import Storage

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
        let fields: [(String, Data)] = [(key, json), ("created_at", string(entry.createdAt.iso8601Milliseconds)),
                                        ("id", string(entry.id)), ("project", string(entry.project)), ("type", string(entry.event))]
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
