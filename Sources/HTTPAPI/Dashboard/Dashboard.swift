import CallTrackCore
import Foundation
import HTTPTypes
import Hummingbird
import Storage
import Tracking

/// The dashboard at `/` (DESIGN.md "Dashboard"): pages drawn on the server for a person signed in
/// with an admin token, from the same services as the API's answers. Each page is one file in
/// `Pages/` with its template in `Resources/Templates/`.
struct Dashboard: Sendable {
    let projects: [PublicProject]
    let calls: any CallRepository
    let reports: ReportService
    let pools: PoolHealthService
    let outbox: (any OutboxRepository)?
    let recordings: RecordingController<DashboardContext>
    let sessions: any DashboardSessionRepository
    let adminTokens: [String]
    let trustedProxies: [CIDR]
    /// Sign-in attempts per client address and minute.
    let signInLimiter = RateLimiter(perMinute: 10)

    func addRoutes(to router: Router<APIRequestContext>) {
        let open = router.group(context: DashboardContext.self)
        open.get("signin", use: signInPage)
        open.post("signin", use: signIn)
        open.get("assets/dashboard.css", use: Self.style)
        open.get("assets/dashboard.js", use: Self.script)
        let pages = open.group().add(middleware: DashboardSessionMiddleware(sessions: sessions))
        pages.get("/", use: reportPage)
        pages.get("calls", use: callsPage)
        pages.get("calls/:id/audio", use: recordings.download)
        pages.head("calls/:id/audio", use: recordings.download)
        pages.get("leads", use: leadsPage)
        pages.get("pool", use: poolPage)
        pages.get("setup", use: setupPage)
        pages.post("setup/costs", use: importCosts)
        pages.get("deliveries", use: deliveriesPage)
        pages.post("deliveries/retry", use: retryDelivery)
        pages.post("signout", use: signOut)
    }

    /// The page for a signed-in request; a page saying so when no project is configured.
    func page(
        _ request: Request, _ context: DashboardContext, path: String, _ draw: (DashboardPage) async throws -> Response
    ) async throws -> Response {
        guard let page = try DashboardPage(request, context: context, projects: projects, path: path) else {
            return DashboardPage.message("No projects are configured.", language: .en, status: .ok)
        }
        return try await draw(page)
    }

    /// Behind a TLS proxy the cookies get `Secure`.
    func secure(_ request: Request, context: DashboardContext) -> Bool {
        clientAddress(request, peer: context.remoteAddress?.ipAddress, trustedProxies: trustedProxies).viaTrustedProxy
            && request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased() == "https"
    }

    /// The notice of a bad parameter, in the page's language.
    static func problem(_ error: Error, _ p: DashboardPage) -> DashboardPage.Notice {
        guard let e = error as? APIError else { return .error(String(describing: error)) }
        return .error((e.field.map { "\(p.text[.checkField]) “\($0)”: " } ?? "") + e.message, id: "problem")
    }

    /// The period of the page (the last 30 days by default); a bad one is named and the default shown.
    static func period(_ p: DashboardPage, notices: inout [DashboardPage.Notice]) -> ReportPeriod {
        do { return try ReportPeriod(from: p.value("from"), to: p.value("to"), timeZone: p.project.timeZone) } catch {
            notices.append(problem(error, p))
            return ReportPeriod(lastDaysIn: p.project.timeZone)
        }
    }

    /// The period's fields of a filter form.
    struct PeriodFields {
        let project: String, from: String, to: String
        init(_ p: DashboardPage, _ period: ReportPeriod) {
            project = p.project.key
            from = period.from
            to = period.to
        }
    }

    /// `yyyy-MM-dd HH:mm:ss` (or `format`) in the project's time zone.
    static func timeFormatter(_ p: DashboardPage, _ format: String = "yyyy-MM-dd HH:mm:ss") -> DateFormatter {
        let formatter = DateFormatter()
        formatter.timeZone = p.project.timeZone
        formatter.dateFormat = format
        return formatter
    }

    // MARK: The style sheet and the script, revalidated by ETag

    @Sendable static func style(_ request: Request, context: DashboardContext) async throws -> Response {
        StaticText.response(styleSheet, contentType: "text/css; charset=utf-8", request: request)
    }

    @Sendable static func script(_ request: Request, context: DashboardContext) async throws -> Response {
        StaticText.response(scriptText, contentType: "application/javascript; charset=utf-8", request: request)
    }

    static let styleSheet = StaticText(PackageResources.dashboard_css)
    static let scriptText = StaticText(PackageResources.dashboard_js)
}
