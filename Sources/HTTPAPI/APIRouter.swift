import CallTrackCore
import Foundation
import Hummingbird
import Storage

/// Everything the HTTP API needs, passed in by the application assembly.
public struct APIDependencies: Sendable {
    public let calls: any CallRecordStore
    public let adminTokens: [String]
    /// Live figures for /healthz.
    public let activeCalls: @Sendable () -> Int

    public init(calls: any CallRecordStore, adminTokens: [String], activeCalls: @escaping @Sendable () -> Int) {
        self.calls = calls; self.adminTokens = adminTokens; self.activeCalls = activeCalls
    }
}

/// Builds the router: public health, admin `/v1` routes.
public func buildRouter(_ deps: APIDependencies) -> Router<BasicRequestContext> {
    let router = Router()
    let startedAt = Date()
    router.get("healthz") { _, _ -> Response in
        struct Health: Encodable {
            let status: String
            let activeCalls: Int
            let uptimeSeconds: Int
            enum CodingKeys: String, CodingKey { case status, activeCalls = "active_calls", uptimeSeconds = "uptime_seconds" }
        }
        return try JSONResponse.make(Health(status: "ok", activeCalls: deps.activeCalls(),
                                            uptimeSeconds: Int(Date().timeIntervalSince(startedAt))))
    }
    let admin = router.group("v1").add(middleware: AdminAuthMiddleware(tokens: deps.adminTokens))
    CallController(store: deps.calls).addRoutes(to: admin)
    return router
}
