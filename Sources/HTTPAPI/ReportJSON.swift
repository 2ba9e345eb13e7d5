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
        case talkSeconds = "talk_seconds", revenue, avgRingSeconds = "avg_ring_seconds", cost, costPerCall = "cost_per_call"
        case costPerLead = "cost_per_lead", roi
    }

    init(_ m: ReportMetrics) {
        calls = m.calls; answered = m.answered; missed = m.missed; uniqueCallers = m.uniqueCallers
        firstTimeCallers = m.firstTimeCallers; sales = m.sales
        talkSeconds = Self.round(m.talkSeconds); revenue = Self.round(m.revenue)
        avgRingSeconds = m.avgRingSeconds.map(Self.round); cost = m.cost.map(Self.round)
        costPerCall = m.costPerCall.map(Self.round); costPerLead = m.costPerLead.map(Self.round); roi = m.roi.map(Self.round)
    }

    /// Money and seconds to 1/1000: enough for kopecks and milliseconds, short in JSON.
    static func round(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }

    /// The values in CSV column order (`CodingKeys` order), empty for null.
    var csvValues: [String] {
        func n(_ v: Double?) -> String { v.map { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int($0)) : String($0) } ?? "" }
        return [String(calls), String(answered), String(missed), String(uniqueCallers), String(firstTimeCallers), String(sales),
                n(talkSeconds), n(revenue), n(avgRingSeconds), n(cost), n(costPerCall), n(costPerLead), n(roi)]
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
        self.project = project.key; from = period.from; to = period.to; timezone = project.timeZone.identifier
        currency = project.currency; self.model = model?.rawValue ?? "stored"
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
            lines.append((dimensions.map { field(row.group[$0.rawValue] ?? "") } + MetricsJSON(row.metrics).csvValues)
                .joined(separator: ","))
        }
        lines.append((dimensions.map { _ in "(total)" } + MetricsJSON(report.totals).csvValues).joined(separator: ","))
        return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: lines.joined(separator: "\r\n") + "\r\n")))
    }

    /// RFC 4180 quoting; a leading = + - @ is prefixed with ' so a spreadsheet never runs it.
    static func field(_ s: String) -> String {
        var s = s
        if let first = s.first, "=+-@".contains(first) { s = "'" + s }
        guard s.contains(where: { ",\"\r\n".contains($0) }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

extension MetricsJSON.CodingKeys: CaseIterable {
    static var allNames: [String] { allCases.map(\.stringValue) }
}

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
            phone = l.phone; firstCallID = l.firstCallID; firstCallAt = CallJSON.format(l.firstCallAt); calls = l.calls
            sales = l.sales; revenue = MetricsJSON.round(l.revenue)
            source = l.source; medium = l.medium; campaign = l.campaign; keyword = l.keyword
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

/// Cost rows from JSON (`{"rows": [...]}`) or CSV (`date,source,medium,campaign,keyword,amount`),
/// checked whole before anything is stored: a bad row is named with its field.
enum CostImport {
    static func json(_ data: Data) throws -> [CostRow] {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let rows = object["rows"] as? [Any] else {
            throw APIError(.badRequest, code: "invalid_json", message: "the body must be {\"rows\": [...]}", field: "rows")
        }
        return try rows.enumerated().map { i, raw in
            guard let r = raw as? [String: Any] else { throw APIError.badRequest(field: "rows[\(i)]", "each row is an object") }
            func text(_ k: String) -> String? { r[k] as? String }
            let amount = jsonNumber(r["amount"])
            return try row(date: text("date"), source: text("source"), medium: text("medium"), campaign: text("campaign"),
                           keyword: text("keyword"), amount: amount, at: "rows[\(i)]")
        }
    }

    static func csv(_ text: String) throws -> [CostRow] {
        var records = Self.records(text)
        let header = ["date", "source", "medium", "campaign", "keyword", "amount"]
        guard let first = records.first, first.map({ $0.lowercased() }) == header else {
            throw APIError.badRequest(field: "header", "the first line must be \(header.joined(separator: ","))")
        }
        records.removeFirst()
        return try records.enumerated().map { i, f in
            let at = "row \(i + 2)"
            guard f.count == header.count else { throw APIError.badRequest(field: at, "\(at) needs \(header.count) fields") }
            func opt(_ s: String) -> String? { s.isEmpty ? nil : s }
            return try row(date: f[0], source: f[1], medium: f[2], campaign: opt(f[3]), keyword: opt(f[4]),
                           amount: Double(f[5]), at: at)
        }
    }

    /// CSV records (RFC 4180, as spreadsheets and ad platforms export them): a field in double quotes
    /// may hold commas, line breaks and doubled quotes; unquoted fields are trimmed; blank lines and
    /// a leading byte-order mark are skipped.
    static func records(_ text: String) -> [[String]] {
        var records: [[String]] = [], record: [String] = [], field = ""
        var inQuotes = false, quoted = false
        let chars = Array(text.hasPrefix("\u{FEFF}") ? text.dropFirst() : Substring(text))
        func endField() {
            record.append(quoted ? field : field.trimmingCharacters(in: .whitespaces))
            field = ""; quoted = false
        }
        func endRecord() {
            endField()
            if record != [""] { records.append(record) }
            record = []
        }
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if inQuotes {
                if c == "\"" {
                    if i + 1 < chars.count, chars[i + 1] == "\"" { field.append("\""); i += 1 } else { inQuotes = false }
                } else {
                    field.append(c)
                }
            } else if c == "\"", field.allSatisfy(\.isWhitespace) {
                inQuotes = true; quoted = true; field = ""
            } else if c == "," {
                endField()
            } else if c.isNewline {
                endRecord()
            } else {
                field.append(c)
            }
            i += 1
        }
        if !field.isEmpty || !record.isEmpty || quoted { endRecord() }
        return records
    }

    private static func row(date: String?, source: String?, medium: String?, campaign: String?, keyword: String?,
                            amount: Double?, at: String) throws -> CostRow {
        let day = /^\d{4}-\d{2}-\d{2}$/
        guard let date, date.wholeMatch(of: day) != nil else { throw APIError.badRequest(field: "\(at).date", "\(at): date must be like 2026-11-01") }
        guard let source, !source.isEmpty, source.count <= 256 else { throw APIError.badRequest(field: "\(at).source", "\(at): source is required") }
        guard let medium, !medium.isEmpty, medium.count <= 256 else { throw APIError.badRequest(field: "\(at).medium", "\(at): medium is required") }
        guard (campaign?.count ?? 0) <= 256, (keyword?.count ?? 0) <= 256 else {
            throw APIError.badRequest(field: "\(at).campaign", "\(at): campaign and keyword are at most 256 characters")
        }
        guard let amount, amount.isFinite, amount >= 0 else { throw APIError.badRequest(field: "\(at).amount", "\(at): amount must be a number, 0 or more") }
        return CostRow(date: date, source: source, medium: medium, campaign: campaign, keyword: keyword, amount: amount)
    }
}

/// A JSON number as a Double; nil for anything else, `true` and `false` included (Foundation hands
/// JSON booleans over as NSNumbers, and `1 is Bool` holds for an NSNumber).
func jsonNumber(_ value: Any?) -> Double? {
    guard let n = value as? NSNumber, ObjectIdentifier(type(of: n)) != booleanType else { return nil }
    return n.doubleValue
}

private let booleanType = ObjectIdentifier(type(of: NSNumber(value: true)))
