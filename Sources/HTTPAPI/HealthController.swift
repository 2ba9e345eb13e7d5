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
        return try PoolHealthJSON(
            project: key, periodDays: days, calls: h.calls, staticCalls: h.staticCalls, visits: h.visits,
            poolSize: numbers.poolSize(projectKey: key), liveReservations: numbers.liveReservations(projectKey: key),
            peakConcurrentReservations: h.peakConcurrent, poolExhaustedCount: h.exhausted, addressLimitedCount: h.addressLimited,
            recommendedPoolSize: h.recommendedPoolSize, quickEstimatePoolSize: h.quickEstimatePoolSize,
            reservationTTLSeconds: project.ttlSeconds, accuracyPercent: h.accuracyPercent,
            averageVisitSeconds: h.averageVisitSeconds.map { ($0 * 10).rounded() / 10 },
            recommendedReservationTTLSeconds: h.recommendedTTLSeconds
        ).response(from: request, context: context)
    }
}

/// The JSON shape of a project's pool health (see docs/openapi.yaml).
struct PoolHealthJSON: ResponseEncodable {
    let project: String
    let periodDays, calls, staticCalls, visits, poolSize, liveReservations, peakConcurrentReservations: Int
    let poolExhaustedCount, addressLimitedCount, recommendedPoolSize, quickEstimatePoolSize, reservationTTLSeconds: Int
    @Nullable var accuracyPercent: Double?
    @Nullable var averageVisitSeconds: Double?
    @Nullable var recommendedReservationTTLSeconds: Int?

    enum CodingKeys: String, CodingKey {
        case project, periodDays = "period_days", calls, staticCalls = "static_calls", accuracyPercent = "accuracy_percent"
        case visits, poolSize = "pool_size", liveReservations = "live_reservations"
        case peakConcurrentReservations = "peak_concurrent_reservations", poolExhaustedCount = "pool_exhausted_count"
        case addressLimitedCount = "address_limited_count", recommendedPoolSize = "recommended_pool_size"
        case quickEstimatePoolSize = "quick_estimate_pool_size", averageVisitSeconds = "average_visit_seconds"
        case recommendedReservationTTLSeconds = "recommended_reservation_ttl_seconds", reservationTTLSeconds = "reservation_ttl_seconds"
    }
}
