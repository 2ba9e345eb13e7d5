import CallTrackCore
import Foundation

/// Where each project's events go: the endpoints (webhooks, analytics, e-mail), the events each
/// takes, what the outbox stores for them and for which calls. Written with the change behind each
/// event, so that a crash cannot lose one.
public struct DeliveryRoutes: Sendable {
    public struct Route: Sendable, Equatable {
        /// The outbox's name for the endpoint.
        public let endpoint: String
        /// Each event the endpoint takes, with what the outbox stores for it: the event itself for a
        /// webhook, a delivery of the channel's own otherwise (`call.ended` → `ga4.phone_call`).
        public let deliveries: [DeliveryEvent: DeliveryEvent]
        /// Which calls the delivery is made for at all.
        public let condition: DeliveryCondition

        public init(
            endpoint: String, deliveries: [DeliveryEvent: DeliveryEvent], condition: DeliveryCondition = .always
        ) {
            self.endpoint = endpoint
            self.deliveries = deliveries
            self.condition = condition
        }
    }

    let byProject: [String: [Route]]

    public init(_ byProject: [String: [Route]] = [:]) { self.byProject = byProject }

    public var isEmpty: Bool { byProject.isEmpty }

    /// The routes of `project` (every project's when nil) that take `event`, with what each stores.
    func routes(for event: DeliveryEvent, project: String?) -> [(
        project: String, route: Route, delivery: DeliveryEvent
    )] {
        byProject.flatMap { key, routes in
            project == nil || project == key ? routes.compactMap { r in r.deliveries[event].map { (key, r, $0) } } : []
        }
    }
}

/// The outbox rows a change adds, in the transaction that stores it.
extension DeliveryRoutes {
    /// An event id: `evt_` and 128 random bits.
    static func eventID() -> String { "evt_" + Hex.random(words: 2) }

    /// Adds `event` for the call to every endpoint of the call's project that takes it (inside `batch`).
    func enqueue(
        _ batch: WriteBatch, event: DeliveryEvent, callID: CallID, project: String?, at: Date, dealID: String? = nil
    ) {
        for (key, route, delivery) in routes(for: event, project: project) {
            // The project is checked against the stored call, so only its own endpoints get it.
            batch.execute(
                """
                INSERT INTO outbox (id, project, endpoint, event, call_id, deal_id, created_at, next_attempt_at)
                SELECT ?, project, ?, ?, id, ?, ?,
                    ? FROM calls WHERE id = ? AND project = ? \(Self.condition(route.condition))
                """,
                [
                    Self.eventID(), route.endpoint, delivery.rawValue, dealID, at.timeIntervalSince1970,
                    at.timeIntervalSince1970, callID.rawValue, key,
                ])
        }
    }

    /// The condition on the stored call (`calls` columns) for a delivery to be made.
    private static func condition(_ condition: DeliveryCondition) -> String {
        switch condition {
        case .always: ""
        case .visitorHasGAClientID: "AND ga_client_id IS NOT NULL"
        case .metricaCanPlaceCall: "AND (ym_client_id IS NOT NULL OR number_kind IN ('static', 'offline'))"
        }
    }
}
