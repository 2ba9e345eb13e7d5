import Foundation

/// Where a call came from, worked out when its INVITE arrives.
public struct Attribution: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable { case dynamic, `static`, offline }

    public var kind: Kind
    public var poolName, clientID, reservationID: String?
    /// The reservation had expired (within the grace period) when the call came.
    public var late: Bool
    public var source, medium, campaign, keyword, content, landingPage, referrer: String?
    /// For offline numbers: the channel from the config (billboard, Avito…).
    public var channel: String?
    /// The ad click of the visit (Google Ads, Yandex Direct), for offline conversion uploads.
    public var gclid, yclid: String?
    /// The visitor's Google Analytics (`_ga`) and Yandex Metrica (`_ym_uid`) client ids.
    public var gaClientID, ymClientID: String?

    public static func unattributed(_ kind: Kind, pool: String?) -> Attribution {
        Attribution(kind: kind, poolName: pool, late: false)
    }

    public init(
        kind: Kind, poolName: String? = nil, clientID: String? = nil, reservationID: String? = nil, late: Bool = false,
        source: String? = nil, medium: String? = nil, campaign: String? = nil, keyword: String? = nil,
        content: String? = nil, landingPage: String? = nil, referrer: String? = nil, channel: String? = nil,
        gclid: String? = nil, yclid: String? = nil, gaClientID: String? = nil, ymClientID: String? = nil
    ) {
        self.gclid = gclid
        self.yclid = yclid
        self.gaClientID = gaClientID
        self.ymClientID = ymClientID
        self.kind = kind
        self.poolName = poolName
        self.clientID = clientID
        self.reservationID = reservationID
        self.late = late
        self.source = source
        self.medium = medium
        self.campaign = campaign
        self.keyword = keyword
        self.content = content
        self.landingPage = landingPage
        self.referrer = referrer
        self.channel = channel
    }
}

/// What the telephony side asks of tracking. Both run on libre's thread: in-memory work only.
extension Attribution {
    /// The source and medium a person would name: a visit's (when it had a source) or an offline
    /// number's channel and `offline`; nil for the static number and for what is not known.
    public var knownSource: (source: String, medium: String)? {
        switch kind {
        case .dynamic: source.map { ($0, medium ?? "(none)") }
        case .offline: channel.map { ($0, "offline") }
        case .static: nil
        }
    }
}

/// Whether a caller has called a project before (a lead already), for `X-CallTrack-First-Time`.
/// Asked off the SIP thread; may read storage.
public protocol CallerHistory: Sendable {
    /// Nil when the number cannot be read as a phone number.
    func hasCalledBefore(projectKey: String, caller: String) async throws -> Bool?
}

/// Who a call to a tracking number belongs to, as far as the SIP thread can tell at once.
public enum AttributionAnswer: Sendable, Equatable {
    /// Known without waiting (from memory, or from the configuration alone); nil for a number no project tracks.
    case now(Attribution?)
    /// To be read from shared storage, off the SIP thread (`CallAttributor.attributeLater`).
    case later
}

public protocol CallAttributor: Sendable {
    /// Who is calling this tracking number now (the visit behind a dynamic number, a static or
    /// offline number's channel), if that can be told without waiting.
    func attributeNow(_ number: PhoneNumber) -> AttributionAnswer
    /// What `attributeNow` left for later: read from storage, asked off the SIP thread with a time limit.
    func attributeLater(_ number: PhoneNumber, at: Date) async throws -> Attribution?
    /// A call attributed so has ended: a dynamic number can serve someone else now.
    func callEnded(_ attribution: Attribution, number: PhoneNumber)
}
