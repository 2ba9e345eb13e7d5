import CallTrackCore

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
