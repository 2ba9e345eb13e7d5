import CallTrackCore
import Foundation
import Hummingbird
import Storage

/// `/setup`: the snippet tag to paste, and the import of ad costs as a CSV file or pasted text
/// (`setup.mustache`, with the page's one script).
extension Dashboard {
    struct SetupView { let snippetTag, project, csv: String }

    @Sendable func setupPage(_ request: Request, context: DashboardContext) async throws -> Response {
        try await page(request, context, path: "/setup") { p in
            let imported = p.value("imported").flatMap(Int.init).map {
                DashboardPage.Notice.ok(p.text.imported($0), id: "imported")
            }
            return setup(p, request: request, context: context, csv: "", notices: imported.map { [$0] } ?? [])
        }
    }

    private func setup(
        _ p: DashboardPage, request: Request, context: DashboardContext, csv: String, notices: [DashboardPage.Notice],
        status: HTTPResponse.Status = .ok
    ) -> Response {
        let host = request.head.authority ?? "CALLTRACK"
        let scheme = secure(request, context: context) ? "https" : "http"
        let view = SetupView(
            snippetTag: "<script src=\"\(scheme)://\(host)/v1/projects/\(p.project.key)/snippet.js\"></script>",
            project: p.project.key, csv: csv)
        return p.render("setup", title: p.text[.setup], content: view, status: status, notices: notices, script: true)
    }

    /// The costs form: stored all or nothing, or the form again with the bad row named.
    @Sendable func importCosts(_ request: Request, context: DashboardContext) async throws -> Response {
        try await page(request, context, path: "/setup") { p in
            let csv = context.form["csv"] ?? ""
            do {
                let rows = try CostImport.csv(csv)
                try await reports.store(costs: rows, project: p.project)
                return Response(
                    status: .seeOther, headers: [.location: p.link("/setup", [("imported", String(rows.count))])])
            } catch let error as APIError {
                return setup(
                    p, request: request, context: context, csv: csv, notices: [Self.problem(error, p)],
                    status: .badRequest)
            }
        }
    }
}
