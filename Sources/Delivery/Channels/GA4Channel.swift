import AsyncHTTPClient
import CallTrackCore
import Foundation
import NIOCore
import Storage

/// Google Analytics 4's Measurement Protocol: a `phone_call` event for each ended call of a visitor
/// whose `_ga` id the snippet passed, with the call's source and outcome.
struct GA4Channel: HTTPDeliveryChannel {
    /// The collect URL with the measurement id (the secret is added only to the request).
    let endpoint, apiSecret: String
    let projects: Set<String>

    var condition: DeliveryCondition { .visitorHasGAClientID }

    func delivery(of event: DeliveryEvent, project: String) -> DeliveryEvent? {
        event == .callEnded && projects.contains(project) ? .ga4PhoneCall : nil
    }

    func body(_ entry: OutboxEntry, from source: DeliverySource) async throws -> Data? {
        try await source.call(entry).flatMap(Self.event)
    }

    /// The event for the visitor's GA client id; nil for a call without one.
    static func event(_ call: CallRecord) throws -> Data? {
        guard let a = call.start.attribution, let client = a.gaClientID else { return nil }
        var params: [String: Any] = [
            "call_id": call.id.rawValue, "answered": call.status == .answered ? 1 : 0,
            "first_time": call.firstTime ? 1 : 0, "duration_seconds": Int((call.talkSeconds ?? 0).rounded()),
        ]
        for (key, value) in [("source", a.source), ("medium", a.medium), ("campaign", a.campaign)] {
            if let value { params[key] = String(value.prefix(100)) }
        }
        return try JSONSerialization.data(
            withJSONObject: ["client_id": client, "events": [["name": "phone_call", "params": params]]],
            options: [.sortedKeys])
    }

    func request(for deliveries: [Delivery]) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: endpoint + "&api_secret=" + apiSecret.percentEncodedUnreserved)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: deliveries[0].body))
        return request
    }
}
