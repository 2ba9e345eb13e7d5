import CallTrackCore
import Foundation
import Hummingbird
import Storage
import Tracking

/// The figures of a report row or its totals, as the API names them.
struct MetricsJSON: Encodable {
    let calls, answered, missed, uniqueCallers, firstTimeCallers, sales: Int
    let talkSeconds, revenue: Double
    @Nullable var avgRingSeconds: Double?
    @Nullable var cost: Double?
    @Nullable var costPerCall: Double?
    @Nullable var costPerLead: Double?
    @Nullable var roi: Double?

    enum CodingKeys: String, CodingKey {
        case calls, answered, missed, uniqueCallers = "unique_callers", firstTimeCallers = "first_time_callers", sales
        case talkSeconds = "talk_seconds", revenue, avgRingSeconds = "avg_ring_seconds", cost, costPerCall =
            "cost_per_call"
        case costPerLead = "cost_per_lead", roi
    }

    init(_ m: ReportMetrics) {
        calls = m.calls
        answered = m.answered
        missed = m.missed
        uniqueCallers = m.uniqueCallers
        firstTimeCallers = m.firstTimeCallers
        sales = m.sales
        talkSeconds = Self.round(m.talkSeconds)
        revenue = Self.round(m.revenue)
        avgRingSeconds = m.avgRingSeconds.map(Self.round)
        cost = m.cost.map(Self.round)
        costPerCall = m.costPerCall.map(Self.round)
        costPerLead = m.costPerLead.map(Self.round)
        roi = m.roi.map(Self.round)
    }

    /// Money and seconds to 1/1000: enough for kopecks and milliseconds, short in JSON.
    static func round(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }

    /// The values in CSV column order (`CodingKeys` order), empty for null.
    var csvValues: [String] {
        func n(_ v: Double?) -> String {
            v.map { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int($0)) : String($0) } ?? ""
        }
        return [
            String(calls), String(answered), String(missed), String(uniqueCallers), String(firstTimeCallers),
            String(sales), n(talkSeconds), n(revenue), n(avgRingSeconds), n(cost), n(costPerCall), n(costPerLead),
            n(roi),
        ]
    }
}

/// `GET /v1/projects/{key}/report` as JSON.
struct ReportJSON: ResponseEncodable {
    struct Row: Encodable {
        let group: [String: String]
        let metrics: MetricsJSON
        func encode(to encoder: Encoder) throws {
            // The metrics sit beside "group" in the row object.
            try metrics.encode(to: encoder)
            var c = encoder.container(keyedBy: AnyKey.self)
            try c.encode(group, forKey: AnyKey("group"))
        }
    }

    let project, from, to, timezone, currency, model: String
    let rows: [Row]
    let totals: MetricsJSON

    init(project: PublicProject, period: ReportPeriod, model: AttributionModel?, report: Report) {
        self.project = project.key
        from = period.from
        to = period.to
        timezone = project.timeZone.identifier
        currency = project.currency
        self.model = model?.rawValue ?? "stored"
        rows = report.rows.map { Row(group: $0.group, metrics: MetricsJSON($0.metrics)) }
        totals = MetricsJSON(report.totals)
    }
}

/// The same table as CSV: the group columns, then the metrics, one row per group, totals last.
enum ReportCSV {
    static func response(_ report: Report, dimensions: [ReportDimension]) -> Response {
        let metricNames = MetricsJSON.CodingKeys.allNames
        var lines = [(dimensions.map(\.rawValue) + metricNames).joined(separator: ",")]
        for row in report.rows {
            lines.append(
                CSV.line(
                    dimensions.map { .outside(row.group[$0.rawValue] ?? "") }
                        + MetricsJSON(row.metrics).csvValues.map(CSV.Field.own)))
        }
        lines.append((dimensions.map { _ in "(total)" } + MetricsJSON(report.totals).csvValues).joined(separator: ","))
        return Response(
            status: .ok, headers: [.contentType: "text/csv; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: lines.joined(separator: "\r\n") + "\r\n")))
    }
}

extension MetricsJSON.CodingKeys: CaseIterable { static var allNames: [String] { allCases.map(\.stringValue) } }

/// `GET /v1/projects/{key}/leads`.
struct LeadsJSON: ResponseEncodable {
    struct LeadJSON: Encodable {
        let phone, firstCallID, firstCallAt: String
        let calls, sales: Int
        let revenue: Double
        @Nullable var source: String?
        @Nullable var medium: String?
        @Nullable var campaign: String?
        @Nullable var keyword: String?

        enum CodingKeys: String, CodingKey {
            case phone, firstCallID = "first_call_id", firstCallAt = "first_call_at", calls, sales, revenue
            case source, medium, campaign, keyword
        }

        init(_ l: Lead) {
            phone = l.phone
            firstCallID = l.firstCallID
            firstCallAt = CallJSON.format(l.firstCallAt)
            calls = l.calls
            sales = l.sales
            revenue = MetricsJSON.round(l.revenue)
            source = l.source
            medium = l.medium
            campaign = l.campaign
            keyword = l.keyword
        }
    }

    let leads: [LeadJSON]
    /// Pass as `cursor` for the next page; null on the last.
    @Nullable var nextCursor: String?
    enum CodingKeys: String, CodingKey { case leads, nextCursor = "next_cursor" }
}

/// The answer to a sale: `created` (201) or `updated` (200, the same deal again).
struct SaleJSON: ResponseEncodable { let status: String }

/// The answer to a cost import.
struct CostsImportedJSON: ResponseEncodable { let imported: Int }

/// A key known only at run time (a report row's group).
struct AnyKey: CodingKey {
    let stringValue: String
    let intValue: Int? = nil
    init(_ s: String) { stringValue = s }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
