import CallTrackCore
import Foundation

/// Where each project's events go: the endpoints (webhooks, analytics, e-mail) and the events each takes.
public struct WebhookRoutes: Sendable {
    public struct Endpoint: Sendable, Equatable {
        /// A webhook takes the events it names. The others turn one event into a delivery of their own:
        /// GA4 a `ga4.phone_call` per ended call of a visitor with a Google Analytics client id,
        /// Metrica a `metrica.call` per ended call it can place (a visitor with `_ym_uid`, or a static
        /// or offline number), e-mail an `email.missed_call` per missed call.
        public enum Kind: Sendable {
            case webhook, ga4, metrica, email

            /// The outbox event a source event becomes for this kind of endpoint, and the SQL condition
            /// on the call (`calls` columns) for it to be sent at all.
            func delivery(of event: String) -> (event: String, condition: String) {
                switch self {
                case .webhook: (event, "")
                case .ga4: ("ga4.phone_call", "AND ga_client_id IS NOT NULL")
                case .metrica: ("metrica.call", "AND (ym_client_id IS NOT NULL OR number_kind IN ('static', 'offline'))")
                case .email: ("email.missed_call", "")
                }
            }
        }
        public let url: String
        public let events: Set<String>
        public let kind: Kind
        public init(url: String, events: Set<String>, kind: Kind = .webhook) { self.url = url; self.events = events; self.kind = kind }
    }
    let byProject: [String: [Endpoint]]
    public init(_ byProject: [String: [Endpoint]] = [:]) { self.byProject = byProject }
    public var isEmpty: Bool { byProject.isEmpty }
}

/// One delivery waiting in, or logged by, the outbox.
public struct OutboxEntry: Sendable, Equatable {
    public enum Status: String, Sendable { case pending, delivered, failed }
    /// The event's id: the same on every attempt (`X-CallTrack-Delivery`).
    public let id: String
    public let project: String
    public let endpoint: String
    public let event: String
    public let callID: CallID?
    /// For `sale.recorded`: the CRM's deal.
    public let dealID: String?
    public let createdAt: Date
    public let status: Status
    public let attempts: Int
    public let nextAttemptAt: Date?
    public let lastResult: String?
    /// The body as first sent, so that every retry sends the same bytes.
    public let body: Data?
}

/// The persistent outbox of outgoing deliveries, in the same SQLite file as the calls. Rows are
/// added in the transaction that stores the change behind them (`SQLiteCallRecordStore.apply`), so
/// a crash between the two cannot lose an event; a delivery leaves the table's `pending` state only
/// when its endpoint said 2xx, or when it is older than the delivery's maximum age.
public final class SQLiteOutbox: Sendable {
    let db: Database

    public init(database: Database) { db = database }

    /// An event id: `evt_` and 128 random bits.
    static func eventID() -> String { "evt_" + Hex.random(words: 2) }

    /// Adds `event` for the call to every endpoint of the call's project that takes it (inside `batch`).
    static func enqueue(_ batch: Database.WriteBatch, routes: WebhookRoutes, event: String, callID: CallID, project: String?,
                        at: Date, dealID: String? = nil) {
        for (key, endpoints) in routes.byProject where project == nil || project == key {
            for endpoint in endpoints where endpoint.events.contains(event) {
                let delivery = endpoint.kind.delivery(of: event)
                // The project is checked against the stored call, so only its own endpoints get it.
                batch.execute("""
                    INSERT INTO outbox (id, project, endpoint, event, call_id, deal_id, created_at, next_attempt_at)
                    SELECT ?, project, ?, ?, id, ?, ?, ? FROM calls WHERE id = ? AND project = ? \(delivery.condition)
                    """, [eventID(), endpoint.url, delivery.event, dealID, at.timeIntervalSince1970,
                          at.timeIntervalSince1970, callID.rawValue, key])
            }
        }
    }

    private static let columns = "id, project, endpoint, event, call_id, deal_id, created_at, status, attempts, next_attempt_at, last_result, body"

    private static func entry(_ r: Row) -> OutboxEntry? {
        guard let id = r["id"].string, let status = r["status"].string.flatMap(OutboxEntry.Status.init) else { return nil }
        return OutboxEntry(id: id, project: r["project"].string ?? "", endpoint: r["endpoint"].string ?? "",
                           event: r["event"].string ?? "", callID: r["call_id"].string.flatMap(CallID.init),
                           dealID: r["deal_id"].string,
                           createdAt: Date(timeIntervalSince1970: r["created_at"].double ?? 0), status: status,
                           attempts: r["attempts"].int ?? 0,
                           nextAttemptAt: status == .pending ? r["next_attempt_at"].double.map(Date.init(timeIntervalSince1970:)) : nil,
                           lastResult: r["last_result"].string, body: r["body"].string.map { Data($0.utf8) })
    }

    /// The endpoint's deliveries due by `now`, oldest first.
    public func due(endpoint: String, now: Date, limit: Int) throws -> [OutboxEntry] {
        try db.query("""
            SELECT \(Self.columns) FROM outbox WHERE endpoint = ? AND status = 'pending' AND next_attempt_at <= ?
            ORDER BY created_at, rowid LIMIT ?
            """, [endpoint, now.timeIntervalSince1970, limit]).compactMap(Self.entry)
    }

    /// When the endpoint's next pending delivery is due, if it has one.
    public func nextDue(endpoint: String) throws -> Date? {
        try db.scalar("SELECT min(next_attempt_at) FROM outbox WHERE endpoint = ? AND status = 'pending'", [endpoint])?
            .double.map(Date.init(timeIntervalSince1970:))
    }

    /// Marks deliveries sent together (one upload) delivered, in one transaction.
    public func delivered(_ ids: [String], result: String, at: Date) throws {
        try db.write { tx in
            for id in ids {
                tx.execute("""
                    UPDATE outbox SET status = 'delivered', attempts = attempts + 1, last_result = ?, delivered_at = ?, body = NULL
                    WHERE id = ?
                    """, [result, at.timeIntervalSince1970, id])
            }
        }
    }

    /// Records a failed attempt of each delivery: retried at its `next`, or given up (`failed`) when that
    /// is nil; the body the attempt sent is kept (when none was), so that every retry sends the same bytes.
    public func attemptFailed(_ attempts: [(id: String, next: Date?, body: Data?)], result: String) throws {
        try db.write { tx in
            for (id, next, body) in attempts {
                tx.execute("""
                    UPDATE outbox SET attempts = attempts + 1, last_result = ?, status = ?,
                        next_attempt_at = coalesce(?, next_attempt_at), body = coalesce(body, ?)
                    WHERE id = ?
                    """, [String(result.prefix(200)), next == nil ? "failed" : "pending", next?.timeIntervalSince1970,
                          body.map { String(decoding: $0, as: UTF8.self) }, id])
            }
        }
    }

    /// The delivery log, newest first, optionally of one status; `before` continues a page.
    public func entries(status: OutboxEntry.Status?, limit: Int, before: String?) throws -> [OutboxEntry] {
        var conditions: [String] = [], args: [SQLValueConvertible] = []
        if let status { conditions.append("status = ?"); args.append(status.rawValue) }
        if let before {
            conditions.append("rowid < (SELECT rowid FROM outbox WHERE id = ?)"); args.append(before)
        }
        args.append(limit)
        return try db.query("""
            SELECT \(Self.columns) FROM outbox \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY rowid DESC LIMIT ?
            """, args).compactMap(Self.entry)
    }

    /// Sends a delivery again now, whatever its state; false for an unknown id.
    public func retry(_ id: String, now: Date = Date()) throws -> Bool {
        try db.execute("UPDATE outbox SET status = 'pending', next_attempt_at = ? WHERE id = ?", [now.timeIntervalSince1970, id])
        return try db.scalar("SELECT 1 FROM outbox WHERE id = ?", [id]) != nil
    }

    /// Forgets delivered and failed deliveries created before `date`: the log is kept that long, no longer.
    @discardableResult
    public func prune(before date: Date) throws -> Int {
        let n = try db.scalar("SELECT count(*) FROM outbox WHERE status != 'pending' AND created_at < ?",
                              [date.timeIntervalSince1970])?.int ?? 0
        if n > 0 {
            try db.execute("DELETE FROM outbox WHERE status != 'pending' AND created_at < ?", [date.timeIntervalSince1970])
        }
        return n
    }

    /// Pending deliveries per endpoint, for /metrics.
    public func backlog() throws -> [String: Int] {
        var out: [String: Int] = [:]
        for r in try db.query("SELECT endpoint, count(*) AS n FROM outbox WHERE status = 'pending' GROUP BY endpoint") {
            out[r["endpoint"].string ?? ""] = r["n"].int ?? 0
        }
        return out
    }
}
