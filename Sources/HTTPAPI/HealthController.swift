import CallTrackCore
import Foundation
import Hummingbird
import Storage
import Tracking

/// `GET /v1/projects/{key}/health` (admin): accuracy, pool use and recommendations for the last `days`
/// (default 7); `GET /v1/projects/{key}/pool-plan`: the project's visitors replayed against other pools.
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
        group.get("projects/:key/pool-plan", use: poolPlan)
    }

    private func days(_ request: Request) throws -> Int {
        guard let raw = request.uri.queryParameters["days"] else { return 7 }
        guard let d = Int(String(raw)), (1...365).contains(d) else {
            throw APIError.badRequest(field: "days", "days must be an integer from 1 to 365")
        }
        return d
    }

    @Sendable func poolPlan(_ request: Request, context: Context) async throws -> Response {
        let project = try projects.project(context)
        let days = try days(request)
        var target = 95.0
        if let raw = request.uri.queryParameters["target"] {
            guard let t = Double(String(raw)), t > 0, t <= 100 else {
                throw APIError.badRequest(field: "target", "target is the share of visitors to serve, in percent (1 to 100)")
            }
            target = t
        }
        return try plan(project, days: days, target: target).response(from: request, context: context)
    }

    /// The project's visitors of the last `days` replayed against other pools.
    func plan(_ project: PublicProject, days: Int, target: Double) throws -> PoolPlanJSON {
        let key = project.key
        let now = Date()
        let since = now.addingTimeInterval(-Double(days) * 86400)
        let (visits, delays) = try tracking.plannerInput(projectKey: key, since: since, ttlSeconds: Double(project.ttlSeconds))
        let reservation = PoolPlanner.reservationSeconds(callDelays: delays) ?? project.ttlSeconds
        let plan = PoolPlanner.plan(visits, reservationSeconds: reservation, targetPercent: target,
                                    maxPoolSize: max(100, numbers.poolSize(projectKey: key) * 10))
        let health = try tracking.health(projectKey: key, since: since, now: now, ttlSeconds: Double(project.ttlSeconds))
        return PoolPlanJSON(
            project: key, periodDays: days, targetPercent: target, visitors: visits.count, callsMeasured: delays.count,
            currentPoolSize: numbers.poolSize(projectKey: key), currentReservationSeconds: project.ttlSeconds,
            reservationSeconds: reservation, recommendedPoolSize: plan.recommended?.poolSize,
            currentServedPercent: PoolPlanJSON.round(PoolPlanner.servedPercent(visits, poolSize: numbers.poolSize(projectKey: key),
                                                                               reservationSeconds: project.ttlSeconds)),
            options: plan.options.map { .init(poolSize: $0.poolSize, servedPercent: PoolPlanJSON.round($0.servedPercent)) },
            quickEstimatePoolSize: health.quickEstimatePoolSize, peakEstimatePoolSize: health.recommendedPoolSize
        )
    }

    @Sendable func health(_ request: Request, context: Context) async throws -> Response {
        let project = try projects.project(context)
        return try health(project, days: try days(request)).response(from: request, context: context)
    }

    /// Accuracy, pool use and recommendations for the last `days`.
    func health(_ project: PublicProject, days: Int) throws -> PoolHealthJSON {
        let key = project.key
        let now = Date()
        let h = try tracking.health(projectKey: key, since: now.addingTimeInterval(-Double(days) * 86400), now: now,
                                    ttlSeconds: Double(project.ttlSeconds))
        return PoolHealthJSON(
            project: key, periodDays: days, calls: h.calls, staticCalls: h.staticCalls, visits: h.visits,
            poolSize: numbers.poolSize(projectKey: key), liveReservations: numbers.liveReservations(projectKey: key),
            peakConcurrentReservations: h.peakConcurrent, poolExhaustedCount: h.exhausted, addressLimitedCount: h.addressLimited,
            recommendedPoolSize: h.recommendedPoolSize, quickEstimatePoolSize: h.quickEstimatePoolSize,
            reservationTTLSeconds: project.ttlSeconds, accuracyPercent: h.accuracyPercent,
            averageVisitSeconds: h.averageVisitSeconds.map { ($0 * 10).rounded() / 10 },
            recommendedReservationTTLSeconds: h.recommendedTTLSeconds
        )
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

/// The JSON shape of a pool plan (see docs/openapi.yaml).
struct PoolPlanJSON: ResponseEncodable {
    struct OptionJSON: Encodable {
        let poolSize: Int
        let servedPercent: Double
        enum CodingKeys: String, CodingKey { case poolSize = "pool_size", servedPercent = "served_percent" }
    }

    let project: String
    let periodDays: Int
    let targetPercent: Double
    let visitors, callsMeasured, currentPoolSize, currentReservationSeconds, reservationSeconds: Int
    @Nullable var recommendedPoolSize: Int?
    let currentServedPercent: Double
    let options: [OptionJSON]
    let quickEstimatePoolSize, peakEstimatePoolSize: Int

    enum CodingKeys: String, CodingKey {
        case project, periodDays = "period_days", targetPercent = "target_percent", visitors, callsMeasured = "calls_measured"
        case currentPoolSize = "current_pool_size", currentReservationSeconds = "current_reservation_seconds"
        case reservationSeconds = "reservation_seconds", recommendedPoolSize = "recommended_pool_size"
        case currentServedPercent = "current_served_percent", options
        case quickEstimatePoolSize = "quick_estimate_pool_size", peakEstimatePoolSize = "peak_estimate_pool_size"
    }

    static func round(_ v: Double) -> Double { (v * 10).rounded() / 10 }
}
