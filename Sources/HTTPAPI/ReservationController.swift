import CallTrackCore
import Foundation
import HTTPTypes
import Hummingbird
import Tracking

/// What the public, browser-facing routes need to know about a project.
public struct PublicProject: Sendable {
    public let key: String
    public let name: String
    /// Origins allowed to call the API from a browser (CORS).
    public let origins: Set<String>
    public let siteNumbers: [String]
    public let nationalDigits: Int
    public let ttlSeconds: Int
    public let numberSelector: String?
    public let clickToReveal: Bool
    public let cookieDomain: String?
    /// Reports count calendar days here.
    public let timeZone: TimeZone
    public let currency: String

    public init(config p: ProjectConfig, numbering: NumberingConfig) {
        key = p.key; name = p.name; origins = Set(p.origins.map { $0.lowercased().trimmingSuffix("/") })
        siteNumbers = p.siteNumbers; nationalDigits = numbering.nationalNumberLength; ttlSeconds = p.reservationTTLSeconds
        numberSelector = p.numberSelector; clickToReveal = p.clickToReveal; cookieDomain = p.cookieDomain
        timeZone = TimeZone(identifier: p.timezone) ?? .gmt; currency = p.currency
    }
}

/// The client's address: the peer, or behind a trusted proxy the last address in
/// `X-Forwarded-For` that is not itself a trusted proxy.
/// Per-address limits count an IPv6 client by its /64 (`IPAddress.limitKey`).
func clientAddress(_ request: Request, peer: String?, trustedProxies: [CIDR]) -> (address: String, viaTrustedProxy: Bool) {
    guard let peer, let peerIP = IPAddress(peer) else { return (peer ?? "unknown", false) }
    guard trustedProxies.contains(where: { $0.contains(peerIP) }) else { return (peerIP.limitKey, false) }
    let forwarded = request.headers[values: .init("X-Forwarded-For")!].flatMap { $0.split(separator: ",") }
        .map { $0.trimmingCharacters(in: .whitespaces) }
    for hop in forwarded.reversed() {
        guard let ip = IPAddress(hop) else { break }
        if !trustedProxies.contains(where: { $0.contains(ip) }) { return (ip.limitKey, true) }
    }
    return (peerIP.limitKey, true)
}

extension Dictionary where Key == String, Value == PublicProject {
    /// The project named by the route's `:key`, or 404.
    func project(_ context: some RequestContext) throws -> PublicProject {
        guard let key = context.parameters.get("key"), let project = self[key] else {
            throw APIError.notFound("no project with this key")
        }
        return project
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}

/// `POST /v1/projects/{key}/reservations`: the snippet's request for a visitor's number (public, CORS).
public struct ReservationController<Context: RemoteAddressRequestContext>: Sendable {
    let projects: [String: PublicProject]
    let numbers: NumberPoolBook
    let limiter: RateLimiter
    let regionHeader: HTTPField.Name?
    let trustedProxies: [CIDR]
    static var bodyLimit: Int { 16 * 1024 }

    public init(projects: [PublicProject], numbers: NumberPoolBook, limiter: RateLimiter, regionHeader: String?,
                trustedProxies: [CIDR] = []) {
        self.projects = Dictionary(uniqueKeysWithValues: projects.map { ($0.key, $0) })
        self.numbers = numbers
        self.limiter = limiter
        self.regionHeader = regionHeader.flatMap { HTTPField.Name($0) }
        self.trustedProxies = trustedProxies
    }

    public func addRoutes(to router: Router<Context>) {
        router.post("v1/projects/:key/reservations", use: reserve)
        router.on("v1/projects/:key/reservations", method: .options, use: preflight)
        router.get("v1/projects/:key/amp", use: amp)
    }

    private func project(_ context: Context) throws -> PublicProject {
        guard let key = context.parameters.get("key"), let p = projects[key] else {
            throw APIError.notFound("no project with this key")
        }
        return p
    }

    /// The CORS headers for an allowed origin; throws 403 for a browser on a foreign site.
    /// Requests without Origin (not from a browser) pass, and so does the demo page on CallTrack's
    /// own host when that host is an IP address or `localhost`: a page whose name merely resolves
    /// to CallTrack (DNS rebinding) has a name of the attacker's as its Origin and Host, and is refused.
    static func cors(_ request: Request, _ project: PublicProject) throws -> HTTPFields {
        guard let origin = request.headers[.origin]?.lowercased() else { return [:] }
        let own = request.head.authority.map { $0.lowercased() }.flatMap { authority in
            isAddressLiteral(authority) ? "http://\(authority)" : nil
        }
        guard project.origins.contains(origin) || origin == own else {
            throw APIError(.forbidden, code: "origin_not_allowed",
                           message: "origin \(origin) is not in this project's origins")
        }
        return [.accessControlAllowOrigin: origin, .vary: "Origin"]
    }

    /// `127.0.0.1:8080`, `[::1]:8080`, `localhost:8080`: a host no DNS answer chose.
    static func isAddressLiteral(_ authority: String) -> Bool {
        var host = authority
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            host = String(host[..<colon])
        }
        return host == "localhost" || IPAddress(host) != nil
    }

    func clientAddress(_ request: Request, peer: String?) -> (address: String, viaTrustedProxy: Bool) {
        HTTPAPI.clientAddress(request, peer: peer, trustedProxies: trustedProxies)
    }

    /// The client's address, once the per-address limit on reservations (the snippet's and AMP's) lets it through.
    func admittedAddress(_ request: Request, _ context: Context) throws -> (address: String, viaTrustedProxy: Bool) {
        let client = clientAddress(request, peer: context.remoteAddress?.ipAddress)
        guard limiter.allow(client.address) else {
            throw APIError(.tooManyRequests, code: "rate_limited", message: "too many reservations from \(client.address); slow down")
        }
        return client
    }

    @Sendable func preflight(_ request: Request, context: Context) async throws -> Response {
        var headers = try Self.cors(request, try project(context))
        headers[.accessControlAllowMethods] = "POST, OPTIONS"
        headers[.accessControlAllowHeaders] = "Content-Type"
        headers[.accessControlMaxAge] = "600"
        return Response(status: .noContent, headers: headers)
    }

    @Sendable func reserve(_ request: Request, context: Context) async throws -> Response {
        let project = try project(context)
        let cors = try Self.cors(request, project)
        let (address, viaTrustedProxy) = try admittedAddress(request, context)
        var request = request
        let body = try await request.body(upTo: Self.bodyLimit)
        let input = try ReservationRequest(json: Data(buffer: body))
        var report = input.report
        // The region header is a trusted proxy's word: from anyone else it is ignored.
        if viaTrustedProxy, let header = regionHeader, let region = request.headers[header], !region.isEmpty {
            report.region = String(region.prefix(64))
        }
        guard let assignment = numbers.reserve(projectKey: project.key, clientID: input.clientID, report: report,
                                               address: address) else {
            throw APIError(.serviceUnavailable, code: "no_pool", message: "this project has no number pool")
        }
        var response = try ReservationJSON(assignment, ttl: project.ttlSeconds).response(from: request, context: context)
        for field in cors { response.headers.append(field) }
        response.headers[.cacheControl] = "no-store"
        return response
    }
}

extension ReservationController {
    /// `GET /v1/projects/{key}/amp?__amp_source_origin=…&client_id=…`: the number for an AMP page's
    /// `<amp-call-tracking>`, reserved for the AMP client id (`CLIENT_ID(_ct_cid)` in its config URL),
    /// as `{"phoneNumber", "formattedPhoneNumber"}`. AMP's CORS: the source origin must be one of the
    /// project's origins, and the request may come from it or from an AMP cache.
    @Sendable func amp(_ request: Request, context: Context) async throws -> Response {
        let project = try project(context)
        let query = request.uri.queryParameters
        guard let source = query["__amp_source_origin"].map({ String($0).lowercased().trimmingSuffix("/") }),
              project.origins.contains(source) else {
            throw APIError(.forbidden, code: "origin_not_allowed", message: "__amp_source_origin is not one of this project's origins")
        }
        var headers: HTTPFields = [HTTPField.Name("AMP-Access-Control-Allow-Source-Origin")!: source,
                                   .accessControlExposeHeaders: "AMP-Access-Control-Allow-Source-Origin",
                                   .cacheControl: "no-store", .vary: "Origin"]
        if let origin = request.headers[.origin]?.lowercased() {
            guard origin == source || Self.isAMPCache(origin) else {
                throw APIError(.forbidden, code: "origin_not_allowed", message: "origin \(origin) is neither the page's nor an AMP cache")
            }
            headers[.accessControlAllowOrigin] = origin
            headers[.accessControlAllowCredentials] = "true"
        }
        let (address, _) = try admittedAddress(request, context)
        // The same checks as the snippet's reservation: the AMP page's URL stands for the visit.
        var fields: [String: Any] = ["client_id": query["client_id"].map { String($0) } ?? "",
                                     "page": query["page"].map { String($0) } ?? source + "/"]
        for key in ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "gclid", "yclid"] {
            if let value = query[Substring(key)] { fields[key] = String(value) }
        }
        let input = try ReservationRequest(json: try JSONSerialization.data(withJSONObject: fields))
        guard let assignment = numbers.reserve(projectKey: project.key, clientID: input.clientID, report: input.report,
                                               address: address) else {
            throw APIError(.serviceUnavailable, code: "no_pool", message: "this project has no number pool")
        }
        let body = try JSONSerialization.data(withJSONObject: ["phoneNumber": assignment.number.e164,
                                                               "formattedPhoneNumber": assignment.formatted], options: [.sortedKeys])
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// `https://cdn.ampproject.org` and its per-site subdomains (`https://shop-example.cdn.ampproject.org`).
    static func isAMPCache(_ origin: String) -> Bool {
        origin == "https://cdn.ampproject.org" || (origin.hasPrefix("https://") && origin.hasSuffix(".cdn.ampproject.org")
            && !origin.dropFirst(8).dropLast(".cdn.ampproject.org".count).contains(where: { $0 == "/" || $0 == ":" || $0 == "@" }))
    }
}

/// The reservation request body, checked field by field so that a 400 names the field.
struct ReservationRequest {
    let clientID: String
    let report: VisitReport

    init(json: Data) throws {
        guard let object = try? JSONSerialization.jsonObject(with: json), let dict = object as? [String: Any] else {
            throw APIError(.badRequest, code: "invalid_json", message: "the body must be a JSON object")
        }
        func string(_ key: String, max: Int, required: Bool = false) throws -> String? {
            guard let value = dict[key], !(value is NSNull) else {
                if required { throw APIError.badRequest(field: key, "\(key) is required") }
                return nil
            }
            guard let s = value as? String else { throw APIError.badRequest(field: key, "\(key) must be a string") }
            guard s.utf8.count <= max else { throw APIError.badRequest(field: key, "\(key) is longer than \(max) bytes") }
            return s.isEmpty ? nil : s
        }
        /// An analytics client id: digits and dots only (`1234567890.1700000000` for GA, digits for Metrica).
        func analyticsID(_ key: String, max: Int) throws -> String? {
            guard let value = try string(key, max: max) else { return nil }
            guard value.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) else {
                throw APIError.badRequest(field: key, "\(key) is digits and dots")
            }
            return value
        }
        guard let id = try string("client_id", max: 128, required: true),
              id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
            throw APIError.badRequest(field: "client_id", "client_id must be 1-128 letters, digits, '.', '_' or '-'")
        }
        // A cheap check: the page is only stored and shown, never fetched or followed.
        guard let page = try string("page", max: 4096, required: true),
              page.lowercased().hasPrefix("http://") || page.lowercased().hasPrefix("https://"),
              !page.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7f }) else {
            throw APIError.badRequest(field: "page", "page must be the http(s) URL of the page")
        }
        clientID = id
        // Stored as visits: long URLs are kept to their first bytes (the UTM tags and click ids are
        // read from the whole page URL first), so a visit costs the database a bounded size.
        let referrer = try string("referrer", max: 4096)
        report = VisitReport(
            page: page, referrer: referrer, utmSource: try string("utm_source", max: 256),
            utmMedium: try string("utm_medium", max: 256), utmCampaign: try string("utm_campaign", max: 256),
            utmTerm: try string("utm_term", max: 256), utmContent: try string("utm_content", max: 256),
            gclid: try string("gclid", max: 512), yclid: try string("yclid", max: 512), region: try string("region", max: 64),
            gaClientID: try analyticsID("ga_client_id", max: 64), ymClientID: try analyticsID("ym_client_id", max: 32))
    }
}

/// The JSON answer to a reservation (see docs/openapi.yaml).
struct ReservationJSON: ResponseEncodable {
    @Nullable var reservationID: String?
    let number: String
    let formatted: String
    let kind: String
    @Nullable var expiresAt: String?
    let ttlSeconds: Int

    enum CodingKeys: String, CodingKey {
        case reservationID = "reservation_id", number, formatted, kind, expiresAt = "expires_at", ttlSeconds = "ttl_seconds"
    }

    init(_ a: NumberAssignment, ttl: Int) {
        reservationID = a.reservation?.id; number = a.number.e164; formatted = a.formatted; kind = a.kind.rawValue
        expiresAt = a.reservation.map { CallJSON.format($0.expiresAt) }; ttlSeconds = ttl
    }
}
