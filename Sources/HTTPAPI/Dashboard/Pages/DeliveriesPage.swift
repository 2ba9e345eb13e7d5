import CallTrackCore
import Foundation
import Hummingbird
import Storage

/// `/deliveries`: the project's last 100 deliveries from the outbox, each with a button that sends
/// it again (`deliveries.mustache`).
extension Dashboard {
    struct DeliveriesView {
        struct Row { let id, time, event, endpoint, status, attempts, lastResult, nextAttempt: String }
        let head: [String]
        let hasDeliveries: Bool
        let deliveries: [Row]
        let project: String
    }

    @Sendable func deliveriesPage(_ request: Request, context: DashboardContext) async throws -> Response {
        try await page(request, context, path: "/deliveries") { p in
            let t = p.text
            let entries = try await outbox?.entries(status: nil, project: p.project.key, limit: 100, before: nil) ?? []
            let formatter = Self.timeFormatter(p)
            let view = DeliveriesView(
                head: [
                    t[.time], t[.event], t[.endpoint], t[.status], t[.attempts], t[.lastResult], t[.nextAttempt], "",
                ], hasDeliveries: !entries.isEmpty,
                deliveries: entries.map { e in
                    .init(
                        id: e.id, time: formatter.string(from: e.createdAt), event: e.event.rawValue,
                        endpoint: e.endpoint, status: e.status.rawValue, attempts: String(e.attempts),
                        lastResult: e.lastResult ?? "",
                        nextAttempt: e.nextAttemptAt.map { formatter.string(from: $0) } ?? "")
                }, project: p.project.key)
            let retried = p.value("retried") != nil ? [DashboardPage.Notice.ok(t[.retried], id: "retried")] : []
            return p.render("deliveries", title: t[.deliveries], content: view, notices: retried)
        }
    }

    @Sendable func retryDelivery(_ request: Request, context: DashboardContext) async throws -> Response {
        try await page(request, context, path: "/deliveries") { p in
            guard let id = context.form["id"], OutboxEntry.isEventID(id),
                try await outbox?.retry(id, now: Date()) == true
            else { throw APIError.notFound("no delivery with this id") }
            return Response(status: .seeOther, headers: [.location: p.link("/deliveries", [("retried", "1")])])
        }
    }
}
