import CallTrackCore
import Foundation
import Hummingbird
import Storage
import Tracking

/// Admin routes that turn stored calls into decisions: the report, leads, sales from the CRM and
/// imported ad costs (contracts in DESIGN.md, "Reports, leads, sales and costs").
struct ReportController<Context: RequestContext>: Sendable {
    let projects: [String: PublicProject]
    let calls: any CallRepository
    let reports: ReportService
    static var bodyLimit: Int { 4 << 20 }

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("projects/:key/report", use: report)
        group.get("projects/:key/leads", use: leads)
        group.post("projects/:key/sales", use: saleByPhone)
        group.post("calls/:id/sale", use: saleByCall)
        group.put("projects/:key/costs", use: importCosts)
    }

    // MARK: Report and leads

    @Sendable func report(_ request: Request, context: Context) async throws -> Response {
        let project = try projects.project(context)
        let period = try ReportPeriod(request, timeZone: project.timeZone)
        let query = try ReportQuery(request)
        let format = request.uri.queryParameters["format"].map(String.init) ?? "json"
        guard format == "json" || format == "csv" else {
            throw APIError.badRequest(field: "format", "format is json or csv")
        }
        let report = try await reports.build(
            project: project, period: period, groupings: [query.dimensions], model: query.model)[0]
        if format == "csv" { return ReportCSV.response(report, dimensions: query.dimensions) }
        return try ReportJSON(project: project, period: period, model: query.model, report: report).response(
            from: request, context: context)
    }

    @Sendable func leads(_ request: Request, context: Context) async throws -> Response {
        let project = try projects.project(context)
        let period = try ReportPeriod(request, timeZone: project.timeZone)
        let paging = try PageQuery(request, defaultLimit: 1000, maxLimit: 10_000)
        let leads = try await calls.leads(
            project: project.key, from: period.start, to: period.end, limit: paging.limit + 1,
            after: paging.after?.rawValue)
        let page = Array(leads.prefix(paging.limit))
        return try LeadsJSON(
            leads: page.map(LeadsJSON.LeadJSON.init),
            nextCursor: leads.count > paging.limit ? page.last?.firstCallID : nil
        ).response(from: request, context: context)
    }

    // MARK: Sales and costs

    /// `{"amount", "deal_id"}`, and `"phone"` for a sale by the customer's phone.
    struct SaleBody: Decodable {
        let amount: Double
        let dealID: String
        let phone: String?

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            amount = try c.number(.amount, problem: "amount must be a number, 0 or more") { $0.isFinite && $0 >= 0 }
            dealID =
                try c.text(
                    .dealID, maxBytes: 512, required: true,
                    problem: "deal_id must be the CRM's deal id, 1 to 128 characters"
                ) { $0.count <= 128 } ?? ""
            phone = try c.text(.phone, maxBytes: 256, problem: "phone must be the customer's phone number") {
                $0.count <= 64
            }
        }

        enum Key: String, CodingKey { case amount, dealID = "deal_id", phone }
    }

    private func saleResponse(_ outcome: SaleOutcome, request: Request, context: Context) throws -> Response {
        switch outcome {
        case .unknownCall: throw APIError(.notFound, code: "not_found", message: "no call with this id", field: "id")
        case .unknownPhone:
            throw APIError(.notFound, code: "not_found", message: "no caller with this phone", field: "phone")
        case .created, .updated:
            let created = outcome == .created
            var response = try SaleJSON(status: created ? "created" : "updated").response(
                from: request, context: context)
            response.status = created ? .created : .ok
            return response
        }
    }

    @Sendable func saleByCall(_ request: Request, context: Context) async throws -> Response {
        guard let id = context.parameters.get("id").flatMap(CallID.init) else {
            throw APIError(.notFound, code: "not_found", message: "no call with this id", field: "id")
        }
        var request = request
        let sale = try await request.decode(SaleBody.self, limit: Self.bodyLimit)
        let outcome = try await calls.recordSale(
            project: nil, callID: id, phone: nil, dealID: sale.dealID, amount: sale.amount, at: Date())
        return try saleResponse(outcome, request: request, context: context)
    }

    @Sendable func saleByPhone(_ request: Request, context: Context) async throws -> Response {
        let project = try projects.project(context)
        var request = request
        let sale = try await request.decode(SaleBody.self, limit: Self.bodyLimit)
        guard let phone = sale.phone else {
            throw APIError.badRequest(field: "phone", "phone must be the customer's phone number")
        }
        let outcome = try await calls.recordSale(
            project: project.key, callID: nil, phone: phone, dealID: sale.dealID, amount: sale.amount, at: Date())
        return try saleResponse(outcome, request: request, context: context)
    }

    @Sendable func importCosts(_ request: Request, context: Context) async throws -> Response {
        let project = try projects.project(context)
        var request = request
        let rows: [CostRow]
        if request.headers[.contentType]?.lowercased().hasPrefix("text/csv") == true {
            rows = try CostImport.csv(String(buffer: try await request.body(upTo: Self.bodyLimit)))
        } else {
            rows = try await request.decode(CostImport.Body.self, limit: Self.bodyLimit).rows.map(\.cost)
        }
        try await reports.store(costs: rows, project: project)
        return try CostsImportedJSON(imported: rows.count).response(from: request, context: context)
    }
}
