import CallTrackCore
import Foundation
import Hummingbird
import Storage

/// `GET /v1/deliveries` (admin): the outbox's delivery log; `POST /v1/deliveries/{id}/retry` sends one again.
struct DeliveryController<Context: RequestContext>: Sendable {
    let outbox: any OutboxRepository

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("deliveries", use: list)
        group.post("deliveries/:id/retry", use: retry)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        var status: OutboxEntry.Status?
        if let raw = query["status"].map(String.init) {
            guard let s = OutboxEntry.Status(rawValue: raw) else {
                throw APIError.badRequest(field: "status", "status is pending, delivered or failed")
            }
            status = s
        }
        let limit = try PageQuery.limit(request, defaultLimit: 100, maxLimit: 1000)
        let cursor = query["cursor"].map(String.init)
        if let cursor, !OutboxEntry.isEventID(cursor) {
            throw APIError.badRequest(field: "cursor", "cursor must be the next_cursor of a previous page")
        }
        let entries = try await outbox.entries(status: status, project: nil, limit: limit + 1, before: cursor)
        let page = Array(entries.prefix(limit))
        return try DeliveryPage(
            deliveries: page.map(DeliveryJSON.init), nextCursor: entries.count > limit ? page.last?.id : nil
        ).response(from: request, context: context)
    }

    @Sendable func retry(_ request: Request, context: Context) async throws -> Response {
        guard let id = context.parameters.get("id"), OutboxEntry.isEventID(id), try await outbox.retry(id, now: Date())
        else { throw APIError.notFound("no delivery with this id") }
        return Response(status: .accepted)
    }
}

struct DeliveryPage: ResponseEncodable {
    let deliveries: [DeliveryJSON]
    @Nullable var nextCursor: String?
    enum CodingKeys: String, CodingKey { case deliveries, nextCursor = "next_cursor" }
}

/// One delivery as the log shows it (see docs/openapi.yaml).
struct DeliveryJSON: Encodable {
    let id, project, endpoint, event, status, createdAt: String
    @Nullable var callID: String?
    let attempts: Int
    @Nullable var nextAttemptAt: String?
    @Nullable var lastResult: String?

    enum CodingKeys: String, CodingKey {
        case id, project, endpoint, event, status, createdAt = "created_at", callID = "call_id", attempts
        case nextAttemptAt = "next_attempt_at", lastResult = "last_result"
    }

    init(_ e: OutboxEntry) {
        id = e.id
        project = e.project
        endpoint = e.endpoint
        event = e.event.rawValue
        status = e.status.rawValue
        createdAt = CallJSON.format(e.createdAt)
        callID = e.callID?.rawValue
        attempts = e.attempts
        nextAttemptAt = e.nextAttemptAt.map(CallJSON.format)
        lastResult = e.lastResult
    }
}
