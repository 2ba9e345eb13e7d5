import CallTrackCore
import Foundation
import Hummingbird
import Storage

/// `GET /v1/calls` and `GET /v1/calls/{id}` (admin).
struct CallController<Context: RequestContext>: Sendable {
    let calls: any CallRepository
    let projects: [String: PublicProject]

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("calls", use: list)
        group.get("calls/:id", use: show)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let paging = try PageQuery(request, defaultLimit: 50, maxLimit: 500)
        let filter = try CallListQuery(request, projects: projects).filter
        let records = try await calls.calls(limit: paging.limit + 1, before: paging.after, filter: filter)
        let page = Array(records.prefix(paging.limit))
        let next = records.count > paging.limit ? page.last?.id.rawValue : nil
        return try CallPage(calls: page.map { CallJSON($0) }, nextCursor: next).response(
            from: request, context: context)
    }

    @Sendable func show(_ request: Request, context: Context) async throws -> Response {
        guard let raw = context.parameters.get("id"), let id = CallID(raw) else {
            throw APIError.notFound("no call with this id")
        }
        guard let record = try await calls.call(id: id) else { throw APIError.notFound("no call with this id") }
        return try CallJSON(record, dtmf: try await calls.dtmf(callID: id)).response(from: request, context: context)
    }
}
