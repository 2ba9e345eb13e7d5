import CallTrackCore
import Foundation
import HTTPTypes
import Hummingbird
import Tracking

/// `POST /v1/projects/{key}/reservations`: the snippet's request for a visitor's number (public, CORS).
public struct ReservationController<Context: RemoteAddressRequestContext>: Sendable {
    let projects: [String: PublicProject]
    let numbers: any NumberDesk
    let limiter: RateLimiter
    let regionHeader: HTTPField.Name?
    let trustedProxies: [CIDR]
    static var bodyLimit: Int { 16 * 1024 }

    public init(
        projects: [PublicProject], numbers: any NumberDesk, limiter: RateLimiter, regionHeader: String?,
        trustedProxies: [CIDR] = []
    ) {
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
            throw APIError(
                .forbidden, code: "origin_not_allowed", message: "origin \(origin) is not in this project's origins")
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
            throw APIError(
                .tooManyRequests, code: "rate_limited",
                message: "too many reservations from \(client.address); slow down")
        }
        return client
    }

    @Sendable func preflight(_ request: Request, context: Context) async throws -> Response {
        var headers = try Self.cors(request, try projects.project(context))
        headers[.accessControlAllowMethods] = "POST, OPTIONS"
        headers[.accessControlAllowHeaders] = "Content-Type"
        headers[.accessControlMaxAge] = "600"
        return Response(status: .noContent, headers: headers)
    }

    @Sendable func reserve(_ request: Request, context: Context) async throws -> Response {
        let project = try projects.project(context)
        let cors = try Self.cors(request, project)
        let (address, viaTrustedProxy) = try admittedAddress(request, context)
        var request = request
        let input = try await request.decode(ReservationRequest.self, limit: Self.bodyLimit)
        var report = input.report
        // The region header is a trusted proxy's word: from anyone else it is ignored.
        if viaTrustedProxy, let header = regionHeader, let region = request.headers[header], !region.isEmpty {
            report.region = String(region.prefix(64))
        }
        guard
            let assignment = try await numbers.assign(
                projectKey: project.key, clientID: input.clientID, report: report, address: address, now: Date())
        else { throw APIError(.serviceUnavailable, code: "no_pool", message: "this project has no number pool") }
        var response = try ReservationJSON(assignment, ttl: project.ttlSeconds).response(
            from: request, context: context)
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
        let project = try projects.project(context)
        let query = request.uri.queryParameters
        guard let source = query["__amp_source_origin"].map({ String($0).lowercased().trimmingSuffix("/") }),
            project.origins.contains(source)
        else {
            throw APIError(
                .forbidden, code: "origin_not_allowed",
                message: "__amp_source_origin is not one of this project's origins")
        }
        var headers: HTTPFields = [
            HTTPField.Name("AMP-Access-Control-Allow-Source-Origin")!: source,
            .accessControlExposeHeaders: "AMP-Access-Control-Allow-Source-Origin", .cacheControl: "no-store",
            .vary: "Origin",
        ]
        if let origin = request.headers[.origin]?.lowercased() {
            guard origin == source || Self.isAMPCache(origin) else {
                throw APIError(
                    .forbidden, code: "origin_not_allowed",
                    message: "origin \(origin) is neither the page's nor an AMP cache")
            }
            headers[.accessControlAllowOrigin] = origin
            headers[.accessControlAllowCredentials] = "true"
        }
        let (address, _) = try admittedAddress(request, context)
        // The same checks as the snippet's reservation: the AMP page's URL stands for the visit.
        var fields = [
            "client_id": query["client_id"].map { String($0) } ?? "",
            "page": query["page"].map { String($0) } ?? source + "/",
        ]
        for key in ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "gclid", "yclid"] {
            if let value = query[Substring(key)] { fields[key] = String(value) }
        }
        let input = try RequestBody.decode(ReservationRequest.self, from: try JSONEncoder().encode(fields))
        guard
            let assignment = try await numbers.assign(
                projectKey: project.key, clientID: input.clientID, report: input.report, address: address, now: Date())
        else { throw APIError(.serviceUnavailable, code: "no_pool", message: "this project has no number pool") }
        let body = try JSONSerialization.data(
            withJSONObject: ["phoneNumber": assignment.number.e164, "formattedPhoneNumber": assignment.formatted],
            options: [.sortedKeys])
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// `https://cdn.ampproject.org` and its per-site subdomains (`https://shop-example.cdn.ampproject.org`).
    static func isAMPCache(_ origin: String) -> Bool {
        origin == "https://cdn.ampproject.org"
            || (origin.hasPrefix("https://") && origin.hasSuffix(".cdn.ampproject.org")
                && !origin.dropFirst(8).dropLast(".cdn.ampproject.org".count).contains(where: {
                    $0 == "/" || $0 == ":" || $0 == "@"
                }))
    }
}

/// The JSON answer to a reservation (see docs/openapi.yaml).
struct ReservationJSON: ResponseEncodable {
    @Nullable var reservationID: String?
    let number, formatted, kind: String
    @Nullable var expiresAt: String?
    let ttlSeconds: Int

    enum CodingKeys: String, CodingKey {
        case reservationID = "reservation_id", number, formatted, kind, expiresAt = "expires_at", ttlSeconds =
            "ttl_seconds"
    }

    init(_ a: NumberAssignment, ttl: Int) {
        reservationID = a.reservation?.id
        number = a.number.e164
        formatted = a.formatted
        kind = a.kind.rawValue
        expiresAt = a.reservation.map { CallJSON.format($0.expiresAt) }
        ttlSeconds = ttl
    }
}
