import CallTrackCore
import Foundation
import Hummingbird

/// `/pool`: the pool's health, the planner's table, and the plain advice "the static number took
/// 16.7 % of calls: add 1 number" (`pool.mustache`).
extension Dashboard {
    struct PoolView {
        struct Fact { let label, value: String }
        struct Option { let poolSize, mark, servedPercent: String }
        let warning: String?
        let facts: [Fact]
        let hasVisitors: Bool
        let visitors, reservationSeconds, recommendedPool: String
        let options: [Option]
        let enough: Bool
        let quickEstimate, peakEstimate: String
    }

    @Sendable func poolPage(_ request: Request, context: DashboardContext) async throws -> Response {
        try await page(request, context, path: "/pool") { p in
            let t = p.text
            let h = try await pools.health(p.project, days: 7)
            let plan = try await pools.plan(p.project, days: 7, target: 95)
            func n(_ v: Double?, digits: Int = 1) -> String {
                v.map { DashboardText.number($0, digits: digits, language: p.language) } ?? "—"
            }
            var warning: String?
            if h.staticCalls > 0, h.calls > 0 {
                // The planner's exact answer when there are visits to replay, the peak formula otherwise.
                let needed = plan.recommendedPoolSize ?? max(h.recommendedPoolSize, plan.peakEstimatePoolSize)
                warning = t.staticWarning(
                    percent: Double(h.staticCalls) * 100 / Double(h.calls), add: max(0, needed - h.poolSize))
            }
            let facts: [(Phrase, String)] = [
                (.poolSize, String(h.poolSize)), (.liveReservations, String(h.liveReservations)),
                (.visits, String(h.visits)), (.callsWeek, String(h.calls)), (.staticCalls, String(h.staticCalls)),
                (.accuracy, h.accuracyPercent.map { n($0) + " %" } ?? "—"),
                (.peak, String(h.peakConcurrentReservations)), (.exhausted, String(h.poolExhaustedCount)),
                (.averageVisit, n(h.averageVisitSeconds)), (.reservationSeconds, String(h.reservationTTLSeconds)),
                (.recommendedReservation, h.recommendedReservationTTLSeconds.map(String.init) ?? "—"),
            ]
            let view = PoolView(
                warning: warning, facts: facts.map { .init(label: t[$0.0], value: $0.1) },
                hasVisitors: plan.visitors > 0, visitors: String(plan.visitors),
                reservationSeconds: String(plan.reservationSeconds),
                recommendedPool: plan.recommendedPoolSize.map(String.init) ?? "—",
                options: plan.options.map { o in
                    .init(
                        poolSize: String(o.poolSize),
                        mark: o.poolSize == plan.currentPoolSize ? " (\(t[.currentPool]))" : "",
                        servedPercent: n(o.servedPercent))
                }, enough: h.staticCalls == 0 || (plan.recommendedPoolSize ?? Int.max) <= h.poolSize,
                quickEstimate: String(plan.quickEstimatePoolSize), peakEstimate: String(plan.peakEstimatePoolSize))
            return p.render("pool", title: t[.pool], content: view)
        }
    }
}
