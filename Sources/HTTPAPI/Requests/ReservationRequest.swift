import CallTrackCore
import Foundation
import Tracking

/// The reservation request body, checked field by field so that a 400 names the field.
struct ReservationRequest: Decodable {
    let clientID: String
    let report: VisitReport

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        /// An analytics client id: digits and dots only (`1234567890.1700000000` for GA, digits for Metrica).
        func analyticsID(_ key: Key, max: Int) throws -> String? {
            try c.text(key, maxBytes: max, problem: "\(key.rawValue) is digits and dots") {
                $0.allSatisfy { $0.isASCII && ($0.isNumber || $0 == ".") }
            }
        }
        clientID =
            try c.text(
                .clientID, maxBytes: 128, required: true,
                problem: "client_id must be 1-128 letters, digits, '.', '_' or '-'"
            ) { $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) } } ?? ""
        // A cheap check: the page is only stored and shown, never fetched or followed.
        let page =
            try c.text(.page, maxBytes: 4096, required: true, problem: "page must be the http(s) URL of the page") {
                page in
                (page.lowercased().hasPrefix("http://") || page.lowercased().hasPrefix("https://"))
                    && !page.unicodeScalars.contains { $0.value <= 0x20 || $0.value == 0x7f }
            } ?? ""
        // Stored as visits: every field is bounded, so a visit costs the database a bounded size.
        report = VisitReport(
            page: page, referrer: try c.text(.referrer, maxBytes: 4096),
            utmSource: try c.text(.utmSource, maxBytes: 256), utmMedium: try c.text(.utmMedium, maxBytes: 256),
            utmCampaign: try c.text(.utmCampaign, maxBytes: 256), utmTerm: try c.text(.utmTerm, maxBytes: 256),
            utmContent: try c.text(.utmContent, maxBytes: 256), gclid: try c.text(.gclid, maxBytes: 512),
            yclid: try c.text(.yclid, maxBytes: 512), region: try c.text(.region, maxBytes: 64),
            gaClientID: try analyticsID(.gaClientID, max: 64), ymClientID: try analyticsID(.ymClientID, max: 32))
    }

    enum Key: String, CodingKey {
        case clientID = "client_id", page, referrer, utmSource = "utm_source", utmMedium = "utm_medium"
        case utmCampaign = "utm_campaign", utmTerm = "utm_term", utmContent = "utm_content", gclid, yclid, region
        case gaClientID = "ga_client_id", ymClientID = "ym_client_id"
    }
}
