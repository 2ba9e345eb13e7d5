import CallTrackCore
import Foundation
import Hummingbird
import Storage
import Tracking

/// Admin routes that turn stored calls into decisions: the report, leads, sales from the CRM and
/// imported ad costs (contracts in DESIGN.md, "Reports, leads, sales and costs").
struct ReportController<Context: RequestContext>: Sendable {
    let projects: [String: PublicProject]
    let store: SQLiteCallRecordStore
    let tracking: SQLiteTrackingStore
    static var bodyLimit: Int { 4 << 20 }
    /// Rows one cost import may carry.
    static var maxCostRows: Int { 100_000 }

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("projects/:key/report", use: report)
        group.get("projects/:key/leads", use: leads)
        group.post("projects/:key/sales", use: saleByPhone)
        group.post("calls/:id/sale", use: saleByCall)
        group.put("projects/:key/costs", use: importCosts)
    }

    private func project(_ context: Context) throws -> PublicProject { try projects.project(context) }

    // MARK: Report and leads

    @Sendable func report(_ request: Request, context: Context) async throws -> Response {
        let project = try project(context)
        let period = try ReportPeriod(request, timeZone: project.timeZone)
        let query = try ReportQuery(request)
        let format = request.uri.queryParameters["format"].map(String.init) ?? "json"
        guard format == "json" || format == "csv" else { throw APIError.badRequest(field: "format", "format is json or csv") }
        let report = try build(project: project, period: period, groupBy: query.dimensions, model: query.model)
        if format == "csv" { return ReportCSV.response(report, dimensions: query.dimensions) }
        return try ReportJSON(project: project, period: period, model: query.model, report: report)
            .response(from: request, context: context)
    }

    /// The project's calls in `period`, grouped, under the stored attribution or `model`.
    func build(project: PublicProject, period: ReportPeriod, groupBy dimensions: [ReportDimension],
               model: AttributionModel?) throws -> Report {
        try build(project: project, period: period, groupings: [dimensions], model: model)[0]
    }

    /// One report per grouping from a single pass over the calls (the dashboard shows two).
    func build(project: PublicProject, period: ReportPeriod, groupings: [[ReportDimension]],
               model: AttributionModel?) throws -> [Report] {
        var builders = groupings.map { ReportBuilder(groupBy: $0, timeZone: project.timeZone) }
        func add(_ call: ReportCall) { for i in builders.indices { builders[i].add(call) } }
        // Under another model each visitor's history is read, after the scan (the scan holds the
        // read connection); without one the calls go straight into the report.
        var visited: [ReportCall] = []
        try store.forEachReportCall(project: project.key, from: period.start, to: period.end,
                                    landingPages: groupings.contains { $0.contains(.landingPage) } || model != nil,
                                    visitors: model != nil) { call in
            if model != nil, call.kind == .dynamic, call.clientID != nil { visited.append(call) } else { add(call) }
        }
        if let model {
            var visits: [String: [Visit]] = [:]
            for call in visited {
                let client = call.clientID ?? ""
                if visits[client] == nil { visits[client] = try tracking.visits(projectKey: project.key, clientID: client) }
                add(call.reattributed(model, visits: visits[client] ?? []))
            }
        }
        let costs = try store.costs(project: project.key, from: period.from, to: period.to)
        return builders.map { $0.report(costs: costs) }
    }

    @Sendable func leads(_ request: Request, context: Context) async throws -> Response {
        let project = try project(context)
        let period = try ReportPeriod(request, timeZone: project.timeZone)
        let paging = try PageQuery(request, defaultLimit: 1000, maxLimit: 10_000)
        let leads = try store.leads(project: project.key, from: period.start, to: period.end, limit: paging.limit + 1,
                                    after: paging.after?.rawValue)
        let page = Array(leads.prefix(paging.limit))
        return try LeadsJSON(leads: page.map(LeadsJSON.LeadJSON.init),
                             nextCursor: leads.count > paging.limit ? page.last?.firstCallID : nil)
            .response(from: request, context: context)
    }

    // MARK: Sales and costs

    /// The JSON object of a request body, or 400.
    private func object(_ request: Request) async throws -> [String: Any] {
        var request = request
        let body = try await request.body(upTo: Self.bodyLimit)
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] else {
            throw APIError(.badRequest, code: "invalid_json", message: "the body must be a JSON object")
        }
        return object
    }

    /// `amount` and `deal_id` of a sale.
    private func sale(_ body: [String: Any]) throws -> (amount: Double, dealID: String) {
        guard let amount = jsonNumber(body["amount"]), amount.isFinite, amount >= 0 else {
            throw APIError.badRequest(field: "amount", "amount must be a number, 0 or more")
        }
        guard let deal = body["deal_id"] as? String, !deal.isEmpty, deal.count <= 128 else {
            throw APIError.badRequest(field: "deal_id", "deal_id must be the CRM's deal id, 1 to 128 characters")
        }
        return (amount, deal)
    }

    private func saleResponse(_ outcome: SaleOutcome, request: Request, context: Context) throws -> Response {
        switch outcome {
        case .unknownCall: throw APIError(.notFound, code: "not_found", message: "no call with this id", field: "id")
        case .unknownPhone: throw APIError(.notFound, code: "not_found", message: "no caller with this phone", field: "phone")
        case .created, .updated:
            let created = outcome == .created
            var response = try SaleJSON(status: created ? "created" : "updated").response(from: request, context: context)
            response.status = created ? .created : .ok
            return response
        }
    }

    @Sendable func saleByCall(_ request: Request, context: Context) async throws -> Response {
        guard let id = context.parameters.get("id").flatMap(CallID.init) else {
            throw APIError(.notFound, code: "not_found", message: "no call with this id", field: "id")
        }
        let (amount, deal) = try sale(try await object(request))
        return try saleResponse(try store.recordSale(project: nil, callID: id, phone: nil, dealID: deal, amount: amount),
                                request: request, context: context)
    }

    @Sendable func saleByPhone(_ request: Request, context: Context) async throws -> Response {
        let project = try project(context)
        let body = try await object(request)
        guard let phone = body["phone"] as? String, !phone.isEmpty, phone.count <= 64 else {
            throw APIError.badRequest(field: "phone", "phone must be the customer's phone number")
        }
        let (amount, deal) = try sale(body)
        return try saleResponse(try store.recordSale(project: project.key, callID: nil, phone: phone, dealID: deal, amount: amount),
                                request: request, context: context)
    }

    /// Stores an import of cost rows (at most `maxCostRows`), all or nothing; the dashboard's form uses it too.
    func store(costs rows: [CostRow], project: PublicProject) throws {
        guard rows.count <= Self.maxCostRows else {
            throw APIError.badRequest(field: "rows", "at most \(Self.maxCostRows) rows per import")
        }
        try store.importCosts(project: project.key, rows: rows)
    }

    @Sendable func importCosts(_ request: Request, context: Context) async throws -> Response {
        let project = try project(context)
        var request = request
        let body = try await request.body(upTo: Self.bodyLimit)
        let isCSV = request.headers[.contentType]?.lowercased().hasPrefix("text/csv") == true
        let rows = isCSV ? try CostImport.csv(String(buffer: body)) : try CostImport.json(Data(buffer: body))
        try store(costs: rows, project: project)
        return try CostsImportedJSON(imported: rows.count).response(from: request, context: context)
    }
}

/// `group_by` (default `source,medium`) and `model` of a report request.
struct ReportQuery {
    var dimensions: [ReportDimension] = []
    var model: AttributionModel?

    init(_ request: Request) throws {
        let query = request.uri.queryParameters
        try self.init(groupBy: query["group_by"].map(String.init), model: query["model"].map(String.init))
    }

    init(groupBy: String?, model rawModel: String?, defaultGroupBy: String = "source,medium") throws {
        for name in (groupBy ?? defaultGroupBy).split(separator: ",") {
            guard let d = ReportDimension(rawValue: String(name)), !dimensions.contains(d) else {
                throw APIError.badRequest(field: "group_by", "group_by takes \(ReportDimension.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            dimensions.append(d)
        }
        if let raw = rawModel, !raw.isEmpty {
            guard let m = AttributionModel(rawValue: raw) else {
                throw APIError.badRequest(field: "model", "model is one of \(AttributionModel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            model = m
        }
    }
}

/// A period of whole days in the project's time zone: [start of `from`, start of the day after `to`).
struct ReportPeriod {
    let from: String, to: String
    let start: Date, end: Date

    init(_ request: Request, timeZone: TimeZone) throws {
        let query = request.uri.queryParameters
        try self.init(from: query["from"].map(String.init), to: query["to"].map(String.init), timeZone: timeZone)
    }

    init(from rawFrom: String?, to rawTo: String?, timeZone: TimeZone) throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        func day(_ name: String, default value: Date) throws -> (String, Date) {
            guard let raw = name == "from" ? rawFrom : rawTo else {
                let c = calendar.dateComponents([.year, .month, .day], from: value)
                let text = String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
                return (text, calendar.startOfDay(for: value))
            }
            let parts = raw.split(separator: "-").compactMap { Int($0) }
            guard raw.count == 10, parts.count == 3,
                  let date = calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])),
                  calendar.dateComponents([.year, .month, .day], from: date) == DateComponents(year: parts[0], month: parts[1], day: parts[2]) else {
                throw APIError.badRequest(field: name, "\(name) must be a date like 2026-11-01")
            }
            return (raw, date)
        }
        let now = Date()
        let (to, toStart) = try day("to", default: now)
        let (from, start) = try day("from", default: calendar.date(byAdding: .day, value: -29, to: toStart) ?? toStart)
        guard start <= toStart else { throw APIError.badRequest(field: "from", "from must not be after to") }
        guard let end = calendar.date(byAdding: .day, value: 1, to: toStart),
              end.timeIntervalSince(start) <= 400 * 86400 else {
            throw APIError.badRequest(field: "from", "a report covers at most 400 days")
        }
        self.from = from; self.to = to; self.start = start; self.end = end
    }
}
