import CallTrackCore
import Foundation
import Hummingbird
import Storage

/// `GET /v1/calls` and `GET /v1/calls/{id}` (admin).
public struct CallController<Context: RequestContext>: Sendable {
    let store: any CallRecordStore
    let projects: [String: PublicProject]

    public init(store: any CallRecordStore, projects: [PublicProject] = []) {
        self.store = store
        self.projects = Dictionary(projects.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public func addRoutes(to group: RouterGroup<Context>) {
        group.get("calls", use: list)
        group.get("calls/:id", use: show)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let paging = try PageQuery(request, defaultLimit: 50, maxLimit: 500)
        let filter = try CallListQuery(request, projects: projects).filter
        let records = try store.calls(limit: paging.limit + 1, before: paging.after, filter: filter)
        let page = Array(records.prefix(paging.limit))
        let next = records.count > paging.limit ? page.last?.id.rawValue : nil
        return try CallPage(calls: page.map { CallJSON($0) }, nextCursor: next).response(from: request, context: context)
    }

    @Sendable func show(_ request: Request, context: Context) async throws -> Response {
        guard let raw = context.parameters.get("id"), let id = CallID(raw) else {
            throw APIError.notFound("no call with this id")
        }
        guard let record = try store.call(id: id) else { throw APIError.notFound("no call with this id") }
        return try CallJSON(record, dtmf: try store.dtmf(callID: id)).response(from: request, context: context)
    }
}

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
            let period = try ReportPeriod(from: try text("from"), to: try text("to"),
                                          timeZone: filter.project.flatMap { projects[$0]?.timeZone } ?? .gmt)
            filter.since = period.start
            filter.until = period.end
        }
        self.filter = filter
    }
}

/// A call as `GET /v1/calls/{id}` shows it (without the DTMF keys), for webhook bodies.
public func callJSONData(_ record: CallRecord) throws -> Data {
    try APIRequestContext.jsonEncoder().encode(CallJSON(record))
}

/// A sale as a `sale.recorded` webhook carries it.
public func saleJSONData(_ sale: Sale) throws -> Data {
    struct SaleJSON: Encodable {
        let dealID, project, callID, createdAt, updatedAt: String
        @Nullable var phone: String?
        let amount: Double
        enum CodingKeys: String, CodingKey {
            case dealID = "deal_id", project, callID = "call_id", createdAt = "created_at", updatedAt = "updated_at", phone, amount
        }
    }
    return try APIRequestContext.jsonEncoder().encode(SaleJSON(dealID: sale.dealID, project: sale.project, callID: sale.callID,
                                       createdAt: CallJSON.format(sale.createdAt), updatedAt: CallJSON.format(sale.updatedAt),
                                       phone: sale.phone, amount: MetricsJSON.round(sale.amount)))
}

struct CallPage: ResponseEncodable {
    let calls: [CallJSON]
    /// null, not absent, on the last page.
    @Nullable var nextCursor: String?
    enum CodingKeys: String, CodingKey { case calls, nextCursor = "next_cursor" }
}

/// The JSON shape of a call record (see docs/openapi.yaml).
struct CallJSON: ResponseEncodable {
    struct Media: Encodable {
        let callerToCallee: MediaCounters
        let calleeToCaller: MediaCounters
        enum CodingKeys: String, CodingKey { case callerToCallee = "caller_to_callee", calleeToCaller = "callee_to_caller" }
    }
    let id: String
    let project: String
    let trunk: String
    let did: String
    let didDialled: String
    let caller: String
    @Nullable var callerName: String?
    let forwardTo: String
    let sipCallID: String
    let status: String
    @Nullable var missedReason: String?
    @Nullable var sipCode: Int?
    @Nullable var hangupBy: String?
    @Nullable var endReason: String?
    let startedAt: String
    @Nullable var ringingAt: String?
    @Nullable var answeredAt: String?
    @Nullable var endedAt: String?
    @Nullable var ringSeconds: Double?
    @Nullable var talkSeconds: Double?
    let media: Media
    let interrupted: Bool
    let firstTime: Bool
    @Nullable var recording: RecordingJSON?
    @Nullable var attribution: AttributionJSON?
    /// Only in the single-call view.
    let dtmf: [DTMFJSON]?

    struct RecordingJSON: Encodable {
        let status: String
        @Nullable var reason: String?
        @Nullable var durationSeconds: Double?
        @Nullable var bytes: Int?
        @Nullable var sampleRate: Int?
        @Nullable var url: String?
        enum CodingKeys: String, CodingKey {
            case status, reason, durationSeconds = "duration_seconds", bytes, sampleRate = "sample_rate", url
        }
    }

    struct AttributionJSON: Encodable {
        let kind: String
        @Nullable var pool: String?
        @Nullable var clientID: String?
        let late: Bool
        @Nullable var source: String?
        @Nullable var medium: String?
        @Nullable var campaign: String?
        @Nullable var keyword: String?
        @Nullable var content: String?
        @Nullable var landingPage: String?
        @Nullable var referrer: String?
        @Nullable var channel: String?
        @Nullable var gclid: String?
        @Nullable var yclid: String?
        @Nullable var gaClientID: String?
        @Nullable var ymClientID: String?
        enum CodingKeys: String, CodingKey {
            case kind, pool, clientID = "client_id", late, source, medium, campaign, keyword, content
            case landingPage = "landing_page", referrer, channel, gclid, yclid, gaClientID = "ga_client_id", ymClientID = "ym_client_id"
        }
        init(_ a: Attribution) {
            kind = a.kind.rawValue; pool = a.poolName; clientID = a.clientID; late = a.late; source = a.source
            medium = a.medium; campaign = a.campaign; keyword = a.keyword; content = a.content
            landingPage = a.landingPage; referrer = a.referrer; channel = a.channel
            gclid = a.gclid; yclid = a.yclid; gaClientID = a.gaClientID; ymClientID = a.ymClientID
        }
    }

    struct DTMFJSON: Encodable {
        let side: String
        let digit: String
        let atSeconds: Double
        enum CodingKeys: String, CodingKey { case side, digit, atSeconds = "at_seconds" }
    }

    enum CodingKeys: String, CodingKey {
        case id, project, trunk, did, didDialled = "did_dialled", caller, callerName = "caller_name"
        case forwardTo = "forward_to", sipCallID = "sip_call_id", status, missedReason = "missed_reason"
        case sipCode = "sip_code", hangupBy = "hangup_by", endReason = "end_reason", startedAt = "started_at"
        case ringingAt = "ringing_at", answeredAt = "answered_at", endedAt = "ended_at"
        case ringSeconds = "ring_seconds", talkSeconds = "talk_seconds", media, interrupted, firstTime = "first_time", recording, dtmf, attribution
    }

    init(_ r: CallRecord, dtmf: [DTMFEvent]? = nil) {
        let s = r.start
        id = s.id.rawValue; project = s.projectKey; trunk = s.trunk; did = s.did; didDialled = s.didDialled
        caller = s.caller; callerName = s.callerName; forwardTo = s.forwardTo; sipCallID = s.sipCallID
        status = r.status.rawValue; missedReason = r.missedReason?.rawValue; sipCode = r.sipCode
        hangupBy = r.hangupBy?.rawValue; endReason = r.endReason
        startedAt = Self.format(s.startedAt); ringingAt = r.ringingAt.map(Self.format)
        answeredAt = r.answeredAt.map(Self.format); endedAt = r.endedAt.map(Self.format)
        ringSeconds = r.ringSeconds.map(Self.round); talkSeconds = r.talkSeconds.map(Self.round)
        media = Media(callerToCallee: r.callerToCallee, calleeToCaller: r.calleeToCaller)
        interrupted = r.interrupted
        firstTime = r.firstTime
        recording = r.recording.map { info in
            let playable = [.recorded, .interrupted, .failed].contains(info.status) && info.path != nil
            return RecordingJSON(status: info.status.rawValue, reason: info.reason,
                                 durationSeconds: info.seconds.map(Self.round), bytes: info.bytes, sampleRate: info.sampleRate,
                                 url: playable ? "/v1/calls/\(r.id.rawValue)/recording" : nil)
        }
        attribution = s.attribution.map(AttributionJSON.init)
        self.dtmf = dtmf?.map { DTMFJSON(side: $0.side, digit: $0.digit, atSeconds: Self.round($0.atSeconds)) }
    }

    static func round(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }

    static func format(_ d: Date) -> String { d.iso8601Milliseconds }
}
