import CallTrackCore
import Foundation
import Hummingbird
import Storage

/// The project's calls in the files ad platforms and analytics take (admin; DESIGN.md "Webhooks,
/// analytics exports, and the source for the agent"): Yandex Metrica's offline calls and Google Ads'
/// offline click conversions.
struct ExportController<Context: RequestContext>: Sendable {
    let projects: [String: PublicProject]
    let calls: any CallRepository

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("projects/:key/exports/metrica-calls.csv", use: metrica)
        group.get("projects/:key/exports/google-ads-conversions.csv", use: googleAds)
    }

    /// Metrica's calls upload (`ExportCall.metricaRow`): the same rows the scheduled upload sends.
    @Sendable func metrica(_ request: Request, context: Context) async throws -> Response {
        let project = try projects.project(context)
        let period = try ReportPeriod(request, timeZone: project.timeZone)
        var lines = [CSV.line(ExportCall.metricaHeader)]
        try await calls.forEachExportCall(project: project.key, from: period.start, to: period.end) { c in
            if let row = c.metricaRow { lines.append(CSV.line(row)) }
        }
        return CSV.response(lines, filename: "metrica-calls.csv")
    }

    /// Google Ads' offline click conversions template: answered calls whose visit carried a gclid and
    /// that lasted at least `min_talk_seconds`, valued at the sales that count for them.
    @Sendable func googleAds(_ request: Request, context: Context) async throws -> Response {
        let project = try projects.project(context)
        let period = try ReportPeriod(request, timeZone: project.timeZone)
        let query = request.uri.queryParameters
        let name = query["conversion_name"].map(String.init) ?? "Phone call"
        guard !name.isEmpty, name.count <= 100 else {
            throw APIError.badRequest(field: "conversion_name", "conversion_name is 1 to 100 characters")
        }
        var minTalk = 0.0
        if let raw = query["min_talk_seconds"] {
            guard let v = Int(String(raw)), (0...86400).contains(v) else {
                throw APIError.badRequest(
                    field: "min_talk_seconds", "min_talk_seconds is a whole number of seconds, 0 to 86400")
            }
            minTalk = Double(v)
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = project.timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        var lines = [
            "Parameters:TimeZone=\(project.timeZone.identifier)",
            "Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency",
        ]
        try await calls.forEachExportCall(project: project.key, from: period.start, to: period.end) { c in
            guard c.kind == .dynamic, let gclid = c.gclid, c.answered, c.talkSeconds >= minTalk else { return }
            let value = c.revenue == c.revenue.rounded() ? String(Int(c.revenue)) : String(c.revenue)
            lines.append(
                CSV.line([
                    .outside(gclid), .own(name), .own(formatter.string(from: c.startedAt)), .own(value),
                    .own(project.currency),
                ]))
        }
        return CSV.response(lines, filename: "google-ads-conversions.csv")
    }
}

extension CSV {
    static func response(_ lines: [String], filename: String) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"\(filename)\"",
                .cacheControl: "no-store",
            ], body: .init(byteBuffer: ByteBuffer(string: lines.joined(separator: "\r\n") + "\r\n")))
    }
}
