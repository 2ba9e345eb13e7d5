import CallTrackCore
import Foundation
import Hummingbird
import Storage

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
            case dealID = "deal_id", project, callID = "call_id", createdAt = "created_at", updatedAt = "updated_at",
                phone, amount
        }
    }
    return try APIRequestContext.jsonEncoder().encode(
        SaleJSON(
            dealID: sale.dealID, project: sale.project, callID: sale.callID, createdAt: CallJSON.format(sale.createdAt),
            updatedAt: CallJSON.format(sale.updatedAt), phone: sale.phone, amount: MetricsJSON.round(sale.amount)))
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
        let callerToCallee, calleeToCaller: MediaCounters
        enum CodingKeys: String, CodingKey {
            case callerToCallee = "caller_to_callee", calleeToCaller = "callee_to_caller"
        }
    }
    let id, project, trunk, did, didDialled, caller: String
    @Nullable var callerName: String?
    let forwardTo, sipCallID, status: String
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
    let interrupted, firstTime: Bool
    /// The node that took the call; null on a single node.
    @Nullable var node: String?
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
            case landingPage = "landing_page", referrer, channel, gclid, yclid, gaClientID = "ga_client_id",
                ymClientID = "ym_client_id"
        }
        init(_ a: Attribution) {
            kind = a.kind.rawValue
            pool = a.poolName
            clientID = a.clientID
            late = a.late
            source = a.source
            medium = a.medium
            campaign = a.campaign
            keyword = a.keyword
            content = a.content
            landingPage = a.landingPage
            referrer = a.referrer
            channel = a.channel
            gclid = a.gclid
            yclid = a.yclid
            gaClientID = a.gaClientID
            ymClientID = a.ymClientID
        }
    }

    struct DTMFJSON: Encodable {
        let side, digit: String
        let atSeconds: Double
        enum CodingKeys: String, CodingKey { case side, digit, atSeconds = "at_seconds" }
    }

    enum CodingKeys: String, CodingKey {
        case id, project, trunk, did, didDialled = "did_dialled", caller, callerName = "caller_name"
        case forwardTo = "forward_to", sipCallID = "sip_call_id", status, missedReason = "missed_reason"
        case sipCode = "sip_code", hangupBy = "hangup_by", endReason = "end_reason", startedAt = "started_at"
        case ringingAt = "ringing_at", answeredAt = "answered_at", endedAt = "ended_at"
        case ringSeconds = "ring_seconds", talkSeconds = "talk_seconds", media, interrupted, firstTime = "first_time",
            node, recording, dtmf, attribution
    }

    init(_ r: CallRecord, dtmf: [DTMFEvent]? = nil) {
        let s = r.start
        id = s.id.rawValue
        project = s.projectKey
        trunk = s.trunk
        did = s.did
        didDialled = s.didDialled
        caller = s.caller
        callerName = s.callerName
        forwardTo = s.forwardTo
        sipCallID = s.sipCallID
        status = r.status.rawValue
        missedReason = r.missedReason?.rawValue
        sipCode = r.sipCode
        hangupBy = r.hangupBy?.rawValue
        endReason = r.endReason
        startedAt = Self.format(s.startedAt)
        ringingAt = r.ringingAt.map(Self.format)
        answeredAt = r.answeredAt.map(Self.format)
        endedAt = r.endedAt.map(Self.format)
        ringSeconds = r.ringSeconds.map(Self.round)
        talkSeconds = r.talkSeconds.map(Self.round)
        media = Media(callerToCallee: r.callerToCallee, calleeToCaller: r.calleeToCaller)
        interrupted = r.interrupted
        firstTime = r.firstTime
        node = r.node
        recording = r.recording.map { info in
            let playable = [.recorded, .interrupted, .failed].contains(info.status) && info.path != nil
            return RecordingJSON(
                status: info.status.rawValue, reason: info.reason, durationSeconds: info.seconds.map(Self.round),
                bytes: info.bytes, sampleRate: info.sampleRate,
                url: playable ? "/v1/calls/\(r.id.rawValue)/recording" : nil)
        }
        attribution = s.attribution.map(AttributionJSON.init)
        self.dtmf = dtmf?.map { DTMFJSON(side: $0.side, digit: $0.digit, atSeconds: Self.round($0.atSeconds)) }
    }

    static func round(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }

    static func format(_ d: Date) -> String { d.iso8601Milliseconds }
}
