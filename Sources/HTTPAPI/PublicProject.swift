import CallTrackCore
import Foundation
import Hummingbird

/// What the public, browser-facing routes need to know about a project.
public struct PublicProject: Sendable {
    public let key, name: String
    /// Origins allowed to call the API from a browser (CORS).
    public let origins: Set<String>
    public let siteNumbers: [String]
    public let nationalDigits, ttlSeconds: Int
    public let numberSelector: String?
    public let clickToReveal: Bool
    public let cookieDomain: String?
    /// Reports count calendar days here.
    public let timeZone: TimeZone
    public let currency: String

    public init(config p: ProjectConfig, numbering: NumberingConfig) {
        key = p.key
        name = p.name
        origins = Set(p.origins.map { $0.lowercased().trimmingSuffix("/") })
        siteNumbers = p.siteNumbers
        nationalDigits = numbering.nationalNumberLength
        ttlSeconds = p.reservationTTLSeconds
        numberSelector = p.numberSelector
        clickToReveal = p.clickToReveal
        cookieDomain = p.cookieDomain
        timeZone = TimeZone(identifier: p.timezone) ?? .gmt
        currency = p.currency
    }
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
