import CallTrackCore
import Foundation
import Hummingbird
import Storage

/// `/leads`: the callers whose first call fell in the period, with what their first call came from,
/// in pages of 100 (`leads.mustache`).
extension Dashboard {
    static let leadsPerPage = 100

    struct LeadsView {
        struct Row { let phone, firstCall, calls, source, campaign, sales, revenue: String }
        let period: PeriodFields
        let head: [String]
        let hasLeads: Bool
        let leads: [Row]
        let nextPage: String?
    }

    @Sendable func leadsPage(_ request: Request, context: DashboardContext) async throws -> Response {
        try await page(request, context, path: "/leads") { p in
            let t = p.text
            var notices: [DashboardPage.Notice] = []
            let period = Self.period(p, notices: &notices)
            let leads = try await calls.leads(
                project: p.project.key, from: period.start, to: period.end, limit: Self.leadsPerPage + 1,
                after: p.value("cursor"))
            let shown = leads.prefix(Self.leadsPerPage)
            let formatter = Self.timeFormatter(p, "yyyy-MM-dd HH:mm")
            let view = LeadsView(
                period: PeriodFields(p, period),
                head: [
                    t[.phone], t[.firstCall], t[.calls], "\(t[.source]) / \(t[.medium])",
                    "\(t[.campaign]) / \(t[.keyword])", t[.sales], t[.revenue],
                ], hasLeads: !shown.isEmpty,
                leads: shown.map { l in
                    .init(
                        phone: l.phone, firstCall: formatter.string(from: l.firstCallAt), calls: String(l.calls),
                        source: [l.source, l.medium].compactMap { $0 }.joined(separator: " / "),
                        campaign: [l.campaign, l.keyword].compactMap { $0 }.joined(separator: " / "),
                        sales: String(l.sales), revenue: DashboardText.number(l.revenue, language: p.language))
                },
                nextPage: leads.count > Self.leadsPerPage
                    ? shown.last.map {
                        p.link("/leads", [("from", period.from), ("to", period.to), ("cursor", $0.firstCallID)])
                    } : nil)
            return p.render(
                "leads", title: t[.leads], content: view, status: notices.isEmpty ? .ok : .badRequest, notices: notices)
        }
    }
}
