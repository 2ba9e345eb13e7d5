import CallTrackCore
import Foundation
import Hummingbird
import Storage
import Tracking

/// How well a project's number pool serves its visitors, for the API and the dashboard alike:
/// accuracy, pool use and recommendations, and the planner's replay of the project's own visitors.
struct PoolHealthService: Sendable {
    let tracking: any TrackingRepository
    let numbers: any NumberDesk

    /// Accuracy, pool use and recommendations for the last `days`.
    func health(_ project: PublicProject, days: Int) async throws -> PoolHealthReport {
        let key = project.key
        let now = Date()
        let h = try await tracking.health(
            projectKey: key, since: now.addingTimeInterval(-Double(days) * 86400), now: now,
            ttlSeconds: Double(project.ttlSeconds))
        return PoolHealthReport(
            project: key, periodDays: days, calls: h.calls, staticCalls: h.staticCalls, visits: h.visits,
            poolSize: numbers.poolSize(projectKey: key),
            liveReservations: try await numbers.liveReservationCount(projectKey: key, now: now),
            peakConcurrentReservations: h.peakConcurrent, poolExhaustedCount: h.exhausted,
            addressLimitedCount: h.addressLimited, recommendedPoolSize: h.recommendedPoolSize,
            quickEstimatePoolSize: h.quickEstimatePoolSize, reservationTTLSeconds: project.ttlSeconds,
            accuracyPercent: h.accuracyPercent,
            averageVisitSeconds: h.averageVisitSeconds.map { ($0 * 10).rounded() / 10 },
            recommendedReservationTTLSeconds: h.recommendedTTLSeconds)
    }

    /// The project's visitors of the last `days` replayed against other pools.
    func plan(_ project: PublicProject, days: Int, target: Double) async throws -> PoolPlanReport {
        let key = project.key
        let now = Date()
        let since = now.addingTimeInterval(-Double(days) * 86400)
        let (visits, delays) = try await tracking.plannerInput(
            projectKey: key, since: since, ttlSeconds: Double(project.ttlSeconds))
        let reservation = PoolPlanner.reservationSeconds(callDelays: delays) ?? project.ttlSeconds
        let poolSize = numbers.poolSize(projectKey: key)
        let plan = PoolPlanner.plan(
            visits, reservationSeconds: reservation, targetPercent: target, maxPoolSize: max(100, poolSize * 10))
        let health = try await tracking.health(
            projectKey: key, since: since, now: now, ttlSeconds: Double(project.ttlSeconds))
        return PoolPlanReport(
            project: key, periodDays: days, targetPercent: target, visitors: visits.count, callsMeasured: delays.count,
            currentPoolSize: poolSize, currentReservationSeconds: project.ttlSeconds, reservationSeconds: reservation,
            recommendedPoolSize: plan.recommended?.poolSize,
            currentServedPercent: PoolPlanReport.round(
                PoolPlanner.servedPercent(visits, poolSize: poolSize, reservationSeconds: project.ttlSeconds)),
            options: plan.options.map {
                .init(poolSize: $0.poolSize, servedPercent: PoolPlanReport.round($0.servedPercent))
            }, quickEstimatePoolSize: health.quickEstimatePoolSize, peakEstimatePoolSize: health.recommendedPoolSize)
    }
}

/// A project's pool health: what the API answers (see docs/openapi.yaml) and the dashboard shows.
struct PoolHealthReport: ResponseEncodable {
    let project: String
    let periodDays, calls, staticCalls, visits, poolSize, liveReservations, peakConcurrentReservations: Int
    let poolExhaustedCount, addressLimitedCount, recommendedPoolSize, quickEstimatePoolSize, reservationTTLSeconds: Int
    @Nullable var accuracyPercent: Double?
    @Nullable var averageVisitSeconds: Double?
    @Nullable var recommendedReservationTTLSeconds: Int?

    enum CodingKeys: String, CodingKey {
        case project, periodDays = "period_days", calls, staticCalls = "static_calls", accuracyPercent =
            "accuracy_percent"
        case visits, poolSize = "pool_size", liveReservations = "live_reservations"
        case peakConcurrentReservations = "peak_concurrent_reservations", poolExhaustedCount = "pool_exhausted_count"
        case addressLimitedCount = "address_limited_count", recommendedPoolSize = "recommended_pool_size"
        case quickEstimatePoolSize = "quick_estimate_pool_size", averageVisitSeconds = "average_visit_seconds"
        case recommendedReservationTTLSeconds = "recommended_reservation_ttl_seconds", reservationTTLSeconds =
            "reservation_ttl_seconds"
    }
}

/// A pool plan: what the API answers (see docs/openapi.yaml) and the dashboard shows.
struct PoolPlanReport: ResponseEncodable {
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
        case project, periodDays = "period_days", targetPercent = "target_percent", visitors, callsMeasured =
            "calls_measured"
        case currentPoolSize = "current_pool_size", currentReservationSeconds = "current_reservation_seconds"
        case reservationSeconds = "reservation_seconds", recommendedPoolSize = "recommended_pool_size"
        case currentServedPercent = "current_served_percent", options
        case quickEstimatePoolSize = "quick_estimate_pool_size", peakEstimatePoolSize = "peak_estimate_pool_size"
    }

    static func round(_ v: Double) -> Double { (v * 10).rounded() / 10 }
}
