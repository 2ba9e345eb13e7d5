import CallTrackCore
import Foundation
import Hummingbird
import Prometheus
import Storage
import Tracking

/// Everything the HTTP API needs, passed in by the application assembly.
public struct APIDependencies: Sendable {
    public let calls: SQLiteCallRecordStore
    public let recordingsFolder: String
    public let adminTokens: [String]
    public let statistics: CallStatistics
    public let projects: [PublicProject]
    public let numbers: NumberPoolBook
    public let tracking: SQLiteTrackingStore
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
    /// The outbox of webhook deliveries: its log and retries.
    public let outbox: SQLiteOutbox?
    /// Where the process's metrics are collected (swift-metrics' backend), shown on `/metrics`.
    public let metrics: PrometheusCollectorRegistry

    public init(calls: SQLiteCallRecordStore, recordingsFolder: String, adminTokens: [String], statistics: CallStatistics,
                projects: [PublicProject] = [], numbers: NumberPoolBook, tracking: SQLiteTrackingStore,
                reservationsPerMinute: Int = 120, regionHeader: String? = nil, trustedProxies: [CIDR] = [],
                outbox: SQLiteOutbox? = nil, metrics: PrometheusCollectorRegistry, sipReady: @escaping @Sendable () -> Bool = { true },
                activeCalls: @escaping @Sendable () -> Int, connections: HTTPConnectionRegistry? = nil) {
        self.outbox = outbox
        self.metrics = metrics
        self.sipReady = sipReady
        self.connections = connections
        self.projects = projects; self.numbers = numbers; self.tracking = tracking
        self.reservationsPerMinute = reservationsPerMinute; self.regionHeader = regionHeader; self.trustedProxies = trustedProxies
        self.calls = calls; self.recordingsFolder = recordingsFolder; self.adminTokens = adminTokens; self.statistics = statistics; self.activeCalls = activeCalls
    }
}

/// Builds the router: public health and metrics, admin `/v1` routes.
public func buildRouter(_ deps: APIDependencies) -> Router<APIRequestContext> {
    let router = Router(context: APIRequestContext.self)
    let startedAt = Date()
    router.get("healthz") { request, context -> Response in
        struct Health: ResponseEncodable {
            let status: String
            let activeCalls: Int
            let uptimeSeconds: Int
            enum CodingKeys: String, CodingKey { case status, activeCalls = "active_calls", uptimeSeconds = "uptime_seconds" }
        }
        // 503 while SIP is not listening yet (start) or no longer takes calls (draining), so that a
        // load balancer or a test waits for the SIP side, not just for HTTP.
        let ready = deps.sipReady()
        var response = try Health(status: ready ? "ok" : "unavailable", activeCalls: deps.activeCalls(),
                                  uptimeSeconds: Int(Date().timeIntervalSince(startedAt))).response(from: request, context: context)
        response.status = ready ? .ok : .serviceUnavailable
        return response
    }
    let sampler = MetricsSampler(registry: deps.metrics, deps: deps)
    router.get("metrics") { _, _ -> Response in
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: sampler.text())))
    }
    ReservationController(projects: deps.projects, numbers: deps.numbers, limiter: RateLimiter(perMinute: deps.reservationsPerMinute),
                          regionHeader: deps.regionHeader, trustedProxies: deps.trustedProxies).addRoutes(to: router)
    SnippetController(projects: deps.projects).addRoutes(to: router)
    let admin = router.group("v1").add(middleware: AdminAuthMiddleware(tokens: deps.adminTokens))
    CallController(store: deps.calls, projects: deps.projects).addRoutes(to: admin)
    let recordings = RecordingController<APIRequestContext>(store: deps.calls, recordingsFolder: deps.recordingsFolder)
    recordings.addRoutes(to: admin)
    let health = HealthController<APIRequestContext>(projects: deps.projects, tracking: deps.tracking, numbers: deps.numbers)
    health.addRoutes(to: admin)
    let reports = ReportController<APIRequestContext>(projects: Dictionary(deps.projects.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a }),
                                                      store: deps.calls, tracking: deps.tracking)
    reports.addRoutes(to: admin)
    ExportController<APIRequestContext>(projects: reports.projects, store: deps.calls).addRoutes(to: admin)
    if let outbox = deps.outbox { DeliveryController<APIRequestContext>(outbox: outbox).addRoutes(to: admin) }
    DashboardController(projects: deps.projects, reports: reports, health: health, recordings: recordings, store: deps.calls,
                        outbox: deps.outbox, adminTokens: deps.adminTokens, trustedProxies: deps.trustedProxies).addRoutes(to: router)
    return router
}
