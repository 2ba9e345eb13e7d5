import CallTrackCore
import Foundation
import Hummingbird
import Storage

/// The filters of a calls list: `project`, `from`/`to` (days in the project's time zone, UTC without a
/// project), `status`, `source` (as the report shows it) and `number` (dialled or calling, any format).
struct CallListQuery {
    let filter: CallFilter

    init(_ request: Request, projects: [String: PublicProject]) throws {
        let query = request.uri.queryParameters
        try self.init({ query[Substring($0)].map(String.init) }, projects: projects)
    }

    /// `value(name)` gives a parameter's decoded value.
    init(_ value: (String) -> String?, projects: [String: PublicProject]) throws {
        func text(_ name: String) throws -> String? {
            guard let raw = value(name), !raw.isEmpty else { return nil }
            guard raw.count <= 200 else { throw APIError.badRequest(field: name, "\(name) is at most 200 characters") }
            return raw
        }
        var filter = CallFilter(source: try text("source"), number: try text("number"))
        if let key = try text("project") {
            // An unknown project lists nothing rather than failing: calls of a removed project stay readable.
            filter.project = key
        }
        if let raw = try text("status") {
            guard let status = CallStatus(rawValue: raw) else {
                throw APIError.badRequest(field: "status", "status is answered, missed or in_progress")
            }
            filter.status = status
        }
        if try text("from") != nil || text("to") != nil {
            let period = try ReportPeriod(
                from: try text("from"), to: try text("to"),
                timeZone: filter.project.flatMap { projects[$0]?.timeZone } ?? .gmt)
            filter.since = period.start
            filter.until = period.end
        }
        self.filter = filter
    }
}
