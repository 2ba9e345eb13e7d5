import CallTrackCore
import Foundation
import HTTPTypes
import Hummingbird
import Storage
import Tracking

/// The dashboard at `/` (DESIGN.md "Dashboard"): pages drawn on the server from the same code as the
/// API's answers, for a person signed in with an admin token.
struct DashboardController: Sendable {
    typealias Context = APIRequestContext
    let projects: [PublicProject]
    let reports: ReportController<Context>
    let health: HealthController<Context>
    let recordings: RecordingController<Context>
    let store: SQLiteCallRecordStore
    let outbox: SQLiteOutbox?
    let adminTokens: [String]
    let trustedProxies: [CIDR]
    let sessions = DashboardSessions()
    /// Sign-in attempts per client address and minute.
    let signInLimiter = RateLimiter(perMinute: 10)
    static let callsPerPage = 50
    static let leadsPerPage = 100

    func addRoutes(to router: Router<Context>) {
        router.get("/", use: reportPage)
        router.get("calls", use: callsPage)
        router.get("leads", use: leadsPage)
        router.get("pool", use: poolPage)
        router.get("setup", use: setupPage)
        router.post("setup/costs", use: importCosts)
        router.get("calls/:id/audio", use: audio)
        router.head("calls/:id/audio", use: audio)
        router.get("signin", use: signInPage)
        router.post("signin", use: signIn)
        router.post("signout", use: signOut)
        router.get("deliveries", use: deliveriesPage)
        router.post("deliveries/retry", use: retryDelivery)
    }

    // MARK: Sessions

    private static func cookies(_ request: Request) -> [String: String] {
        var out: [String: String] = [:]
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let kv = part.split(separator: "=", maxSplits: 1)
                guard kv.count == 2 else { continue }
                let name = kv[0].trimmingCharacters(in: .whitespaces)
                if out[name] == nil { out[name] = kv[1].trimmingCharacters(in: .whitespaces) }
            }
        }
        return out
    }

    private static func language(_ request: Request, query: [String: String]) -> DashboardLanguage {
        DashboardLanguage.choose(query: query["lang"], cookie: cookies(request)["ct_lang"],
                                 acceptLanguage: request.headers[.acceptLanguage])
    }

    /// Behind a TLS proxy the cookies get `Secure`.
    private func secure(_ request: Request, context: Context) -> Bool {
        clientAddress(request, peer: context.remoteAddress?.ipAddress, trustedProxies: trustedProxies).viaTrustedProxy
            && request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased() == "https"
    }

    /// Runs `render` for a signed-in request; anyone else is sent to the sign-in page.
    private func page(_ request: Request, context: Context, path: String,
                      render: (DashboardPage) throws -> Response) throws -> Response {
        let query = FormData.parse(request.uri.query ?? "")
        guard let id = Self.cookies(request)["ct_session"], let session = sessions.session(id) else {
            let next = request.uri.query.map { path + "?" + $0 } ?? path
            return Response(status: .seeOther, headers: [.location: DashboardPage.url("/signin", [("next", next)])])
        }
        guard let project = query["project"].flatMap({ key in projects.first { $0.key == key } }) ?? projects.first else {
            return DashboardPage.htmlResponse("<!doctype html><p>No projects are configured.</p>")
        }
        let language = Self.language(request, query: query)
        return try render(DashboardPage(text: DashboardText(language: language), project: project, projects: projects,
                                        csrf: session.csrf, path: path, query: query,
                                        languageChosen: query["lang"].flatMap(DashboardLanguage.init) != nil))
    }

    /// The message of a bad parameter, in the page's language.
    private static func problem(_ error: Error, _ p: DashboardPage) -> String {
        guard let e = error as? APIError else { return "<div class=\"error\">\(html(String(describing: error)))</div>" }
        let field = e.field.map { "\(p.text[.checkField]) “\($0)”: " } ?? ""
        return "<div class=\"error\" id=\"problem\">\(html(field + e.message))</div>"
    }

    /// The period of the page (the last 30 days by default); a bad one is named and the default shown.
    private static func period(_ p: DashboardPage, problems: inout String) -> ReportPeriod {
        do { return try ReportPeriod(from: p.value("from"), to: p.value("to"), timeZone: p.project.timeZone) } catch {
            problems += problem(error, p)
            // swiftlint:disable:next force_try
            return try! ReportPeriod(from: nil, to: nil, timeZone: p.project.timeZone)
        }
    }

    private static func periodFields(_ p: DashboardPage, _ period: ReportPeriod) -> String {
        """
        <input type="hidden" name="project" value="\(html(p.project.key))">\
        <label>\(html(p.text[.from]))<input type="date" name="from" value="\(period.from)"></label>\
        <label>\(html(p.text[.to]))<input type="date" name="to" value="\(period.to)"></label>
        """
    }

    // MARK: Report

    static let groupings: [(String, [Phrase])] = [
        ("source", [.source]), ("source,medium", [.source, .medium]), ("campaign", [.campaign]),
        ("source,campaign,keyword", [.source, .campaign, .keyword]), ("keyword", [.keyword]), ("medium", [.medium]),
        ("day", [.day]), ("landing_page", [.landingPage]), ("number", [.number]), ("channel", [.channel]),
        ("hour", [.hour]), ("weekday", [.weekday]),
    ]

    static func phrase(_ d: ReportDimension) -> Phrase {
        switch d {
        case .source: .source
        case .medium: .medium
        case .campaign: .campaign
        case .keyword: .keyword
        case .landingPage: .landingPage
        case .number: .number
        case .channel: .channel
        case .day: .day
        case .hour: .hour
        case .weekday: .weekday
        }
    }

    @Sendable func reportPage(_ request: Request, context: Context) async throws -> Response {
        try page(request, context: context, path: "/") { p in
            var problems = ""
            let period = Self.period(p, problems: &problems)
            var query = try ReportQuery(groupBy: nil, model: nil, defaultGroupBy: "source")
            do { query = try ReportQuery(groupBy: p.value("group_by"), model: p.value("model"), defaultGroupBy: "source") } catch {
                problems += Self.problem(error, p)
            }
            let built = try reports.build(project: p.project, period: period, groupings: [query.dimensions, [.day, .source]],
                                          model: query.model)
            let (report, daily) = (built[0], built[1])
            let t = p.text
            let groupOptions = Self.groupings.map { value, phrases in
                "<option value=\"\(value)\"\(value == query.dimensions.map(\.rawValue).joined(separator: ",") ? " selected" : "")>"
                    + html(phrases.map { t[$0] }.joined(separator: " / ")) + "</option>"
            }.joined()
            let models: [(String, Phrase)] = [("", .asRecorded), ("last_click", .lastClick), ("last_non_direct", .lastNonDirect),
                                              ("first_click", .firstClick)]
            let modelOptions = models.map { value, phrase in
                "<option value=\"\(value)\"\(value == (query.model?.rawValue ?? "") ? " selected" : "")>\(html(t[phrase]))</option>"
            }.joined()
            var body = """
                <form method="get" action="/" class="filters">\(Self.periodFields(p, period))\
                <label>\(html(t[.groupBy]))<select name="group_by">\(groupOptions)</select></label>\
                <label>\(html(t[.model]))<select name="model">\(modelOptions)</select></label>\
                <button>\(html(t[.show]))</button></form>
                """
            // The static number answering calls means visitors went without a number of their own.
            let staticCalls = daily.rows.filter { $0.group["source"] == "(static)" }.reduce(0) { $0 + $1.metrics.calls }
            if staticCalls > 0, daily.totals.calls > 0 {
                let share = Double(staticCalls) * 100 / Double(daily.totals.calls)
                body += "<div class=\"warning\" id=\"static-share\">\(html(t.staticWarning(percent: share, add: 0))) "
                    + "<a href=\"\(html(p.link("/pool")))\">\(html(t[.pool])) →</a></div>"
            }
            let (svg, legend) = CallsChart.svg(days: Self.days(period, timeZone: p.project.timeZone),
                                               calls: daily.rows.map { ($0.group["day"] ?? "", $0.group["source"] ?? "", $0.metrics.calls) },
                                               title: t[.chartTitle])
            body += "<h2>\(html(t[.chartTitle]))</h2>\(svg)\(legend)"
            body += Self.reportTable(report, dimensions: query.dimensions, p)
            return p.response(title: t[.report], body: body, status: problems.isEmpty ? .ok : .badRequest, notice: problems)
        }
    }

    /// The days of a period in its time zone, `2026-11-01` each.
    static func days(_ period: ReportPeriod, timeZone: TimeZone) -> [String] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        var out: [String] = []
        var day = period.start
        while day < period.end, out.count <= 400 {
            let c = calendar.dateComponents([.year, .month, .day], from: day)
            out.append(String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0))
            guard let next = calendar.date(byAdding: .day, value: 1, to: day) else { break }
            day = next
        }
        return out
    }

    static func reportTable(_ report: Report, dimensions: [ReportDimension], _ p: DashboardPage) -> String {
        let t = p.text
        guard report.totals.calls > 0 || report.totals.cost ?? 0 > 0 else { return "<p id=\"no-calls\">\(html(t[.noCalls]))</p>" }
        let metricNames: [Phrase] = [.calls, .answered, .missed, .firstTimeCallers, .uniqueCallers, .avgRing, .talkMinutes,
                                     .sales, .revenue, .cost, .costPerCall, .costPerLead, .roi]
        func n(_ v: Double?, digits: Int = 2) -> String { v.map { DashboardText.number($0, digits: digits, language: p.language) } ?? "—" }
        func cells(_ m: ReportMetrics) -> String {
            let values = [String(m.calls), String(m.answered), String(m.missed), String(m.firstTimeCallers), String(m.uniqueCallers),
                          n(m.avgRingSeconds, digits: 1), n(m.talkSeconds / 60, digits: 1), String(m.sales), n(m.revenue), n(m.cost),
                          n(m.costPerCall), n(m.costPerLead), n(m.roi.map { $0 * 100 }, digits: 0).appending(m.roi == nil ? "" : " %")]
            return values.map { "<td class=\"n\">\(html($0))</td>" }.joined()
        }
        let head = dimensions.map { "<th>\(html(t[phrase($0)]))</th>" }.joined()
            + metricNames.map { "<th class=\"n\">\(html(t[$0]))</th>" }.joined()
        let rows = report.rows.map { row in
            "<tr>" + dimensions.map { "<td>\(html(row.group[$0.rawValue] ?? ""))</td>" }.joined() + cells(row.metrics) + "</tr>"
        }.joined(separator: "\n")
        return """
            <table id="report"><thead><tr>\(head)</tr></thead><tbody>
            \(rows)
            </tbody><tfoot><tr><td colspan="\(dimensions.count)">\(html(t[.total]))</td>\(cells(report.totals))</tr></tfoot></table>
            """
    }

    // MARK: Calls

    @Sendable func callsPage(_ request: Request, context: Context) async throws -> Response {
        try page(request, context: context, path: "/calls") { p in
            let t = p.text
            var problems = ""
            var filter = CallFilter(project: p.project.key)
            do {
                filter = try CallListQuery({ p.query[$0] }, projects: [p.project.key: p.project]).filter
                filter.project = p.project.key
            } catch { problems += Self.problem(error, p) }
            let cursor = p.value("cursor").flatMap(CallID.init)
            let records = try store.calls(limit: Self.callsPerPage + 1, before: cursor, filter: filter)
            let shown = records.prefix(Self.callsPerPage)
            let statuses: [(String, String)] = [("", t[.any]), ("answered", t[.answered]), ("missed", t[.missed]),
                                                ("in_progress", t[.inProgress])]
            var body = """
                <form method="get" action="/calls" class="filters"><input type="hidden" name="project" value="\(html(p.project.key))">\
                <label>\(html(t[.from]))<input type="date" name="from" value="\(html(p.value("from") ?? ""))"></label>\
                <label>\(html(t[.to]))<input type="date" name="to" value="\(html(p.value("to") ?? ""))"></label>\
                <label>\(html(t[.source]))<input name="source" value="\(html(p.value("source") ?? ""))" placeholder="google, (static)"></label>\
                <label>\(html(t[.status]))<select name="status">\(statuses.map { v, label in
                    "<option value=\"\(v)\"\(v == (p.value("status") ?? "") ? " selected" : "")>\(html(label))</option>" }.joined())</select></label>\
                <label>\(html(t[.number]))<input name="number" value="\(html(p.value("number") ?? ""))"></label>\
                <button>\(html(t[.show]))</button></form>
                """
            if shown.isEmpty {
                body += "<p id=\"no-calls\">\(html(t[.noCalls]))</p>"
            } else {
                let formatter = DateFormatter()
                formatter.timeZone = p.project.timeZone
                formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
                let head = [t[.time], t[.caller], t[.number], "\(t[.source]) / \(t[.medium])", "\(t[.campaign]) / \(t[.keyword])",
                            t[.duration], t[.status], t[.recording]].map { "<th>\(html($0))</th>" }.joined()
                body += "<table id=\"calls\"><thead><tr>\(head)</tr></thead><tbody>\n"
                for record in shown { body += Self.callRow(record, formatter: formatter, t) + "\n" }
                body += "</tbody></table>"
            }
            if records.count > Self.callsPerPage, let last = shown.last {
                let keep = ["from", "to", "source", "status", "number", "lang"].map { ($0, p.value($0)) }
                body += "<p><a id=\"next-page\" href=\"\(html(p.link("/calls", keep + [("cursor", last.id.rawValue)])))\">\(html(t[.nextPage])) →</a></p>"
            }
            return p.response(title: t[.calls], body: body, status: problems.isEmpty ? .ok : .badRequest, notice: problems)
        }
    }

    static func callRow(_ r: CallRecord, formatter: DateFormatter, _ t: DashboardText) -> String {
        let s = r.start
        let a = s.attribution
        let source = a?.knownSource.map { "\($0.source) / \($0.medium)" } ?? (a?.kind == .static ? "(static)" : "(unknown)")
        let campaign = a?.kind == .dynamic ? [a?.campaign, a?.keyword].compactMap { $0 }.joined(separator: " / ") : ""
        let caller = html(s.caller) + (s.callerName.map { " <small>\(html($0))</small>" } ?? "")
            + (r.firstTime ? "<span class=\"badge\">\(html(t[.newCaller]))</span>" : "")
        let talk = r.talkSeconds.map { String(format: "%d:%02d", Int($0) / 60, Int($0) % 60) } ?? ""
        let status: String
        switch r.status {
        case .answered: status = html(t[.answered])
        case .inProgress: status = html(t[.inProgress])
        case .missed:
            let reason: Phrase? = switch r.missedReason {
            case .noAnswer?: .noAnswer
            case .busy?: .busy
            case .cancelled?: .cancelled
            case .failed?: .failed
            case .rejected?: .rejected
            case nil: nil
            }
            status = "<span class=\"missed\">\(html(t[.missed]))\(reason.map { ": " + html(t[$0]) } ?? "")</span>"
        }
        var audio = ""
        if let info = r.recording, info.path != nil, [.recorded, .interrupted, .failed].contains(info.status) {
            let seconds = info.seconds.map { String(format: "%.3f", $0) } ?? ""
            audio = "<audio controls preload=\"none\" src=\"/calls/\(r.id.rawValue)/audio\" data-seconds=\"\(seconds)\"></audio>"
        } else if r.status != .inProgress {
            audio = "<small>\(html(t[.noRecording]))</small>"
        }
        return "<tr data-call=\"\(r.id.rawValue)\"><td>\(formatter.string(from: s.startedAt))</td><td>\(caller)</td><td>\(html(s.did))</td>"
            + "<td class=\"source\">\(html(source))</td><td>\(html(campaign))</td><td class=\"n\">\(talk)</td><td class=\"status\">\(status)</td>"
            + "<td>\(audio)</td></tr>"
    }

    /// The call's recording for the signed-in browser's player, with byte ranges so that it seeks.
    @Sendable func audio(_ request: Request, context: Context) async throws -> Response {
        guard let id = Self.cookies(request)["ct_session"], sessions.session(id) != nil else {
            return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Cookie"])
        }
        return try await recordings.download(request, context: context)
    }

    // MARK: Leads

    @Sendable func leadsPage(_ request: Request, context: Context) async throws -> Response {
        try page(request, context: context, path: "/leads") { p in
            let t = p.text
            var problems = ""
            let period = Self.period(p, problems: &problems)
            let leads = try store.leads(project: p.project.key, from: period.start, to: period.end, limit: Self.leadsPerPage + 1,
                                        after: p.value("cursor"))
            let shown = leads.prefix(Self.leadsPerPage)
            var body = "<form method=\"get\" action=\"/leads\" class=\"filters\">\(Self.periodFields(p, period))<button>\(html(t[.show]))</button></form>"
            if shown.isEmpty {
                body += "<p id=\"no-leads\">\(html(t[.noLeads]))</p>"
            } else {
                let formatter = DateFormatter()
                formatter.timeZone = p.project.timeZone
                formatter.dateFormat = "yyyy-MM-dd HH:mm"
                let head = [t[.phone], t[.firstCall], t[.calls], "\(t[.source]) / \(t[.medium])", "\(t[.campaign]) / \(t[.keyword])",
                            t[.sales], t[.revenue]].map { "<th>\(html($0))</th>" }.joined()
                body += "<table id=\"leads\"><thead><tr>\(head)</tr></thead><tbody>\n"
                for l in shown {
                    let source = [l.source, l.medium].compactMap { $0 }.joined(separator: " / ")
                    let campaign = [l.campaign, l.keyword].compactMap { $0 }.joined(separator: " / ")
                    body += "<tr><td>\(html(l.phone))</td><td>\(formatter.string(from: l.firstCallAt))</td><td class=\"n\">\(l.calls)</td>"
                        + "<td>\(html(source))</td><td>\(html(campaign))</td><td class=\"n\">\(l.sales)</td>"
                        + "<td class=\"n\">\(html(DashboardText.number(l.revenue, language: p.language)))</td></tr>\n"
                }
                body += "</tbody></table>"
            }
            if leads.count > Self.leadsPerPage, let last = shown.last {
                body += "<p><a id=\"next-page\" href=\"\(html(p.link("/leads", [("from", period.from), ("to", period.to), ("cursor", last.firstCallID)])))\">"
                    + "\(html(t[.nextPage])) →</a></p>"
            }
            return p.response(title: t[.leads], body: body, status: problems.isEmpty ? .ok : .badRequest, notice: problems)
        }
    }

    // MARK: Pool

    @Sendable func poolPage(_ request: Request, context: Context) async throws -> Response {
        try page(request, context: context, path: "/pool") { p in
            let t = p.text
            let h = try health.health(p.project, days: 7)
            let plan = try health.plan(p.project, days: 7, target: 95)
            func n(_ v: Double?, digits: Int = 1) -> String { v.map { DashboardText.number($0, digits: digits, language: p.language) } ?? "—" }
            var body = ""
            if h.staticCalls > 0, h.calls > 0 {
                // The planner's exact answer when there are visits to replay, the peak formula otherwise.
                let needed = plan.recommendedPoolSize ?? max(h.recommendedPoolSize, plan.peakEstimatePoolSize)
                let add = max(0, needed - h.poolSize)
                body += "<div class=\"warning\" id=\"pool-warning\">"
                    + html(t.staticWarning(percent: Double(h.staticCalls) * 100 / Double(h.calls), add: add)) + "</div>"
            }
            let facts: [(Phrase, String)] = [
                (.poolSize, String(h.poolSize)), (.liveReservations, String(h.liveReservations)), (.visits, String(h.visits)),
                (.callsWeek, String(h.calls)), (.staticCalls, String(h.staticCalls)),
                (.accuracy, h.accuracyPercent.map { n($0) + " %" } ?? "—"), (.peak, String(h.peakConcurrentReservations)),
                (.exhausted, String(h.poolExhaustedCount)), (.averageVisit, n(h.averageVisitSeconds)),
                (.reservationSeconds, String(h.reservationTTLSeconds)),
                (.recommendedReservation, h.recommendedReservationTTLSeconds.map(String.init) ?? "—"),
            ]
            body += "<dl id=\"pool-health\">" + facts.map { "<dt>\(html(t[$0.0]))</dt><dd>\(html($0.1))</dd>" }.joined() + "</dl>"
            body += "<h2>\(html(t[.planner]))</h2><p>\(html(t[.plannerIntro]))</p>"
            if plan.visitors == 0 {
                body += "<p>\(html(t[.noVisits]))</p>"
            } else {
                body += "<dl id=\"planner\"><dt>\(html(t[.visitorsMeasured]))</dt><dd>\(plan.visitors)</dd>"
                    + "<dt>\(html(t[.reservationSeconds]))</dt><dd>\(plan.reservationSeconds)</dd>"
                    + "<dt>\(html(t[.recommendedPool]))</dt><dd id=\"recommended-pool\">\(plan.recommendedPoolSize.map(String.init) ?? "—")</dd></dl>"
                body += "<table id=\"plan\"><thead><tr><th class=\"n\">\(html(t[.poolSize]))</th><th class=\"n\">\(html(t[.servedPercent]))</th></tr></thead><tbody>"
                for o in plan.options {
                    let mark = o.poolSize == plan.currentPoolSize ? " (\(t[.currentPool]))" : ""
                    body += "<tr><td class=\"n\">\(o.poolSize)\(html(mark))</td><td class=\"n\">\(n(o.servedPercent)) %</td></tr>"
                }
                body += "</tbody></table>"
                if h.staticCalls == 0 || (plan.recommendedPoolSize ?? Int.max) <= h.poolSize { body += "<p>\(html(t[.poolEnough]))</p>" }
            }
            body += "<dl><dt>\(html(t[.quickEstimate]))</dt><dd>\(plan.quickEstimatePoolSize)</dd>"
                + "<dt>\(html(t[.peakEstimate]))</dt><dd>\(plan.peakEstimatePoolSize)</dd></dl>"
            return p.response(title: t[.pool], body: body)
        }
    }

    // MARK: Setup: the snippet and costs

    @Sendable func setupPage(_ request: Request, context: Context) async throws -> Response {
        try page(request, context: context, path: "/setup") { p in
            setup(p, request: request, context: context, csv: "", notice: p.value("imported").flatMap(Int.init).map {
                "<div class=\"ok\" id=\"imported\">\(html(p.text.imported($0)))</div>"
            })
        }
    }

    private func setup(_ p: DashboardPage, request: Request, context: Context, csv: String, notice: String?,
                       status: HTTPResponse.Status = .ok) -> Response {
        let t = p.text
        let host = request.head.authority ?? "CALLTRACK"
        let scheme = secure(request, context: context) ? "https" : "http"
        let tag = "<script src=\"\(scheme)://\(host)/v1/projects/\(p.project.key)/snippet.js\"></script>"
        let body = """
            <h2>\(html(t[.snippetTitle]))</h2><p>\(html(t[.snippetHelp]))</p><pre id="snippet-tag">\(html(tag))</pre>
            <h2>\(html(t[.costsTitle]))</h2><p>\(html(t[.costsHelp]))</p>
            <form method="post" action="/setup/costs" id="costs-form"><input type="hidden" name="csrf" value="\(p.csrf)">\
            <input type="hidden" name="project" value="\(html(p.project.key))">\
            <p><label>\(html(t[.costsFile])) <input type="file" id="costs-file" accept=".csv,text/csv"></label></p>\
            <textarea name="csv" id="costs-csv" spellcheck="false" placeholder="date,source,medium,campaign,keyword,amount">\(html(csv))</textarea>\
            <p><button id="costs-import">\(html(t[.costsImport]))</button></p></form>
            <script nonce="\(p.nonce)">
            document.getElementById('costs-file').addEventListener('change', function (e) {
              var f = e.target.files[0]; if (!f) return;
              f.text().then(function (text) { document.getElementById('costs-csv').value = text; });
            });
            </script>
            """
        return p.response(title: t[.setup], body: body, status: status, notice: notice)
    }

    @Sendable func importCosts(_ request: Request, context: Context) async throws -> Response {
        // A stranger's body is not read at all.
        guard let id = Self.cookies(request)["ct_session"], sessions.session(id) != nil else {
            return Response(status: .seeOther, headers: [.location: "/signin"])
        }
        var request = request
        let form = FormData.parse(String(buffer: try await request.body(upTo: ReportController<Context>.bodyLimit)))
        return try page(request, context: context, path: "/setup") { p in
            guard let token = form["csrf"], constantTimeEquals(token, p.csrf) else { return Self.forbidden(p.text) }
            let csv = form["csv"] ?? ""
            do {
                let rows = try CostImport.csv(csv)
                try reports.store(costs: rows, project: p.project)
                return Response(status: .seeOther, headers: [.location: p.link("/setup", [("imported", String(rows.count))])])
            } catch let error as APIError {
                return setup(p, request: request, context: context, csv: csv, notice: Self.problem(error, p), status: .badRequest)
            }
        }
    }

    // MARK: Deliveries

    @Sendable func deliveriesPage(_ request: Request, context: Context) async throws -> Response {
        try page(request, context: context, path: "/deliveries") { p in
            let t = p.text
            let entries = try outbox?.entries(status: nil, limit: 100, before: nil).filter { $0.project == p.project.key } ?? []
            var body = "<p>\(html(t[.deliveriesIntro]))</p>"
            if entries.isEmpty {
                body += "<p id=\"no-deliveries\">\(html(t[.noDeliveries]))</p>"
            } else {
                let formatter = DateFormatter()
                formatter.timeZone = p.project.timeZone
                formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
                let head = [t[.time], t[.event], t[.endpoint], t[.status], t[.attempts], t[.lastResult], t[.nextAttempt], ""]
                    .map { "<th>\(html($0))</th>" }.joined()
                body += "<table id=\"deliveries\"><thead><tr>\(head)</tr></thead><tbody>\n"
                for e in entries {
                    let retry = """
                        <form method="post" action="/deliveries/retry"><input type="hidden" name="csrf" value="\(p.csrf)">\
                        <input type="hidden" name="project" value="\(html(p.project.key))"><input type="hidden" name="id" value="\(html(e.id))">\
                        <button>\(html(t[.retry]))</button></form>
                        """
                    body += "<tr data-delivery=\"\(html(e.id))\"><td>\(formatter.string(from: e.createdAt))</td><td>\(html(e.event))</td>"
                        + "<td>\(html(e.endpoint))</td><td class=\"status\">\(html(e.status.rawValue))</td><td class=\"n\">\(e.attempts)</td>"
                        + "<td>\(html(e.lastResult ?? ""))</td><td>\(e.nextAttemptAt.map { formatter.string(from: $0) } ?? "")</td>"
                        + "<td>\(retry)</td></tr>\n"
                }
                body += "</tbody></table>"
            }
            let notice = p.value("retried") != nil ? "<div class=\"ok\" id=\"retried\">\(html(t[.retried]))</div>" : nil
            return p.response(title: t[.deliveries], body: body, notice: notice)
        }
    }

    @Sendable func retryDelivery(_ request: Request, context: Context) async throws -> Response {
        guard let id = Self.cookies(request)["ct_session"], sessions.session(id) != nil else {
            return Response(status: .seeOther, headers: [.location: "/signin"])
        }
        var request = request
        let form = FormData.parse(String(buffer: try await request.body(upTo: 16 << 10)))
        return try page(request, context: context, path: "/deliveries") { p in
            guard let token = form["csrf"], constantTimeEquals(token, p.csrf) else { return Self.forbidden(p.text) }
            guard let delivery = form["id"], DeliveryController<Context>.isEventID(delivery), try outbox?.retry(delivery) == true else {
                throw APIError.notFound("no delivery with this id")
            }
            return Response(status: .seeOther, headers: [.location: p.link("/deliveries", [("retried", "1")])])
        }
    }

    private static func forbidden(_ t: DashboardText) -> Response {
        DashboardPage.htmlResponse("<!doctype html><meta charset=\"utf-8\"><p>\(html(t[.formExpired]))</p>", status: .forbidden)
    }

    // MARK: Sign-in and sign-out

    /// Where to go after signing in: a path on this site only.
    private static func safeNext(_ raw: String?) -> String {
        guard let raw, raw.hasPrefix("/"), !raw.hasPrefix("//"), !raw.contains("\\"), raw.count <= 2000,
              !raw.unicodeScalars.contains(where: { $0.value < 0x20 }) else { return "/" }
        return raw
    }

    /// The sign-in form. Its own CSRF token is a random value in a short-lived cookie that the form
    /// repeats, so that another site cannot sign a browser in with an attacker's token.
    private func signInForm(_ request: Request, context: Context, next: String, language: DashboardLanguage, error: String?,
                            status: HTTPResponse.Status) -> Response {
        let t = DashboardText(language: language)
        let token = DashboardSessions.randomToken()
        let other: DashboardLanguage = language == .en ? .ru : .en
        let page = """
            <!doctype html>
            <html lang="\(language.rawValue)"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(html(t[.signInTitle]))</title><style>\(DashboardPage.style)</style></head>
            <body><form class="signin" method="post" action="/signin"><h1>\(html(t[.signInTitle]))</h1>\
            \(error.map { "<div class=\"error\" id=\"signin-error\">\(html($0))</div>" } ?? "")\
            <input type="hidden" name="csrf" value="\(token)"><input type="hidden" name="next" value="\(html(next))">\
            <input type="hidden" name="lang" value="\(language.rawValue)">\
            <label>\(html(t[.token]))<input type="password" name="token" id="token" autocomplete="off" required autofocus></label>\
            <button id="sign-in">\(html(t[.signIn]))</button>\
            <p><a id="language" href="\(html(DashboardPage.url("/signin", [("next", next), ("lang", other.rawValue)])))">\(other.name)</a></p>\
            </form></body></html>
            """
        var response = DashboardPage.htmlResponse(page, status: status)
        let secure = self.secure(request, context: context) ? "; Secure" : ""
        response.headers.append(HTTPField(name: .setCookie, value: "ct_signin=\(token); Path=/signin; Max-Age=3600; HttpOnly; SameSite=Strict\(secure)"))
        return response
    }

    @Sendable func signInPage(_ request: Request, context: Context) async throws -> Response {
        let query = FormData.parse(request.uri.query ?? "")
        let next = Self.safeNext(query["next"])
        if let id = Self.cookies(request)["ct_session"], sessions.session(id) != nil {
            return Response(status: .seeOther, headers: [.location: next])
        }
        let language = Self.language(request, query: query)
        var response = signInForm(request, context: context, next: next, language: language, error: nil, status: .ok)
        if query["lang"].flatMap(DashboardLanguage.init) != nil {
            response.headers.append(HTTPField(name: .setCookie, value: DashboardPage.languageCookie(language)))
        }
        return response
    }

    @Sendable func signIn(_ request: Request, context: Context) async throws -> Response {
        var request = request
        let form = FormData.parse(String(buffer: try await request.body(upTo: 16 << 10)))
        let next = Self.safeNext(form["next"])
        let language = DashboardLanguage.choose(query: form["lang"], cookie: Self.cookies(request)["ct_lang"],
                                                acceptLanguage: request.headers[.acceptLanguage])
        let t = DashboardText(language: language)
        let address = clientAddress(request, peer: context.remoteAddress?.ipAddress, trustedProxies: trustedProxies).address
        guard signInLimiter.allow(address) else {
            return signInForm(request, context: context, next: next, language: language, error: t[.tooManyAttempts], status: .tooManyRequests)
        }
        guard let expected = Self.cookies(request)["ct_signin"], let presented = form["csrf"], !expected.isEmpty,
              constantTimeEquals(expected, presented) else {
            return signInForm(request, context: context, next: next, language: language, error: t[.formExpired], status: .forbidden)
        }
        let token = form["token"] ?? ""
        var valid = false
        for admin in adminTokens where !admin.isEmpty && constantTimeEquals(admin, token) { valid = true }
        guard valid else {
            // The same answer for every wrong token: nothing says whether a token exists.
            return signInForm(request, context: context, next: next, language: language, error: t[.wrongToken], status: .forbidden)
        }
        let (id, _) = sessions.create()
        let secure = self.secure(request, context: context) ? "; Secure" : ""
        var headers: HTTPFields = [.location: next]
        headers.append(HTTPField(name: .setCookie, value: "ct_session=\(id); Path=/; HttpOnly; SameSite=Strict\(secure)"))
        headers.append(HTTPField(name: .setCookie, value: "ct_signin=; Path=/signin; Max-Age=0; HttpOnly; SameSite=Strict\(secure)"))
        headers.append(HTTPField(name: .setCookie, value: DashboardPage.languageCookie(language)))
        return Response(status: .seeOther, headers: headers)
    }

    @Sendable func signOut(_ request: Request, context: Context) async throws -> Response {
        var request = request
        let form = FormData.parse(String(buffer: try await request.body(upTo: 16 << 10)))
        guard let id = Self.cookies(request)["ct_session"], let session = sessions.session(id) else {
            return Response(status: .seeOther, headers: [.location: "/signin"])
        }
        guard let csrf = form["csrf"], constantTimeEquals(csrf, session.csrf) else {
            return Self.forbidden(DashboardText(language: Self.language(request, query: [:])))
        }
        sessions.end(id)
        var headers: HTTPFields = [.location: "/signin"]
        headers.append(HTTPField(name: .setCookie, value: "ct_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"))
        return Response(status: .seeOther, headers: headers)
    }
}
