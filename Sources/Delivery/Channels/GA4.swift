import Foundation
import Storage

enum GA4 {
    /// A `phone_call` event for the visitor's GA client id, with the call's source and outcome.
    static func body(_ call: CallRecord) throws -> Data? {
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
}
