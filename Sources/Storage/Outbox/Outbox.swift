import CallTrackCore
import Foundation

/// The persistent outbox of outgoing deliveries, in the same database as the calls. Rows are
/// added in the transaction that stores the change behind them (`CallRecordStore.apply`), so
/// a crash between the two cannot lose an event; a delivery leaves the table's `pending` state only
/// when its endpoint said 2xx, or when it is older than the delivery's maximum age.
public final class Outbox: OutboxRepository {
    let db: any SQLDatabase

    public init(database: any SQLDatabase) { db = database }

    private static let columns =
        "id, project, endpoint, event, call_id, deal_id, created_at, status, attempts, next_attempt_at, last_result, "
        + "body"

    private static func entry(_ r: Row) -> OutboxEntry? {
        guard let id = r["id"].string, let status = r["status"].string.flatMap(OutboxEntry.Status.init),
            let event = r["event"].string.flatMap(DeliveryEvent.init(rawValue:))
        else { return nil }
        return OutboxEntry(
            id: id, project: r["project"].string ?? "", endpoint: r["endpoint"].string ?? "", event: event,
            callID: r["call_id"].string.flatMap(CallID.init), dealID: r["deal_id"].string,
            createdAt: Date(timeIntervalSince1970: r["created_at"].double ?? 0), status: status,
            attempts: r["attempts"].int ?? 0,
            nextAttemptAt: status == .pending
                ? r["next_attempt_at"].double.map(Date.init(timeIntervalSince1970:)) : nil,
            lastResult: r["last_result"].string, body: r["body"].string.map { Data($0.utf8) })
    }

    public func due(endpoint: String, now: Date, limit: Int) async throws -> [OutboxEntry] {
        try await db.query(
            """
            SELECT \(Self.columns) FROM outbox WHERE endpoint = ? AND status = 'pending' AND next_attempt_at <= ?
            ORDER BY created_at, rowid LIMIT ?
            """, [endpoint, now.timeIntervalSince1970, limit]
        ).compactMap(Self.entry)
    }

    public func nextDue(endpoint: String) async throws -> Date? {
        try await db.scalar(
            "SELECT min(next_attempt_at) FROM outbox WHERE endpoint = ? AND status = 'pending'", [endpoint])?.double
            .map(Date.init(timeIntervalSince1970:))
    }

    public func oldestPending(endpoint: String, limit: Int) async throws -> [OutboxEntry] {
        try await db.query(
            """
            SELECT \(Self.columns) FROM outbox WHERE endpoint = ? AND status = 'pending'
            ORDER BY created_at, rowid LIMIT ?
            """, [endpoint, limit]
        ).compactMap(Self.entry)
    }

    public func releaseBacklog(endpoints: [String], now: Date) async throws {
        try await db.write { tx in
            for endpoint in endpoints {
                tx.execute(
                    """
                    UPDATE outbox SET next_attempt_at = ?
                    WHERE endpoint = ? AND status = 'pending' AND next_attempt_at > ?
                    """, [now.timeIntervalSince1970, endpoint, now.timeIntervalSince1970])
            }
        }
    }

    public func giveUp(endpoint: String, createdBefore date: Date, result: String) async throws -> Int {
        let condition = "endpoint = ? AND status = 'pending' AND created_at < ?"
        let n =
            try await db.scalar(
                "SELECT count(*) FROM outbox WHERE \(condition)", [endpoint, date.timeIntervalSince1970])?.int ?? 0
        if n > 0 {
            try await db.execute(
                "UPDATE outbox SET status = 'failed', last_result = ? WHERE \(condition)",
                [result, endpoint, date.timeIntervalSince1970])
        }
        return n
    }

    public func delivered(_ ids: [String], result: String, at: Date) async throws {
        try await db.write { tx in
            for id in ids {
                tx.execute(
                    """
                    UPDATE outbox SET status = 'delivered', attempts = attempts + 1, last_result = ?,
                        delivered_at = ?, body = NULL
                    WHERE id = ?
                    """, [result, at.timeIntervalSince1970, id])
            }
        }
    }

    public func attemptFailed(_ attempts: [FailedAttempt], result: String) async throws {
        try await db.write { tx in
            for attempt in attempts {
                tx.execute(
                    """
                    UPDATE outbox SET attempts = attempts + 1, last_result = ?, status = ?,
                        next_attempt_at = coalesce(?, next_attempt_at), body = coalesce(body, ?)
                    WHERE id = ?
                    """,
                    [
                        String(result.prefix(200)), attempt.next == nil ? "failed" : "pending",
                        attempt.next?.timeIntervalSince1970, attempt.body.map { String(decoding: $0, as: UTF8.self) },
                        attempt.id,
                    ])
            }
        }
    }

    public func entries(status: OutboxEntry.Status?, project: String? = nil, limit: Int, before: String?) async throws
        -> [OutboxEntry]
    {
        var conditions: [String] = [], args: [SQLValueConvertible] = []
        if let status {
            conditions.append("status = ?")
            args.append(status.rawValue)
        }
        if let project {
            conditions.append("project = ?")
            args.append(project)
        }
        if let before {
            conditions.append("rowid < (SELECT rowid FROM outbox WHERE id = ?)")
            args.append(before)
        }
        args.append(limit)
        return try await db.query(
            """
            SELECT \(Self.columns) FROM outbox
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY rowid DESC LIMIT ?
            """, args
        ).compactMap(Self.entry)
    }

    public func retry(_ id: String, now: Date = Date()) async throws -> Bool {
        try await db.execute(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ? WHERE id = ?", [now.timeIntervalSince1970, id])
        return try await db.scalar("SELECT 1 FROM outbox WHERE id = ?", [id]) != nil
    }

    @discardableResult public func prune(before date: Date) async throws -> Int {
        let n =
            try await db.scalar(
                "SELECT count(*) FROM outbox WHERE status != 'pending' AND created_at < ?", [date.timeIntervalSince1970]
            )?.int ?? 0
        if n > 0 {
            try await db.execute(
                "DELETE FROM outbox WHERE status != 'pending' AND created_at < ?", [date.timeIntervalSince1970])
        }
        return n
    }

    public func backlog() async throws -> [String: Int] {
        var out: [String: Int] = [:]
        for r in try await db.query(
            "SELECT endpoint, count(*) AS n FROM outbox WHERE status = 'pending' GROUP BY endpoint")
        { out[r["endpoint"].string ?? ""] = r["n"].int ?? 0 }
        return out
    }
}
