import CallTrackCore
import Foundation
import Hummingbird
import Storage
import Tracking

/// `GET /v1/projects/{key}/health` (admin): accuracy, pool use and recommendations for the last `days` (default 7).
public struct HealthController<Context: RequestContext>: Sendable {
    let projects: [String: PublicProject]
    let tracking: SQLiteTrackingStore
    let numbers: NumberPoolBook

    public init(projects: [PublicProject], tracking: SQLiteTrackingStore, numbers: NumberPoolBook) {
        self.projects = Dictionary(uniqueKeysWithValues: projects.map { ($0.key, $0) })
        self.tracking = tracking
        self.numbers = numbers
    }

    public func addRoutes(to group: RouterGroup<Context>) {
        group.get("projects/:key/health", use: health)
    }

    @Sendable func health(_ request: Request, context: Context) async throws -> Response {
        guard let key = context.parameters.get("key"), let project = projects[key] else {
            throw APIError.notFound("no project with this key")
        }
        var days = 7
        if let raw = request.uri.queryParameters["days"] {
            guard let d = Int(String(raw)), (1...365).contains(d) else {
                throw APIError.badRequest(field: "days", "days must be an integer from 1 to 365")
            }
            days = d
        }
        let now = Date()
        let h = try tracking.health(projectKey: key, since: now.addingTimeInterval(-Double(days) * 86400), now: now,
                                    ttlSeconds: Double(project.ttlSeconds))
        let body: [String: Any?] = [
            "project": key, "period_days": days, "calls": h.calls, "static_calls": h.staticCalls,
            "accuracy_percent": h.accuracyPercent, "visits": h.visits,
            "pool_size": numbers.poolSize(projectKey: key), "live_reservations": numbers.liveReservations(projectKey: key),
            "peak_concurrent_reservations": h.peakConcurrent, "pool_exhausted_count": h.exhausted,
            "address_limited_count": h.addressLimited,
            "recommended_pool_size": h.recommendedPoolSize, "quick_estimate_pool_size": h.quickEstimatePoolSize,
            "average_visit_seconds": h.averageVisitSeconds.map { ($0 * 10).rounded() / 10 },
            "recommended_reservation_ttl_seconds": h.recommendedTTLSeconds, "reservation_ttl_seconds": project.ttlSeconds,
        ]
        let data = try JSONSerialization.data(withJSONObject: body.mapValues { $0 ?? NSNull() }, options: [.sortedKeys])
        return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
