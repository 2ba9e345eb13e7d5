import Foundation

public struct TrunkConfig: ConfigSection, Sendable, Equatable {
    public var name = ""
    /// CIDRs allowed to send calls into CallTrack through this trunk.
    public var allow: [CIDR] = []
    /// SIP URI that outbound calls through this trunk are routed to.
    public var proxy, username: String?
    /// Environment variable holding the digest password.
    public var passwordEnv: String?
    public var register = false

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [
            .required("name", \.name, .nonEmpty), .key("allow", \.allow),
            .key("proxy", \.proxy, .sipURI(like: "sip:192.0.2.10:5060")), .key("username", \.username, .nonEmpty),
            .key("password_env", \.passwordEnv, .environmentName), .key("register", \.register),
        ]
    }

    public func settle(path: ConfigPath) throws {
        if passwordEnv != nil && username == nil {
            throw ConfigError(key: path.key("username"), "is required when password_env is set")
        }
        if register && (proxy == nil || username == nil) {
            throw ConfigError(key: path.key("register"), "needs proxy and username")
        }
    }
}

public enum AttributionModel: String, Decodable, Sendable, CaseIterable {
    case lastClick = "last_click", lastNonDirect = "last_non_direct", firstClick = "first_click"
}

public struct ProjectConfig: ConfigSection, Sendable, Equatable {
    public var key = ""
    /// Shown in the dashboard and e-mails; the key when not given.
    public var name = ""
    public var origins: [String] = []
    public var siteNumbers: [String] = []
    /// CSS selector of elements that hold the business number (rewritten whole), besides text and `tel:` links.
    public var numberSelector: String?
    /// Tight pools: show the number masked and reserve only when the visitor clicks it.
    public var clickToReveal = false
    /// The visitor cookie's domain (`.shop.example`), so that `www.` and `m.` share one visitor.
    public var cookieDomain: String?
    public var forwardTo = ""
    public var trunk: String?
    public var ringTimeoutSeconds = 30
    public var reservationTTLSeconds = 360
    public var attribution = AttributionModel.lastNonDirect
    public var record = true
    public var pools: [PoolConfig] = []
    public var offline: [OfflineNumberConfig] = []
    public var webhooks: [WebhookConfig] = []
    /// The IANA time zone whose calendar days the reports count in.
    public var timezone = "UTC"
    /// ISO 4217 code of the money in sales and costs.
    public var currency = "RUB"
    /// The forwarded call's display name starts with `[source/medium]`, for desk phones that show only the name.
    public var callerNamePrefix = false
    /// Google Analytics 4: a `phone_call` event per call of a visitor with a GA client id.
    public var ga4: GA4Config?
    /// Yandex Metrica: the project's calls uploaded as offline calls, on a schedule.
    public var metrica: MetricaConfig?
    /// Who hears about missed calls.
    public var notify = NotifyConfig()

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [
            .required(
                "key", \.key,
                .that("must be letters, digits, - or _") {
                    !$0.isEmpty
                        && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
                }), .key("name", \.name),
            .key("origins", \.origins, .each(.that("is not an origin like https://example.com", isOrigin))),
            .key("site_numbers", \.siteNumbers), .key("number_selector", \.numberSelector),
            .key("click_to_reveal", \.clickToReveal),
            .key(
                "cookie_domain", \.cookieDomain,
                .that("is not a domain like .shop.example") { domain in
                    (domain.hasPrefix(".") ? String(domain.dropFirst()) : domain).range(
                        of: "^([a-z0-9-]+\\.)+[a-z0-9-]+$", options: [.regularExpression, .caseInsensitive]) != nil
                }), .required("forward_to", \.forwardTo, .sipURI(like: "sip:+74951234567@192.0.2.10")),
            .key("trunk", \.trunk), .key("ring_timeout_seconds", \.ringTimeoutSeconds, .within(1...600)),
            .key("reservation_ttl_seconds", \.reservationTTLSeconds, .within(10...86400)),
            .key("attribution", \.attribution), .key("record", \.record), .key("pools", \.pools),
            .key("offline", \.offline), .key("webhooks", \.webhooks),
            .key(
                "timezone", \.timezone,
                .that("is not an IANA time zone like Europe/Moscow") { TimeZone(identifier: $0) != nil }),
            .key("currency", \.currency, .matching("[A-Z]{3}", "is not an ISO 4217 code like RUB")),
            .key("caller_name_prefix", \.callerNamePrefix), .key("ga4", \.ga4), .key("metrica", \.metrica),
            .key("notify", \.notify),
        ]
    }

    public mutating func settle(path: ConfigPath) throws {
        if name.isEmpty { name = key }
        var poolNames = Set<String>()
        for (j, pool) in pools.enumerated() where !poolNames.insert(pool.name).inserted {
            throw ConfigError(key: path.key("pools[\(j)].name"), "pool \"\(pool.name)\" is defined twice")
        }
    }

    private static func isOrigin(_ origin: String) -> Bool {
        guard let url = URL(string: origin), let scheme = url.scheme, ["http", "https"].contains(scheme),
            url.host != nil
        else { return false }
        return url.path.isEmpty || url.path == "/"
    }
}

public struct PoolConfig: ConfigSection, Sendable, Equatable {
    public var name = ""
    public var regions: [String] = []
    public var numbers: [String] = []
    /// Shown when every dynamic number is taken; calls to it measure the pool's shortfall.
    public var `static` = ""

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [
            .required("name", \.name), .key("regions", \.regions),
            .required("numbers", \.numbers, .that("a pool needs at least one number") { !$0.isEmpty }),
            .required("static", \.static, why: "is required: the number shown when every pool number is taken"),
        ]
    }
}

public struct OfflineNumberConfig: ConfigSection, Sendable, Equatable {
    public var number = ""
    public var channel = ""

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [.required("number", \.number), .required("channel", \.channel, .nonEmpty)]
    }
}

public struct WebhookConfig: ConfigSection, Sendable, Equatable {
    public var url = ""
    public var secretEnv = ""
    public var events = DeliveryEvent.webhookEvents

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [
            .required("url", \.url, .httpURL),
            .required(
                "secret_env", \.secretEnv, .environmentName,
                why: "must name the environment variable holding the signing secret"), .key("events", \.events),
        ]
    }
}

/// Google Analytics 4's Measurement Protocol for a project's calls.
public struct GA4Config: ConfigSection, Sendable, Equatable {
    public var measurementID = ""
    public var apiSecretEnv = ""
    public var endpoint = "https://www.google-analytics.com/mp/collect"

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [
            .required(
                "measurement_id", \.measurementID,
                .matching("G-[A-Z0-9]{4,20}", "must be a GA4 measurement id like G-ABC123XYZ")),
            .required("api_secret_env", \.apiSecretEnv, .environmentName), .key("endpoint", \.endpoint, .httpURL),
        ]
    }

    /// Where the events go, without the secret (the outbox's and the log's name for it).
    public var url: String {
        endpoint + (endpoint.contains("?") ? "&" : "?") + "measurement_id=" + measurementID.percentEncodedUnreserved
    }
}

/// Yandex Metrica's offline calls upload for a project's counter.
public struct MetricaConfig: ConfigSection, Sendable, Equatable {
    public var counterID = CounterID()
    public var tokenEnv = ""
    public var endpoint = "https://api-metrika.yandex.net"
    /// Calls wait this long to go up together: one upload carries every call ended meanwhile.
    public var uploadIntervalSeconds = 600.0

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [
            .required("counter_id", \.counterID), .required("token_env", \.tokenEnv, .environmentName),
            .key(
                "endpoint", \.endpoint,
                .that("is not an http(s) URL without a query") { isHTTPURL($0) && !$0.contains("?") }),
            .key("upload_interval_seconds", \.uploadIntervalSeconds, .within(1...86400)),
        ]
    }

    /// The upload's URL: the outbox's and the log's name for it.
    public var url: String {
        (endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint)
            + "/management/v1/counter/\(counterID.digits)/offline_conversions/upload_calls?client_id_type=CLIENT_ID"
    }

    /// A counter's number, which YAML may give as a number or as a string.
    public struct CounterID: Decodable, Sendable, Equatable {
        public var digits = ""

        init() {}

        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            let text = (try? c.decode(Int.self)).map(String.init) ?? (try? c.decode(String.self)) ?? ""
            guard !text.isEmpty, text.count <= 20, text.allSatisfy(\.isASCIIDigit) else {
                throw ConfigError(
                    key: ConfigError.path(decoder.codingPath), "must be the counter's number, like 12345678")
            }
            digits = text
        }
    }
}

/// Who is told about a project's calls.
public struct NotifyConfig: ConfigSection, Sendable, Equatable {
    /// Addresses that get an e-mail per missed call (through `smtp`).
    public var email: [String] = []

    public init() {}

    public static var keys: [ConfigKey<Self>] { [.key("email", \.email, .each(.emailAddress, atMost: 20))] }
}
