import CallTrackCore
import Foundation
import Tracking

/// A caller, deduplicated per project by E.164 number, with what their first call came from.
public struct Lead: Sendable, Equatable {
    public var phone, firstCallID: String
    public var firstCallAt: Date
    public var calls: Int
    public var source, medium, campaign, keyword: String?
    public var sales: Int
    public var revenue: Double
}

/// What became of a sale posted by the CRM.
/// A sale the CRM reported, counted for its lead's first call.
public struct Sale: Sendable, Equatable {
    public let dealID, project, callID: String
    public let phone: String?
    public let amount: Double
    public let createdAt, updatedAt: Date
}

public enum SaleOutcome: Sendable, Equatable {
    case created, updated
    /// No call with this id in any project, or no lead with this phone in the project.
    case unknownCall, unknownPhone
}

/// Leads, sales and costs, and what a report reads. Leads are kept as calls start (in the event
/// batch), so `first_time` is known the moment the call is stored.
extension CallRecordStore: CallerHistory {
    public func hasCalledBefore(projectKey: String, caller: String) async throws -> Bool? {
        guard let phone = PhoneNumber.normalise(caller, numbering: numbering)?.e164 else { return nil }
        return try await reader.scalar("SELECT 1 FROM leads WHERE project = ? AND phone = ?", [projectKey, phone])
            != nil
    }

    /// Makes the caller of a starting call a lead if they never called this project before.
    func addToLead(_ batch: WriteBatch, _ s: CallStart) {
        let phone = PhoneNumber.normalise(s.caller, numbering: numbering)?.e164 ?? ""
        batch.execute("UPDATE calls SET caller_e164 = ? WHERE id = ?", [phone, s.id.rawValue])
        guard !phone.isEmpty else { return }
        batch.execute(
            """
            INSERT INTO leads (project, phone, first_call_id, first_call_at) VALUES (?, ?, ?, ?)
            ON CONFLICT DO NOTHING
            """, [s.projectKey, phone, s.id.rawValue, s.startedAt.timeIntervalSince1970])
        batch.execute(
            """
            UPDATE calls SET first_time = 1 WHERE id = ?
                AND EXISTS (SELECT 1 FROM leads WHERE project = ? AND phone = ? AND first_call_id = ?)
            """, [s.id.rawValue, s.projectKey, phone, s.id.rawValue])
    }

    /// Calls stored before leads existed become leads, oldest first; runs once at start, in batches.
    public func backfillLeads() async throws -> Int {
        var done = 0
        while true {
            let rows = try await db.query(
                """
                SELECT id, project, caller,
                    started_at FROM calls WHERE caller_e164 IS NULL ORDER BY started_at LIMIT 1000
                """)
            if rows.isEmpty { return done }
            try await db.write { batch in
                for row in rows {
                    guard let id = row["id"].string.flatMap(CallID.init) else { continue }
                    let start = CallStart(
                        id: id, projectKey: row["project"].string ?? "", trunk: "", didDialled: "", did: "",
                        caller: row["caller"].string ?? "", callerName: nil, forwardTo: "", sipCallID: "",
                        startedAt: Date(timeIntervalSince1970: row["started_at"].double ?? 0))
                    addToLead(batch, start)
                }
            }
            done += rows.count
        }
    }

    /// A sale for a call (`callID`) or for a caller's phone; it counts for the lead's first call.
    /// The same `dealID` again updates the amount.
    public func recordSale(
        project: String?, callID: CallID?, phone: String?, dealID: String, amount: Double, at now: Date = Date()
    ) async throws -> SaleOutcome {
        let projectKey: String, countedCall: String, leadPhone: String?
        if let callID {
            guard
                let call = try await db.query("SELECT project, caller_e164 FROM calls WHERE id = ?", [callID.rawValue])
                    .first, let key = call["project"].string
            else { return .unknownCall }
            projectKey = key
            leadPhone = call["caller_e164"].string.flatMap { $0.isEmpty ? nil : $0 }
            var first: String?
            if let leadPhone {
                first = try await db.scalar(
                    "SELECT first_call_id FROM leads WHERE project = ? AND phone = ?", [key, leadPhone])?.string
            }
            countedCall = first ?? callID.rawValue
        } else {
            guard let project, let number = phone.flatMap({ PhoneNumber.normalise($0, numbering: numbering) }),
                let first = try await db.scalar(
                    "SELECT first_call_id FROM leads WHERE project = ? AND phone = ?", [project, number.e164])?.string
            else { return .unknownPhone }
            projectKey = project
            leadPhone = number.e164
            countedCall = first
        }
        let exists =
            try await db.scalar("SELECT 1 FROM sales WHERE project = ? AND deal_id = ?", [projectKey, dealID]) != nil
        try await db.write { batch in
            batch.execute(
                """
                INSERT INTO sales (project, deal_id, call_id, phone, amount, created_at, updated_at) VALUES (?, ?, ?,
                    ?, ?, ?, ?)
                ON CONFLICT (project, deal_id) DO UPDATE SET amount = excluded.amount, call_id = excluded.call_id,
                    phone = excluded.phone, updated_at = excluded.updated_at
                """,
                [
                    projectKey, dealID, countedCall, leadPhone, amount, now.timeIntervalSince1970,
                    now.timeIntervalSince1970,
                ])
            if let call = CallID(countedCall) {
                deliveries.enqueue(
                    batch, event: .saleRecorded, callID: call, project: projectKey, at: now, dealID: dealID)
            }
        }
        return exists ? .updated : .created
    }

    /// One sale as stored, for webhook bodies.
    public func sale(project: String, dealID: String) async throws -> Sale? {
        try await reader.query("SELECT * FROM sales WHERE project = ? AND deal_id = ?", [project, dealID]).first.map {
            r in
            Sale(
                dealID: dealID, project: project, callID: r["call_id"].string ?? "", phone: r["phone"].string,
                amount: r["amount"].double ?? 0, createdAt: Date(timeIntervalSince1970: r["created_at"].double ?? 0),
                updatedAt: Date(timeIntervalSince1970: r["updated_at"].double ?? 0))
        }
    }

    /// Stores cost rows all at once (one transaction), replacing any with the same day, source,
    /// medium, campaign and keyword.
    public func importCosts(project: String, rows: [CostRow]) async throws {
        try await db.write { batch in
            for r in rows {
                batch.execute(
                    """
                    INSERT INTO costs (project, date, source, medium, campaign, keyword, amount) VALUES (?, ?, ?, ?,
                        ?, ?, ?)
                    ON CONFLICT (project, date, source, medium, campaign,
                        keyword) DO UPDATE SET amount = excluded.amount
                    """, [project, r.date, r.source, r.medium, r.campaign ?? "", r.keyword ?? "", r.amount])
            }
        }
    }

    /// Cost rows of the days `from`…`to` (`YYYY-MM-DD`, inclusive).
    public func costs(project: String, from: String, to: String) async throws -> [CostRow] {
        try await reader.query(
            """
            SELECT date, source, medium, campaign, keyword,
                amount FROM costs WHERE project = ? AND date >= ? AND date <= ?
            """, [project, from, to]
        ).map { r in
            CostRow(
                date: r["date"].string ?? "", source: r["source"].string ?? "", medium: r["medium"].string ?? "",
                campaign: r["campaign"].string.flatMap { $0.isEmpty ? nil : $0 },
                keyword: r["keyword"].string.flatMap { $0.isEmpty ? nil : $0 }, amount: r["amount"].double ?? 0)
        }
    }

    /// The calls of a project that started in [`from`, `to`), with the sales that count for each,
    /// handed to `body` one at a time. Landing pages and visitor ids are read only when asked for
    /// (they are long, and a month can hold a million calls).
    public func forEachReportCall(
        project: String, from: Date, to: Date, landingPages: Bool, visitors: Bool, _ body: (ReportCall) throws -> Void
    ) async throws {
        let optional = (landingPages ? ", c.landing_page" : "") + (visitors ? ", c.client_id" : "")
        struct Columns {
            let started, answered, ended, caller, firstTime, kind, source, medium, campaign, keyword, did,
                channel: Cursor.Column
            let sales, revenue: Cursor.Column
            let landing, client: Cursor.Column?
        }
        try await reader.scan(
            """
            SELECT c.started_at, c.answered_at, c.ended_at, c.caller_e164, c.first_time, c.number_kind, c.source,
                c.medium,
                c.campaign, c.keyword, c.did, c.channel, coalesce(s.sales, 0) AS sales, coalesce(s.revenue,
                    0) AS revenue\(optional)
            FROM calls c LEFT JOIN (SELECT call_id, count(*) AS sales,
                sum(amount) AS revenue FROM sales GROUP BY call_id) s
                ON s.call_id = c.id
            WHERE c.project = ? AND c.started_at >= ? AND c.started_at < ?
            """, [project, from.timeIntervalSince1970, to.timeIntervalSince1970],
            columns: { c in
                Columns(
                    started: c.column("started_at"), answered: c.column("answered_at"), ended: c.column("ended_at"),
                    caller: c.column("caller_e164"), firstTime: c.column("first_time"), kind: c.column("number_kind"),
                    source: c.column("source"), medium: c.column("medium"), campaign: c.column("campaign"),
                    keyword: c.column("keyword"), did: c.column("did"), channel: c.column("channel"),
                    sales: c.column("sales"), revenue: c.column("revenue"),
                    landing: landingPages ? c.column("landing_page") : nil,
                    client: visitors ? c.column("client_id") : nil)
            }
        ) { r, col in
            let started = r.double(col.started) ?? 0
            let answered = r.double(col.answered), ended = r.double(col.ended)
            try body(
                ReportCall(
                    id: "", startedAt: Date(timeIntervalSince1970: started), answered: answered != nil,
                    ringSeconds: (answered ?? ended).map { max(0, $0 - started) },
                    talkSeconds: answered.flatMap { a in ended.map { max(0, $0 - a) } } ?? 0,
                    caller: r.string(col.caller).flatMap { $0.isEmpty ? nil : $0 },
                    firstTime: (r.int(col.firstTime) ?? 0) != 0,
                    kind: r.string(col.kind).flatMap(Attribution.Kind.init), source: r.string(col.source),
                    medium: r.string(col.medium), campaign: r.string(col.campaign), keyword: r.string(col.keyword),
                    landingPage: col.landing.flatMap(r.string), number: r.string(col.did) ?? "",
                    channel: r.string(col.channel), clientID: col.client.flatMap(r.string),
                    sales: r.int(col.sales) ?? 0, revenue: r.double(col.revenue) ?? 0))
        }
    }

    /// Leads whose first call started in [`from`, `to`), oldest first: at most `limit`, after the
    /// lead whose first call is `after` (the previous page's last).
    public func leads(project: String, from: Date, to: Date, limit: Int = 1000, after: String? = nil) async throws
        -> [Lead]
    {
        try await reader.query(
            """
            SELECT l.phone, l.first_call_id, l.first_call_at, c.source, c.medium, c.campaign, c.keyword,
                c.number_kind, c.channel,
                (SELECT count(*) FROM calls WHERE project = l.project AND caller_e164 = l.phone) AS calls,
                (SELECT count(*) FROM sales WHERE project = l.project AND phone = l.phone) AS sales,
                (SELECT coalesce(sum(amount), 0) FROM sales WHERE project = l.project AND phone = l.phone) AS revenue
            FROM leads l JOIN calls c ON c.id = l.first_call_id
            WHERE l.project = ? AND l.first_call_at >= ? AND l.first_call_at < ? AND l.first_call_id > ?
            ORDER BY l.first_call_id LIMIT ?
            """, [project, from.timeIntervalSince1970, to.timeIntervalSince1970, after ?? "", limit]
        ).map { r in
            // The same group values as the report's: a static or offline number names itself.
            let call = ReportCall(
                id: "", startedAt: Date(), answered: false, ringSeconds: nil, talkSeconds: 0, caller: nil,
                firstTime: true, kind: r["number_kind"].string.flatMap(Attribution.Kind.init),
                source: r["source"].string, medium: r["medium"].string, campaign: r["campaign"].string,
                keyword: r["keyword"].string, number: "", channel: r["channel"].string)
            let group = Report.group(of: call, by: [.source, .medium, .campaign, .keyword])
            return Lead(
                phone: r["phone"].string ?? "", firstCallID: r["first_call_id"].string ?? "",
                firstCallAt: Date(timeIntervalSince1970: r["first_call_at"].double ?? 0), calls: r["calls"].int ?? 0,
                source: group["source"], medium: group["medium"], campaign: group["campaign"],
                keyword: group["keyword"], sales: r["sales"].int ?? 0, revenue: r["revenue"].double ?? 0)
        }
    }
}
