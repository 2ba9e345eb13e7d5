import CallTrackCore
import Foundation

/// What the exports to ad platforms and analytics read of a call.
public struct ExportCall: Sendable, Equatable {
    public var startedAt: Date
    public var answeredAt, endedAt: Date?
    public var did: String
    public var kind: Attribution.Kind?
    public var source, medium, campaign, landingPage, channel: String?
    public var gclid, ymClientID: String?
    public var firstTime: Bool
    /// The sales that count for this call.
    public var revenue: Double

    public var answered: Bool { answeredAt != nil }
    /// Seconds from answer to hang-up.
    public var talkSeconds: Double { answeredAt.flatMap { a in endedAt.map { max(0, $0.timeIntervalSince(a)) } } ?? 0 }
    /// Seconds the caller waited: until the answer, or until the call ended unanswered.
    public var holdSeconds: Double { (answeredAt ?? endedAt).map { max(0, $0.timeIntervalSince(startedAt)) } ?? 0 }

    public static let metricaHeader = [
        "ClientId", "DateTime", "PhoneNumber", "TalkDuration", "HoldDuration", "CallMissed", "Tag", "FirstTimeCaller",
        "URL", "StaticCall",
    ]

    /// The call as a row of Metrica's calls upload: a visitor whose `_ym_uid` the snippet sent, or a
    /// static or offline number (`StaticCall` 1, no visitor); nil for a visitor Metrica does not know.
    /// Times are Unix seconds; `Tag` is source/medium. What a visitor set (its id, tags, page) is text
    /// from outside (`CSV.Field`).
    public var metricaRow: [CSV.Field]? {
        let staticCall: Bool
        let tag: String
        switch kind {
        case .dynamic? where ymClientID != nil:
            staticCall = false
            tag = "\(source ?? "(unknown)")/\(medium ?? "(none)")"
        case .static?:
            staticCall = true
            tag = "(static)"
        case .offline?:
            staticCall = true
            tag = "\(channel ?? "(unknown)")/offline"
        default: return nil
        }
        return [
            .outside(staticCall ? "" : ymClientID ?? ""), .own(String(Int(startedAt.timeIntervalSince1970))), .own(did),
            .own(String(Int(talkSeconds.rounded()))), .own(String(Int(holdSeconds.rounded()))),
            .own(answered ? "0" : "1"), .outside(tag), .own(firstTime ? "1" : "0"),
            .outside(staticCall ? "" : landingPage ?? ""), .own(staticCall ? "1" : "0"),
        ]
    }
}

extension CallRecordStore {
    /// The project's finished calls that started in [`from`, `to`), oldest first, one at a time.
    public func forEachExportCall(project: String, from: Date, to: Date, _ body: (ExportCall) throws -> Void)
        async throws
    {
        try await forEachExportCall(
            where: "c.project = ? AND c.started_at >= ? AND c.started_at < ? AND c.status != 'in_progress'",
            [project, from.timeIntervalSince1970, to.timeIntervalSince1970], body)
    }

    /// One finished call as the exports read it.
    public func exportCall(id: CallID) async throws -> ExportCall? {
        var found: ExportCall?
        try await forEachExportCall(where: "c.id = ? AND c.status != 'in_progress'", [id.rawValue]) { found = $0 }
        return found
    }

    private func forEachExportCall(
        where condition: String, _ arguments: [SQLValueConvertible], _ body: (ExportCall) throws -> Void
    ) async throws {
        struct Columns {
            let started, answered, ended, did, kind, source, medium, campaign, landing, channel, gclid, ym, firstTime,
                revenue: Cursor.Column
        }
        try await reader.scan(
            """
            SELECT c.started_at, c.answered_at, c.ended_at, c.did, c.number_kind, c.source, c.medium, c.campaign,
                c.landing_page, c.channel, c.gclid, c.ym_client_id, c.first_time,
                (SELECT coalesce(sum(amount), 0) FROM sales s WHERE s.call_id = c.id) AS revenue
            FROM calls c WHERE \(condition) ORDER BY c.started_at
            """, arguments,
            columns: { c in
                Columns(
                    started: c.column("started_at"), answered: c.column("answered_at"), ended: c.column("ended_at"),
                    did: c.column("did"), kind: c.column("number_kind"), source: c.column("source"),
                    medium: c.column("medium"), campaign: c.column("campaign"), landing: c.column("landing_page"),
                    channel: c.column("channel"), gclid: c.column("gclid"), ym: c.column("ym_client_id"),
                    firstTime: c.column("first_time"), revenue: c.column("revenue"))
            }
        ) { r, col in
            func date(_ c: Cursor.Column) -> Date? { r.double(c).map(Date.init(timeIntervalSince1970:)) }
            try body(
                ExportCall(
                    startedAt: date(col.started) ?? Date(timeIntervalSince1970: 0), answeredAt: date(col.answered),
                    endedAt: date(col.ended), did: r.string(col.did) ?? "",
                    kind: r.string(col.kind).flatMap(Attribution.Kind.init), source: r.string(col.source),
                    medium: r.string(col.medium), campaign: r.string(col.campaign), landingPage: r.string(col.landing),
                    channel: r.string(col.channel), gclid: r.string(col.gclid), ymClientID: r.string(col.ym),
                    firstTime: (r.int(col.firstTime) ?? 0) != 0, revenue: r.double(col.revenue) ?? 0))
        }
    }
}
