import Foundation

/// The whole configuration, decoded from `config/calltrack.yaml`.
///
/// Secrets are never in this file: keys ending in `_env` name environment variables.
public struct CallTrackConfig: Codable, Sendable, Equatable {
    public var sip: SIPConfig
    public var http: HTTPConfig
    public var storage: StorageConfig
    public var admin: AdminConfig
    public var numbering: NumberingConfig
    public var recording: RecordingConfig
    public var tracking: TrackingConfig
    public var delivery: DeliveryConfig
    /// The mail relay missed-call e-mails go through (`projects[].notify.email`).
    public var smtp: SMTPConfig?
    public var trunks: [TrunkConfig]
    public var projects: [ProjectConfig]

    public init(
        sip: SIPConfig = .init(), http: HTTPConfig = .init(), storage: StorageConfig = .init(),
        admin: AdminConfig = .init(), numbering: NumberingConfig = .init(), recording: RecordingConfig = .init(),
        tracking: TrackingConfig = .init(), delivery: DeliveryConfig = .init(), trunks: [TrunkConfig] = [],
        projects: [ProjectConfig] = []
    ) {
        self.delivery = delivery
        smtp = nil
        self.sip = sip; self.http = http; self.storage = storage; self.admin = admin
        self.numbering = numbering; self.recording = recording; self.tracking = tracking
        self.trunks = trunks; self.projects = projects
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case sip, http, storage, admin, numbering, recording, tracking, delivery, smtp, trunks, projects
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        sip = try c.decodeIfPresent(SIPConfig.self, forKey: .sip) ?? .init()
        http = try c.decodeIfPresent(HTTPConfig.self, forKey: .http) ?? .init()
        storage = try c.decodeIfPresent(StorageConfig.self, forKey: .storage) ?? .init()
        admin = try c.decodeIfPresent(AdminConfig.self, forKey: .admin) ?? .init()
        numbering = try c.decodeIfPresent(NumberingConfig.self, forKey: .numbering) ?? .init()
        recording = try c.decodeIfPresent(RecordingConfig.self, forKey: .recording) ?? .init()
        tracking = try c.decodeIfPresent(TrackingConfig.self, forKey: .tracking) ?? .init()
        delivery = try c.decodeIfPresent(DeliveryConfig.self, forKey: .delivery) ?? .init()
        smtp = try c.decodeIfPresent(SMTPConfig.self, forKey: .smtp)
        trunks = try c.decodeIfPresent([TrunkConfig].self, forKey: .trunks) ?? []
        projects = try c.decodeIfPresent([ProjectConfig].self, forKey: .projects) ?? []
    }
}

public struct SIPConfig: Codable, Sendable, Equatable {
    /// `udp:HOST:PORT` / `tcp:HOST:PORT` entries.
    public var listen: [SIPListenAddress]
    /// The address written into SDP and Contact; defaults to the first listen host.
    public var advertisedAddress: String?
    public var rtpPorts: PortRange
    /// Both legs are hung up when an answered, unheld call carries no RTP for this long.
    public var rtpTimeoutSeconds: Int
    /// On SIGTERM, active calls get this long to finish before CallTrack hangs them up.
    public var drainSeconds: Int
    public var userAgent: String
    /// What a request from an address no trunk admits gets: one stateless 403, or nothing.
    public var untrusted: UntrustedSourcePolicy
    /// Requests per second a source no trunk admits may send; beyond it they are dropped unanswered.
    public var maxRequestsPerSecondPerSource: Int
    /// Whose packets a relay socket may latch to after an offer/answer.
    public var mediaLatching: MediaLatching

    public init(
        listen: [SIPListenAddress] = [.init(transport: .udp, address: .init(host: "127.0.0.1", port: 5060)),
                                      .init(transport: .tcp, address: .init(host: "127.0.0.1", port: 5060))],
        advertisedAddress: String? = nil,
        rtpPorts: PortRange = .init(), rtpTimeoutSeconds: Int = 60, drainSeconds: Int = 30,
        userAgent: String = "CallTrack", untrusted: UntrustedSourcePolicy = .reject,
        maxRequestsPerSecondPerSource: Int = 20, mediaLatching: MediaLatching = .signalling
    ) {
        self.listen = listen; self.advertisedAddress = advertisedAddress; self.rtpPorts = rtpPorts
        self.rtpTimeoutSeconds = rtpTimeoutSeconds; self.drainSeconds = drainSeconds; self.userAgent = userAgent
        self.untrusted = untrusted; self.maxRequestsPerSecondPerSource = maxRequestsPerSecondPerSource
        self.mediaLatching = mediaLatching
        relayThreads = Self.defaultRelayThreads
    }

    /// Threads relaying media, each with its own event loop: one per core by default.
    public var relayThreads: Int
    public static var defaultRelayThreads: Int { ProcessInfo.processInfo.activeProcessorCount }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case relayThreads = "relay_threads"
        case listen, advertisedAddress = "advertised_address", rtpPorts = "rtp_ports"
        case rtpTimeoutSeconds = "rtp_timeout_seconds", drainSeconds = "drain_seconds", userAgent = "user_agent"
        case untrusted, maxRequestsPerSecondPerSource = "max_requests_per_second_per_source"
        case mediaLatching = "media_latching"
    }

    public init(from decoder: Decoder) throws {
        let d = SIPConfig()
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        listen = try c.decodeIfPresent([SIPListenAddress].self, forKey: .listen) ?? d.listen
        advertisedAddress = try c.decodeIfPresent(String.self, forKey: .advertisedAddress)
        rtpPorts = try c.decodeIfPresent(PortRange.self, forKey: .rtpPorts) ?? d.rtpPorts
        rtpTimeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .rtpTimeoutSeconds) ?? d.rtpTimeoutSeconds
        drainSeconds = try c.decodeIfPresent(Int.self, forKey: .drainSeconds) ?? d.drainSeconds
        userAgent = try c.decodeIfPresent(String.self, forKey: .userAgent) ?? d.userAgent
        untrusted = try c.decodeIfPresent(UntrustedSourcePolicy.self, forKey: .untrusted) ?? d.untrusted
        maxRequestsPerSecondPerSource = try c.decodeIfPresent(Int.self, forKey: .maxRequestsPerSecondPerSource)
            ?? d.maxRequestsPerSecondPerSource
        mediaLatching = try c.decodeIfPresent(MediaLatching.self, forKey: .mediaLatching) ?? d.mediaLatching
        relayThreads = try c.decodeIfPresent(Int.self, forKey: .relayThreads) ?? d.relayThreads
    }
}

/// What a SIP request from an address no trunk admits gets (`sip.untrusted`).
public enum UntrustedSourcePolicy: String, Codable, Sendable {
    /// One stateless 403 per request, never retransmitted.
    case reject
    /// No answer at all: invisible to scanners.
    case drop
}

/// Whose packets a relay socket latches to during its learning window (`sip.media_latching`).
public enum MediaLatching: String, Codable, Sendable {
    /// A source with the IP of the leg's SDP address or of its SIP peer (the default).
    case signalling
    /// Only the exact address and port of the SDP: no NAT traversal.
    case off
    /// Any source: for carriers whose media comes from addresses their signalling never names.
    case any
}

public struct PortRange: Codable, Sendable, Equatable {
    public var min: Int
    public var max: Int
    public init(min: Int = 20000, max: Int = 29999) { self.min = min; self.max = max }
    enum CodingKeys: String, CodingKey, CaseIterable { case min, max }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        min = try c.decode(Int.self, forKey: .min)
        max = try c.decode(Int.self, forKey: .max)
    }
}

public struct HTTPConfig: Codable, Sendable, Equatable {
    /// `HOST:PORT`.
    public var listen: HostPort
    /// Reservation requests allowed per client address and minute (the snippet sends one a minute per tab).
    public var reservationsPerMinute: Int
    /// Header a trusted reverse proxy sets with the visitor's region, for pools limited to regions.
    public var regionHeader: String?
    /// Reverse proxies (CIDRs) whose `X-Forwarded-For` names the client and whose region header is believed.
    public var trustedProxies: [CIDR]
    /// HTTP connections open at once; lowered at start if the file descriptor limit needs it for SIP and RTP.
    public var maxConnections: Int
    /// A connection with no request in progress is closed after this long.
    public var idleTimeoutSeconds: Int
    /// A request must arrive whole (head and body) within this long of its first byte.
    public var requestTimeoutSeconds: Int
    /// Where people reach CallTrack's HTTP (behind its proxy), for links in e-mails; default `http://` + `listen`.
    public var publicURL: String?

    public init(listen: HostPort = .init(host: "127.0.0.1", port: 8080), reservationsPerMinute: Int = 120,
                regionHeader: String? = nil, trustedProxies: [CIDR] = [], maxConnections: Int = 1024, idleTimeoutSeconds: Int = 30,
                requestTimeoutSeconds: Int = 10) {
        self.listen = listen; self.reservationsPerMinute = reservationsPerMinute; self.regionHeader = regionHeader
        self.trustedProxies = trustedProxies; self.maxConnections = maxConnections
        self.idleTimeoutSeconds = idleTimeoutSeconds; self.requestTimeoutSeconds = requestTimeoutSeconds
        publicURL = nil
    }
    /// `public_url` without a trailing slash, or the listen address.
    public var linkBase: String {
        guard let url = publicURL else { return "http://\(listen.host.contains(":") ? "[\(listen.host)]" : listen.host):\(listen.port)" }
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }
    enum CodingKeys: String, CodingKey, CaseIterable {
        case publicURL = "public_url"
        case listen, reservationsPerMinute = "reservations_per_minute", regionHeader = "region_header"
        case trustedProxies = "trusted_proxies", maxConnections = "max_connections"
        case idleTimeoutSeconds = "idle_timeout_seconds", requestTimeoutSeconds = "request_timeout_seconds"
    }
    public init(from decoder: Decoder) throws {
        let d = HTTPConfig()
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        listen = try c.decodeIfPresent(HostPort.self, forKey: .listen) ?? d.listen
        reservationsPerMinute = try c.decodeIfPresent(Int.self, forKey: .reservationsPerMinute) ?? d.reservationsPerMinute
        regionHeader = try c.decodeIfPresent(String.self, forKey: .regionHeader)
        trustedProxies = try c.decodeIfPresent([CIDR].self, forKey: .trustedProxies) ?? d.trustedProxies
        maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? d.maxConnections
        idleTimeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .idleTimeoutSeconds) ?? d.idleTimeoutSeconds
        requestTimeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .requestTimeoutSeconds) ?? d.requestTimeoutSeconds
        publicURL = try c.decodeIfPresent(String.self, forKey: .publicURL)
    }
}

public struct StorageConfig: Codable, Sendable, Equatable {
    public var database: String
    public var recordings: String
    public init(database: String = "data/calltrack.sqlite", recordings: String = "recordings") {
        self.database = database; self.recordings = recordings
    }
    enum CodingKeys: String, CodingKey, CaseIterable { case database, recordings }
    public init(from decoder: Decoder) throws {
        let d = StorageConfig()
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        database = try c.decodeIfPresent(String.self, forKey: .database) ?? d.database
        recordings = try c.decodeIfPresent(String.self, forKey: .recordings) ?? d.recordings
    }
}

public struct AdminConfig: Codable, Sendable, Equatable {
    /// Name of the environment variable holding comma-separated admin tokens.
    public var tokensEnv: String
    public init(tokensEnv: String = "CALLTRACK_ADMIN_TOKENS") { self.tokensEnv = tokensEnv }
    enum CodingKeys: String, CodingKey, CaseIterable { case tokensEnv = "tokens_env" }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        tokensEnv = try c.decodeIfPresent(String.self, forKey: .tokensEnv) ?? AdminConfig().tokensEnv
    }
}

/// How dialled numbers without a country code are read (defaults: Russia).
public struct NumberingConfig: Codable, Sendable, Equatable {
    public var countryCode: String
    /// The domestic trunk prefix that replaces the country code (`8` in Russia).
    public var trunkPrefix: String
    /// Digits in a national number, without trunk prefix or country code.
    public var nationalNumberLength: Int
    public init(countryCode: String = "7", trunkPrefix: String = "8", nationalNumberLength: Int = 10) {
        self.countryCode = countryCode; self.trunkPrefix = trunkPrefix; self.nationalNumberLength = nationalNumberLength
    }
    enum CodingKeys: String, CodingKey, CaseIterable {
        case countryCode = "country_code", trunkPrefix = "trunk_prefix", nationalNumberLength = "national_number_length"
    }
    public init(from decoder: Decoder) throws {
        let d = NumberingConfig()
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        countryCode = try c.decodeIfPresent(String.self, forKey: .countryCode) ?? d.countryCode
        trunkPrefix = try c.decodeIfPresent(String.self, forKey: .trunkPrefix) ?? d.trunkPrefix
        nationalNumberLength = try c.decodeIfPresent(Int.self, forKey: .nationalNumberLength) ?? d.nationalNumberLength
    }
}

/// Recording policy for every project with `record: true`.
public struct RecordingConfig: Codable, Sendable, Equatable {
    /// Recordings of calls that ended longer ago than this are deleted; 0 keeps them forever.
    public var retentionDays: Int
    /// How often the retention sweeper looks for old recordings.
    public var sweepIntervalSeconds: Int
    public init(retentionDays: Int = 0, sweepIntervalSeconds: Int = 3600) {
        self.retentionDays = retentionDays; self.sweepIntervalSeconds = sweepIntervalSeconds
    }
    enum CodingKeys: String, CodingKey, CaseIterable { case retentionDays = "retention_days", sweepIntervalSeconds = "sweep_interval_seconds" }
    public init(from decoder: Decoder) throws {
        let d = RecordingConfig()
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        retentionDays = try c.decodeIfPresent(Int.self, forKey: .retentionDays) ?? d.retentionDays
        sweepIntervalSeconds = try c.decodeIfPresent(Int.self, forKey: .sweepIntervalSeconds) ?? d.sweepIntervalSeconds
    }
}

/// Limits on what visitors can hold and how long their visits are kept.
public struct TrackingConfig: Codable, Sendable, Equatable {
    /// Visits (and finished reservations) older than this many days are deleted.
    public var visitRetentionDays: Int
    /// How often the visit retention sweeper runs.
    public var sweepIntervalSeconds: Int
    /// Live dynamic numbers one client address may hold per project; past it, the static number.
    public var maxNumbersPerAddress: Int
    public init(visitRetentionDays: Int = 90, sweepIntervalSeconds: Int = 3600, maxNumbersPerAddress: Int = 5) {
        self.visitRetentionDays = visitRetentionDays; self.sweepIntervalSeconds = sweepIntervalSeconds
        self.maxNumbersPerAddress = maxNumbersPerAddress
    }
    enum CodingKeys: String, CodingKey, CaseIterable {
        case visitRetentionDays = "visit_retention_days", sweepIntervalSeconds = "sweep_interval_seconds"
        case maxNumbersPerAddress = "max_numbers_per_address"
    }
    public init(from decoder: Decoder) throws {
        let d = TrackingConfig()
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        visitRetentionDays = try c.decodeIfPresent(Int.self, forKey: .visitRetentionDays) ?? d.visitRetentionDays
        sweepIntervalSeconds = try c.decodeIfPresent(Int.self, forKey: .sweepIntervalSeconds) ?? d.sweepIntervalSeconds
        maxNumbersPerAddress = try c.decodeIfPresent(Int.self, forKey: .maxNumbersPerAddress) ?? d.maxNumbersPerAddress
    }
}

public struct TrunkConfig: Codable, Sendable, Equatable {
    public var name: String
    /// CIDRs allowed to send calls into CallTrack through this trunk.
    public var allow: [CIDR]
    /// SIP URI that outbound calls through this trunk are routed to.
    public var proxy: String?
    public var username: String?
    /// Environment variable holding the digest password.
    public var passwordEnv: String?
    public var register: Bool
    public init(name: String, allow: [CIDR] = [], proxy: String? = nil, username: String? = nil,
                passwordEnv: String? = nil, register: Bool = false) {
        self.name = name; self.allow = allow; self.proxy = proxy; self.username = username
        self.passwordEnv = passwordEnv; self.register = register
    }
    enum CodingKeys: String, CodingKey, CaseIterable { case name, allow, proxy, username, passwordEnv = "password_env", register }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        let d = TrunkConfig(name: name)
        allow = try c.decodeIfPresent([CIDR].self, forKey: .allow) ?? d.allow
        proxy = try c.decodeIfPresent(String.self, forKey: .proxy)
        username = try c.decodeIfPresent(String.self, forKey: .username)
        passwordEnv = try c.decodeIfPresent(String.self, forKey: .passwordEnv)
        register = try c.decodeIfPresent(Bool.self, forKey: .register) ?? d.register
    }
}

public enum AttributionModel: String, Codable, Sendable, CaseIterable {
    case lastClick = "last_click", lastNonDirect = "last_non_direct", firstClick = "first_click"
}

public struct ProjectConfig: Codable, Sendable, Equatable {
    public var key: String
    public var name: String
    public var origins: [String]
    public var siteNumbers: [String]
    /// CSS selector of elements that hold the business number (rewritten whole), besides text and `tel:` links.
    public var numberSelector: String?
    /// Tight pools: show the number masked and reserve only when the visitor clicks it.
    public var clickToReveal: Bool
    /// The visitor cookie's domain (`.shop.example`), so that `www.` and `m.` share one visitor.
    public var cookieDomain: String?
    public var forwardTo: String
    public var trunk: String?
    public var ringTimeoutSeconds: Int
    public var reservationTTLSeconds: Int
    public var attribution: AttributionModel
    public var record: Bool
    public var pools: [PoolConfig]
    public var offline: [OfflineNumberConfig]
    public var webhooks: [WebhookConfig]
    /// The IANA time zone whose calendar days the reports count in.
    public var timezone: String
    /// ISO 4217 code of the money in sales and costs.
    public var currency: String
    /// The forwarded call's display name starts with `[source/medium]`, for desk phones that show only the name.
    public var callerNamePrefix: Bool
    /// Google Analytics 4: a `phone_call` event per call of a visitor with a GA client id.
    public var ga4: GA4Config?
    /// Yandex Metrica: the project's calls uploaded as offline calls, on a schedule.
    public var metrica: MetricaConfig?
    /// Who hears about missed calls.
    public var notify: NotifyConfig

    public init(key: String, name: String, forwardTo: String, trunk: String? = nil, origins: [String] = [],
                siteNumbers: [String] = [], ringTimeoutSeconds: Int = 30, reservationTTLSeconds: Int = 360,
                attribution: AttributionModel = .lastNonDirect, record: Bool = true, pools: [PoolConfig] = [],
                offline: [OfflineNumberConfig] = [], webhooks: [WebhookConfig] = [], timezone: String = "UTC",
                currency: String = "RUB") {
        self.timezone = timezone; self.currency = currency
        self.key = key; self.name = name; self.forwardTo = forwardTo; self.trunk = trunk; self.origins = origins
        self.siteNumbers = siteNumbers; self.ringTimeoutSeconds = ringTimeoutSeconds
        numberSelector = nil; clickToReveal = false; callerNamePrefix = false; notify = NotifyConfig()
        self.reservationTTLSeconds = reservationTTLSeconds; self.attribution = attribution; self.record = record
        self.pools = pools; self.offline = offline; self.webhooks = webhooks
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case key, name, origins, siteNumbers = "site_numbers", forwardTo = "forward_to", trunk
        case numberSelector = "number_selector", clickToReveal = "click_to_reveal"
        case ringTimeoutSeconds = "ring_timeout_seconds", reservationTTLSeconds = "reservation_ttl_seconds"
        case attribution, record, pools, offline, webhooks, timezone, currency, callerNamePrefix = "caller_name_prefix", ga4
        case metrica, notify, cookieDomain = "cookie_domain"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        key = try c.decode(String.self, forKey: .key)
        forwardTo = try c.decode(String.self, forKey: .forwardTo)
        let d = ProjectConfig(key: key, name: key, forwardTo: forwardTo)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? d.name
        origins = try c.decodeIfPresent([String].self, forKey: .origins) ?? d.origins
        siteNumbers = try c.decodeIfPresent([String].self, forKey: .siteNumbers) ?? d.siteNumbers
        numberSelector = try c.decodeIfPresent(String.self, forKey: .numberSelector)
        clickToReveal = try c.decodeIfPresent(Bool.self, forKey: .clickToReveal) ?? d.clickToReveal
        trunk = try c.decodeIfPresent(String.self, forKey: .trunk)
        ringTimeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .ringTimeoutSeconds) ?? d.ringTimeoutSeconds
        reservationTTLSeconds = try c.decodeIfPresent(Int.self, forKey: .reservationTTLSeconds) ?? d.reservationTTLSeconds
        attribution = try c.decodeIfPresent(AttributionModel.self, forKey: .attribution) ?? d.attribution
        record = try c.decodeIfPresent(Bool.self, forKey: .record) ?? d.record
        pools = try c.decodeIfPresent([PoolConfig].self, forKey: .pools) ?? d.pools
        offline = try c.decodeIfPresent([OfflineNumberConfig].self, forKey: .offline) ?? d.offline
        webhooks = try c.decodeIfPresent([WebhookConfig].self, forKey: .webhooks) ?? d.webhooks
        ga4 = try c.decodeIfPresent(GA4Config.self, forKey: .ga4)
        metrica = try c.decodeIfPresent(MetricaConfig.self, forKey: .metrica)
        notify = try c.decodeIfPresent(NotifyConfig.self, forKey: .notify) ?? NotifyConfig()
        cookieDomain = try c.decodeIfPresent(String.self, forKey: .cookieDomain)
        timezone = try c.decodeIfPresent(String.self, forKey: .timezone) ?? d.timezone
        currency = try c.decodeIfPresent(String.self, forKey: .currency) ?? d.currency
        callerNamePrefix = try c.decodeIfPresent(Bool.self, forKey: .callerNamePrefix) ?? d.callerNamePrefix
    }
}

public struct PoolConfig: Codable, Sendable, Equatable {
    public var name: String
    public var regions: [String]
    public var numbers: [String]
    /// Shown when every dynamic number is taken; calls to it measure the pool's shortfall.
    public var `static`: String?
    public init(name: String, regions: [String] = [], numbers: [String], static staticNumber: String?) {
        self.name = name; self.regions = regions; self.numbers = numbers; self.static = staticNumber
    }
    enum CodingKeys: String, CodingKey, CaseIterable { case name, regions, numbers, `static` }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        regions = try c.decodeIfPresent([String].self, forKey: .regions) ?? []
        numbers = try c.decodeIfPresent([String].self, forKey: .numbers) ?? []
        `static` = try c.decodeIfPresent(String.self, forKey: .static)
    }
}

public struct OfflineNumberConfig: Codable, Sendable, Equatable {
    public var number: String
    public var channel: String
    public init(number: String, channel: String) { self.number = number; self.channel = channel }
    enum CodingKeys: String, CodingKey, CaseIterable { case number, channel }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        number = try c.decode(String.self, forKey: .number)
        channel = try c.decode(String.self, forKey: .channel)
    }
}

public struct WebhookConfig: Codable, Sendable, Equatable {
    /// The events CallTrack sends (`events` may name any of them; default all).
    public static let eventTypes = ["call.started", "call.answered", "call.ended", "call.missed", "recording.ready", "sale.recorded"]

    public var url: String
    public var secretEnv: String?
    public var events: [String]
    public init(url: String, secretEnv: String?, events: [String] = WebhookConfig.eventTypes) {
        self.url = url; self.secretEnv = secretEnv; self.events = events
    }
    enum CodingKeys: String, CodingKey, CaseIterable { case url, secretEnv = "secret_env", events }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        url = try c.decode(String.self, forKey: .url)
        secretEnv = try c.decodeIfPresent(String.self, forKey: .secretEnv)
        events = try c.decodeIfPresent([String].self, forKey: .events) ?? Self.eventTypes
    }
}

/// Google Analytics 4's Measurement Protocol for a project's calls.
public struct GA4Config: Codable, Sendable, Equatable {
    public static let collectURL = "https://www.google-analytics.com/mp/collect"
    public var measurementID: String
    public var apiSecretEnv: String
    public var endpoint: String
    enum CodingKeys: String, CodingKey, CaseIterable {
        case measurementID = "measurement_id", apiSecretEnv = "api_secret_env", endpoint
    }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        measurementID = try c.decode(String.self, forKey: .measurementID)
        apiSecretEnv = try c.decode(String.self, forKey: .apiSecretEnv)
        endpoint = try c.decodeIfPresent(String.self, forKey: .endpoint) ?? Self.collectURL
    }
    /// Where the events go, without the secret (the outbox's and the log's name for it).
    public var url: String {
        endpoint + (endpoint.contains("?") ? "&" : "?") + "measurement_id=" + measurementID.percentEncodedUnreserved
    }
}

/// Yandex Metrica's offline calls upload for a project's counter.
public struct MetricaConfig: Codable, Sendable, Equatable {
    public static let apiURL = "https://api-metrika.yandex.net"
    public var counterID: String
    public var tokenEnv: String
    public var endpoint: String
    /// Calls wait this long to go up together: one upload carries every call ended meanwhile.
    public var uploadIntervalSeconds: Double
    enum CodingKeys: String, CodingKey, CaseIterable {
        case counterID = "counter_id", tokenEnv = "token_env", endpoint, uploadIntervalSeconds = "upload_interval_seconds"
    }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        // A counter id is a number; YAML may give it as one.
        if let n = try? c.decode(Int.self, forKey: .counterID) { counterID = String(n) } else {
            counterID = try c.decode(String.self, forKey: .counterID)
        }
        tokenEnv = try c.decode(String.self, forKey: .tokenEnv)
        endpoint = try c.decodeIfPresent(String.self, forKey: .endpoint) ?? Self.apiURL
        uploadIntervalSeconds = try c.decodeIfPresent(Double.self, forKey: .uploadIntervalSeconds) ?? 600
    }
    /// The upload's URL: the outbox's and the log's name for it.
    public var url: String {
        (endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint)
            + "/management/v1/counter/\(counterID)/offline_conversions/upload_calls?client_id_type=CLIENT_ID"
    }
}

/// Who is told about a project's calls.
public struct NotifyConfig: Codable, Sendable, Equatable {
    /// Addresses that get an e-mail per missed call (through `smtp`).
    public var email: [String]
    public init(email: [String] = []) { self.email = email }
    enum CodingKeys: String, CodingKey, CaseIterable { case email }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        email = try c.decodeIfPresent([String].self, forKey: .email) ?? []
    }
}

/// The mail relay: STARTTLS whenever the server offers it, and always before a password is sent;
/// port 465 speaks TLS from the start.
public struct SMTPConfig: Codable, Sendable, Equatable {
    public var host: String
    public var port: Int
    public var username: String?
    public var passwordEnv: String?
    public var from: String
    enum CodingKeys: String, CodingKey, CaseIterable {
        case host, port, username, passwordEnv = "password_env", from
    }
    public init(host: String, port: Int = 25, username: String? = nil, passwordEnv: String? = nil, from: String) {
        self.host = host; self.port = port; self.username = username; self.passwordEnv = passwordEnv; self.from = from
    }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        host = try c.decode(String.self, forKey: .host)
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? 25
        username = try c.decodeIfPresent(String.self, forKey: .username)
        passwordEnv = try c.decodeIfPresent(String.self, forKey: .passwordEnv)
        from = try c.decode(String.self, forKey: .from)
    }
}

/// How the outbox retries deliveries (webhooks).
public struct DeliveryConfig: Codable, Sendable, Equatable {
    /// The first retry waits this long; each next one twice as long (at most an hour).
    public var retryBaseSeconds: Double
    /// A delivery still failing this long after its event is given up (`failed`).
    public var maxAgeHours: Double
    public init(retryBaseSeconds: Double = 10, maxAgeHours: Double = 24) {
        self.retryBaseSeconds = retryBaseSeconds; self.maxAgeHours = maxAgeHours
    }
    enum CodingKeys: String, CodingKey, CaseIterable { case retryBaseSeconds = "retry_base_seconds", maxAgeHours = "max_age_hours" }
    public init(from decoder: Decoder) throws {
        let d = DeliveryConfig()
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        retryBaseSeconds = try c.decodeIfPresent(Double.self, forKey: .retryBaseSeconds) ?? d.retryBaseSeconds
        maxAgeHours = try c.decodeIfPresent(Double.self, forKey: .maxAgeHours) ?? d.maxAgeHours
    }
}

/// Any key of a mapping, to see what it really holds.
private struct AnyKey: CodingKey {
    let stringValue: String
    let intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue; intValue = nil }
    init?(intValue: Int) { stringValue = String(intValue); self.intValue = intValue }
}

extension Decoder {
    /// The keyed container, after refusing any key `Keys` does not name: a misspelt setting must
    /// fail the start, not silently do nothing. The decoding keys are the only schema.
    func strictContainer<Keys: CodingKey & CaseIterable>(keyedBy keys: Keys.Type) throws -> KeyedDecodingContainer<Keys> {
        let known = Keys.allCases.map(\.stringValue)
        for key in try container(keyedBy: AnyKey.self).allKeys where !known.contains(key.stringValue) {
            throw ConfigError(key: ConfigError.path(codingPath + [key]),
                              "unknown key (known keys here: \(known.sorted().joined(separator: ", ")))")
        }
        return try container(keyedBy: keys)
    }
}
