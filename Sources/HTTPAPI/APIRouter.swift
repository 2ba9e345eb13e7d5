import CallTrackCore
import Foundation
import Hummingbird
import Prometheus
import Storage
import Tracking

/// Everything the HTTP API needs, passed in by the application assembly. Stored state is reached
/// through the repository protocols only, whatever database stands behind them.
public struct APIDependencies: Sendable {
    public let calls: any CallRepository
    public let tracking: any TrackingRepository
    /// The outbox of deliveries: its log and retries.
    public let outbox: (any OutboxRepository)?
    /// Signed-in dashboard browsers.
    public let sessions: any DashboardSessionRepository
    public let recordingsFolder: String
    public let adminTokens: [String]
    public let statistics: CallStatistics
    public let projects: [PublicProject]
    public let numbers: any NumberDesk
    /// This node's place in a cluster; nil on a single node.
    public let cluster: ClusterMembership?
    /// Reservations allowed per client address and minute.
    public let reservationsPerMinute: Int
    /// A header set by a trusted reverse proxy with the visitor's region (used when the snippet sends none).
    public let regionHeader: String?
    /// Reverse proxies whose `X-Forwarded-For` and region header are believed.
    public let trustedProxies: [CIDR]
    /// Live figures for /healthz and /metrics.
    public let activeCalls: @Sendable () -> Int
    /// Whether SIP is up (listening, not draining).
    public let sipReady: @Sendable () -> Bool
    /// Open HTTP connections, for /metrics.
    public let connections: HTTPConnectionRegistry?
    /// Where the process's metrics are collected (swift-metrics' backend), shown on `/metrics`.
    public let metrics: PrometheusCollectorRegistry

    public init(
        calls: any CallRepository, tracking: any TrackingRepository, outbox: (any OutboxRepository)? = nil,
        sessions: any DashboardSessionRepository = InMemoryDashboardSessions(), recordingsFolder: String,
        adminTokens: [String], statistics: CallStatistics, projects: [PublicProject] = [], numbers: any NumberDesk,
        cluster: ClusterMembership? = nil, reservationsPerMinute: Int = 120, regionHeader: String? = nil,
        trustedProxies: [CIDR] = [], metrics: PrometheusCollectorRegistry,
        sipReady: @escaping @Sendable () -> Bool = { true }, activeCalls: @escaping @Sendable () -> Int,
        connections: HTTPConnectionRegistry? = nil
    ) {
        self.calls = calls
        self.tracking = tracking
        self.outbox = outbox
        self.sessions = sessions
        self.recordingsFolder = recordingsFolder
        self.adminTokens = adminTokens
        self.statistics = statistics
        self.projects = projects
        self.numbers = numbers
        self.cluster = cluster
        self.reservationsPerMinute = reservationsPerMinute
        self.regionHeader = regionHeader
        self.trustedProxies = trustedProxies
        self.metrics = metrics
        self.sipReady = sipReady
        self.activeCalls = activeCalls
        self.connections = connections
    }
}

/// Builds the router: public health and metrics, admin `/v1` routes.
public func buildRouter(_ deps: APIDependencies) -> Router<APIRequestContext> {
    let router = Router(context: APIRequestContext.self)
    router.add(middleware: NodeMiddleware(node: deps.cluster?.nodeID))
    let startedAt = Date()
    router.get("healthz") { request, context -> Response in
        struct Health: ResponseEncodable {
            let status, storage: String
            @Nullable var node: String?
            let activeCalls, uptimeSeconds: Int
            enum CodingKeys: String, CodingKey {
                case status, node, storage, activeCalls = "active_calls", uptimeSeconds = "uptime_seconds"
            }
        }
        // 503 while SIP is not listening yet (start) or no longer takes calls (draining), or while the shared
        // PostgreSQL does not answer, so that a load balancer or a test waits for the SIP side and storage,
        // not just for HTTP.
        let storage = deps.cluster?.storageReachable ?? true
        let ready = deps.sipReady() && storage
        var response = try Health(
            status: ready ? "ok" : "unavailable", storage: storage ? "ok" : "unavailable", node: deps.cluster?.nodeID,
            activeCalls: deps.activeCalls(), uptimeSeconds: Int(Date().timeIntervalSince(startedAt))
        ).response(from: request, context: context)
        response.status = ready ? .ok : .serviceUnavailable
        return response
    }
    let sampler = MetricsSampler(registry: deps.metrics, deps: deps)
    router.get("metrics") { _, _ -> Response in
        Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: await sampler.text())))
    }
    ReservationController(
        projects: deps.projects, numbers: deps.numbers, limiter: RateLimiter(perMinute: deps.reservationsPerMinute),
        regionHeader: deps.regionHeader, trustedProxies: deps.trustedProxies
    ).addRoutes(to: router)
    SnippetController(projects: deps.projects).addRoutes(to: router)
    let projects = Dictionary(deps.projects.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
    let reports = ReportService(calls: deps.calls, tracking: deps.tracking)
    let pools = PoolHealthService(tracking: deps.tracking, numbers: deps.numbers)
    let admin = router.group("v1").add(middleware: AdminAuthMiddleware(tokens: deps.adminTokens))
    CallController(calls: deps.calls, projects: projects).addRoutes(to: admin)
    RecordingController(calls: deps.calls, recordingsFolder: deps.recordingsFolder, cluster: deps.cluster).addRoutes(
        to: admin)
    HealthController(projects: projects, pools: pools).addRoutes(to: admin)
    ClusterController(membership: deps.cluster).addRoutes(to: admin)
    ReportController(projects: projects, calls: deps.calls, reports: reports).addRoutes(to: admin)
    ExportController(projects: projects, calls: deps.calls).addRoutes(to: admin)
    if let outbox = deps.outbox { DeliveryController(outbox: outbox).addRoutes(to: admin) }
    Dashboard(
        projects: deps.projects, calls: deps.calls, reports: reports, pools: pools, outbox: deps.outbox,
        recordings: RecordingController(
            calls: deps.calls, recordingsFolder: deps.recordingsFolder, cluster: deps.cluster), sessions: deps.sessions,
        adminTokens: deps.adminTokens, trustedProxies: deps.trustedProxies
    ).addRoutes(to: router)
    return router
}
