import CallTrackCore
import Foundation
import Hummingbird
import Tracking

/// `/`: the report for any period, grouping and attribution model, with a chart of calls per day by
/// source and a warning when the static number took calls (`report.mustache`).
extension Dashboard {
    static let groupings: [(String, [Phrase])] = [
        ("source", [.source]), ("source,medium", [.source, .medium]), ("campaign", [.campaign]),
        ("source,campaign,keyword", [.source, .campaign, .keyword]), ("keyword", [.keyword]), ("medium", [.medium]),
        ("day", [.day]), ("landing_page", [.landingPage]), ("number", [.number]), ("channel", [.channel]),
        ("hour", [.hour]), ("weekday", [.weekday]),
    ]
    static let models: [(String, Phrase)] = [
        ("", .asRecorded), ("last_click", .lastClick), ("last_non_direct", .lastNonDirect),
        ("first_click", .firstClick),
    ]

    struct ReportView {
        let period: PeriodFields
        let groupOptions, modelOptions: [DashboardPage.Layout.Option]
        let staticShare: String?
        let poolLink: String
        let chart: CallsChart
        let table: ReportTable?
    }

    /// A report as a table: the group columns, then the figures; totals last.
    struct ReportTable {
        struct Row { let groups, figures: [String] }
        let dimensions, metrics: [String]
        let rows: [Row]
        let dimensionCount: Int
        let totals: [String]

        init(_ report: Report, dimensions: [ReportDimension], _ p: DashboardPage) {
            let t = p.text
            func n(_ v: Double?, digits: Int = 2) -> String {
                v.map { DashboardText.number($0, digits: digits, language: p.language) } ?? "—"
            }
            func figures(_ m: ReportMetrics) -> [String] {
                [
                    String(m.calls), String(m.answered), String(m.missed), String(m.firstTimeCallers),
                    String(m.uniqueCallers), n(m.avgRingSeconds, digits: 1), n(m.talkSeconds / 60, digits: 1),
                    String(m.sales), n(m.revenue), n(m.cost), n(m.costPerCall), n(m.costPerLead),
                    n(m.roi.map { $0 * 100 }, digits: 0) + (m.roi == nil ? "" : " %"),
                ]
            }
            self.dimensions = dimensions.map { t[Dashboard.phrase($0)] }
            metrics = [
                Phrase.calls, .answered, .missed, .firstTimeCallers, .uniqueCallers, .avgRing, .talkMinutes, .sales,
                .revenue, .cost, .costPerCall, .costPerLead, .roi,
            ].map { t[$0] }
            rows = report.rows.map { row in
                Row(groups: dimensions.map { row.group[$0.rawValue] ?? "" }, figures: figures(row.metrics))
            }
            dimensionCount = dimensions.count
            totals = figures(report.totals)
        }
    }

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

    @Sendable func reportPage(_ request: Request, context: DashboardContext) async throws -> Response {
        try await page(request, context, path: "/") { p in
            var notices: [DashboardPage.Notice] = []
            let period = Self.period(p, notices: &notices)
            var query = ReportQuery(grouping: .source)
            do {
                query = try ReportQuery(groupBy: p.value("group_by"), model: p.value("model"), defaultGroupBy: "source")
            } catch { notices.append(Self.problem(error, p)) }
            let built = try await reports.build(
                project: p.project, period: period, groupings: [query.dimensions, [.day, .source]], model: query.model)
            let (report, daily) = (built[0], built[1])
            let t = p.text
            let grouping = query.dimensions.map(\.rawValue).joined(separator: ",")
            // The static number answering calls means visitors went without a number of their own.
            let staticCalls = daily.rows.filter { $0.group["source"] == "(static)" }.reduce(0) { $0 + $1.metrics.calls }
            let share =
                staticCalls > 0 && daily.totals.calls > 0 ? Double(staticCalls) * 100 / Double(daily.totals.calls) : nil
            let view = ReportView(
                period: PeriodFields(p, period),
                groupOptions: Self.groupings.map { value, phrases in
                    .init(
                        value: value, label: phrases.map { t[$0] }.joined(separator: " / "), selected: value == grouping
                    )
                },
                modelOptions: Self.models.map {
                    .init(value: $0.0, label: t[$0.1], selected: $0.0 == (query.model?.rawValue ?? ""))
                }, staticShare: share.map { t.staticWarning(percent: $0, add: 0) }, poolLink: p.link("/pool"),
                chart: CallsChart(
                    days: period.days(in: p.project.timeZone),
                    calls: daily.rows.map { ($0.group["day"] ?? "", $0.group["source"] ?? "", $0.metrics.calls) },
                    title: t[.chartTitle]),
                table: report.totals.calls > 0 || report.totals.cost ?? 0 > 0
                    ? ReportTable(report, dimensions: query.dimensions, p) : nil)
            return p.render(
                "report", title: t[.report], content: view, status: notices.isEmpty ? .ok : .badRequest,
                notices: notices)
        }
    }
}
