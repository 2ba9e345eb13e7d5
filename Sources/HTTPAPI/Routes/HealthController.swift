import CallTrackCore
import Foundation
import Hummingbird

/// `GET /v1/projects/{key}/health` (admin): accuracy, pool use and recommendations for the last `days`
/// (default 7); `GET /v1/projects/{key}/pool-plan`: the project's visitors replayed against other pools.
struct HealthController<Context: RequestContext>: Sendable {
    let projects: [String: PublicProject]
    let pools: PoolHealthService

    func addRoutes(to group: RouterGroup<Context>) {
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
                throw APIError.badRequest(
                    field: "target", "target is the share of visitors to serve, in percent (1 to 100)")
            }
            target = t
        }
        return try await pools.plan(project, days: days, target: target).response(from: request, context: context)
    }

    @Sendable func health(_ request: Request, context: Context) async throws -> Response {
        let project = try projects.project(context)
        return try await pools.health(project, days: try days(request)).response(from: request, context: context)
    }
}
