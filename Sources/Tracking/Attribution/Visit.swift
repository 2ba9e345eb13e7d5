import CallTrackCore
import Foundation

/// One arrival of a visitor on the site, as the snippet reports it.
public struct Visit: Sendable, Equatable, Codable {
    public var projectKey, clientID: String
    public var at: Date
    public var page: String
    public var referrer: String?
    public var source, medium: String
    public var campaign, keyword, content, gclid, yclid, region: String?
    /// The visitor's Google Analytics and Yandex Metrica client ids, when the site has those counters.
    public var gaClientID, ymClientID: String?

    public init(
        projectKey: String, clientID: String, at: Date, page: String, referrer: String?, source: String, medium: String,
        campaign: String?, keyword: String?, content: String?, gclid: String?, yclid: String?, region: String?,
        gaClientID: String? = nil, ymClientID: String? = nil
    ) {
        self.gaClientID = gaClientID
        self.ymClientID = ymClientID
        self.projectKey = projectKey
        self.clientID = clientID
        self.at = at
        self.page = page
        self.referrer = referrer
        self.source = source
        self.medium = medium
        self.campaign = campaign
        self.keyword = keyword
        self.content = content
        self.gclid = gclid
        self.yclid = yclid
        self.region = region
    }

    /// `direct`/`(none)` visits lose to any other under the last non-direct model.
    public var isDirect: Bool { medium == "(none)" }

    /// Bytes of a page or referrer URL kept with a visit: enough for any landing page, while a
    /// stranger's 4 KB URLs cannot make each stored visit cost more.
    public static let storedLength = 1024

    /// `text` cut to at most `storedLength` UTF-8 bytes, on a character boundary.
    public static func bounded(_ text: String, to limit: Int = storedLength) -> String {
        guard text.utf8.count > limit else { return text }
        var out = ""
        var used = 0
        for c in text {
            let n = String(c).utf8.count
            if used + n > limit { break }
            out.append(c)
            used += n
        }
        return out
    }
}

/// What the snippet sends about the page the visitor is on.
public struct VisitReport: Sendable, Equatable {
    public var page: String
    public var referrer, utmSource, utmMedium, utmCampaign, utmTerm, utmContent, gclid, yclid, region: String?
    public var gaClientID, ymClientID: String?

    public init(
        page: String, referrer: String? = nil, utmSource: String? = nil, utmMedium: String? = nil,
        utmCampaign: String? = nil, utmTerm: String? = nil, utmContent: String? = nil, gclid: String? = nil,
        yclid: String? = nil, region: String? = nil, gaClientID: String? = nil, ymClientID: String? = nil
    ) {
        self.gaClientID = gaClientID
        self.ymClientID = ymClientID
        self.page = page
        self.referrer = referrer
        self.utmSource = utmSource
        self.utmMedium = utmMedium
        self.utmCampaign = utmCampaign
        self.utmTerm = utmTerm
        self.utmContent = utmContent
        self.gclid = gclid
        self.yclid = yclid
        self.region = region
    }

    /// UTM tags and click ids missing from the report are read from the page URL's query.
    public func completedFromPageURL() -> VisitReport {
        guard let items = URLComponents(string: page)?.percentEncodedQueryItems else { return self }
        // Form encoding: `+` is a space (`utm_term=buy+table`), `%2B` a plus.
        func q(_ name: String) -> String? {
            items.first { $0.name == name }?.value.map {
                $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? $0
            }.flatMap { $0.isEmpty ? nil : $0 }
        }
        var r = self
        r.utmSource = utmSource ?? q("utm_source")
        r.utmMedium = utmMedium ?? q("utm_medium")
        r.utmCampaign = utmCampaign ?? q("utm_campaign")
        r.utmTerm = utmTerm ?? q("utm_term")
        r.utmContent = utmContent ?? q("utm_content")
        r.gclid = gclid ?? q("gclid")
        r.yclid = yclid ?? q("yclid")
        return r
    }
}

/// Source and medium of a visit: UTM tags first, then ad click ids, then the referrer.
public enum SourceClassifier {
    /// Referrer hosts of search engines: a visit from them is organic search.
    static let searchEngines: [(hostPart: String, name: String)] = [
        ("google.", "google"), ("yandex.", "yandex"), ("ya.ru", "yandex"), ("bing.com", "bing"),
        ("duckduckgo.com", "duckduckgo"), ("search.yahoo.", "yahoo"), ("go.mail.ru", "mail.ru"),
        ("rambler.ru", "rambler"), ("baidu.com", "baidu"),
    ]

    public static func classify(_ r: VisitReport) -> (source: String, medium: String) {
        if let s = r.utmSource { return (s, r.utmMedium ?? "(none)") }
        if r.gclid != nil { return ("google", "cpc") }
        if r.yclid != nil { return ("yandex", "cpc") }
        guard let ref = r.referrer, let refHost = URL(string: ref)?.host?.lowercased(), !refHost.isEmpty else {
            return ("(direct)", "(none)")
        }
        if let engine = searchEngines.first(where: { refHost.contains($0.hostPart) }) {
            return (engine.name, "organic")
        }
        let pageHost = URL(string: r.page)?.host?.lowercased()
        if refHost == pageHost { return ("(direct)", "(none)") }  // moving inside the site
        return (refHost.hasPrefix("www.") ? String(refHost.dropFirst(4)) : refHost, "referral")
    }
}

extension AttributionModel {
    /// The visit this model credits with a call, from one visitor's history (oldest first).
    public func pick(from visits: [Visit]) -> Visit? {
        switch self {
        case .lastClick: visits.last
        case .firstClick: visits.first
        case .lastNonDirect: visits.last { !$0.isDirect } ?? visits.last
        }
    }
}

extension Attribution {
    /// A dynamic-number attribution crediting `visit` (nil: the visitor's history is empty).
    /// The click ids come from the visit the model picked; the analytics client ids, which belong to
    /// the visitor rather than to one visit, from their latest visit that had them.
    public init(poolName: String, reservation: Reservation, late: Bool, visit: Visit?, history: [Visit] = []) {
        self.init(
            kind: .dynamic, poolName: poolName, clientID: reservation.clientID, reservationID: reservation.id,
            late: late, source: visit?.source, medium: visit?.medium, campaign: visit?.campaign,
            keyword: visit?.keyword, content: visit?.content, landingPage: visit?.page, referrer: visit?.referrer,
            gclid: visit?.gclid, yclid: visit?.yclid, gaClientID: history.last { $0.gaClientID != nil }?.gaClientID,
            ymClientID: history.last { $0.ymClientID != nil }?.ymClientID)
    }
}

extension Visit {
    /// A heartbeat from the same page is not a new visit; a new page with new campaign data is.
    public var fingerprint: Int {
        var h = Hasher()
        h.combine(page)
        h.combine(source)
        h.combine(medium)
        h.combine(campaign)
        h.combine(keyword)
        // An analytics client id that turns up later (its counter's script ran after the snippet) is
        // kept as a visit of its own, so the call can carry it.
        h.combine(gaClientID)
        h.combine(ymClientID)
        return h.finalize()
    }
}
