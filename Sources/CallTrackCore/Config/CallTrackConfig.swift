import Foundation

/// The whole configuration, decoded from `config/calltrack.yaml`.
///
/// Secrets are never in this file: keys ending in `_env` name environment variables. Each block
/// lists its keys once (`ConfigSection`): the YAML name, the property (whose initial value is the
/// default) and the rule the value keeps.
public struct CallTrackConfig: ConfigSection, Sendable, Equatable {
    public var sip = SIPConfig()
    public var http = HTTPConfig()
    public var storage = StorageConfig()
    public var admin = AdminConfig()
    public var numbering = NumberingConfig()
    public var recording = RecordingConfig()
    public var tracking = TrackingConfig()
    public var delivery = DeliveryConfig()
    /// The mail relay missed-call e-mails go through (`projects[].notify.email`).
    public var smtp: SMTPConfig?
    public var trunks: [TrunkConfig] = []
    public var projects: [ProjectConfig] = []
    /// This node among several sharing one PostgreSQL (`storage.backend: postgres`).
    public var cluster: ClusterConfig?

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [
            .key("sip", \.sip), .key("http", \.http), .key("storage", \.storage), .key("admin", \.admin),
            .key("numbering", \.numbering), .key("recording", \.recording), .key("tracking", \.tracking),
            .key("delivery", \.delivery), .key("smtp", \.smtp), .key("trunks", \.trunks), .key("projects", \.projects),
            .key("cluster", \.cluster),
        ]
    }
}

public struct SIPConfig: ConfigSection, Sendable, Equatable {
    /// `udp:HOST:PORT` / `tcp:HOST:PORT` entries.
    public var listen: [SIPListenAddress] = [
        .init(transport: .udp, address: .init(host: "127.0.0.1", port: 5060)),
        .init(transport: .tcp, address: .init(host: "127.0.0.1", port: 5060)),
    ]
    /// The address written into SDP and Contact; defaults to the first listen host.
    public var advertisedAddress: String?
    public var rtpPorts = PortRange(min: 20000, max: 29999)
    /// Both legs are hung up when an answered, unheld call carries no RTP for this long.
    public var rtpTimeoutSeconds = 60
    /// On SIGTERM, active calls get this long to finish before CallTrack hangs them up.
    public var drainSeconds = 30
    public var userAgent = "CallTrack"
    /// What a request from an address no trunk admits gets: one stateless 403, or nothing.
    public var untrusted = UntrustedSourcePolicy.reject
    /// Requests per second a source no trunk admits may send; beyond it they are dropped unanswered.
    public var maxRequestsPerSecondPerSource = 20
    /// Whose packets a relay socket may latch to after an offer/answer.
    public var mediaLatching = MediaLatching.signalling
    /// Threads relaying media, each with its own event loop: one per core by default.
    public var relayThreads = ProcessInfo.processInfo.activeProcessorCount
    /// SIP proxies in front of CallTrack (Kamailio): the caller is who their `X-CallTrack-Peer` names.
    public var frontProxies: [CIDR] = []

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [
            .key("listen", \.listen, .that("needs at least one udp:HOST:PORT or tcp:HOST:PORT") { !$0.isEmpty }),
            .key("advertised_address", \.advertisedAddress, .ipAddress), .key("rtp_ports", \.rtpPorts),
            .key("rtp_timeout_seconds", \.rtpTimeoutSeconds, .atLeast(1)),
            .key("drain_seconds", \.drainSeconds, .atLeast(0)), .key("user_agent", \.userAgent),
            .key("untrusted", \.untrusted),
            .key("max_requests_per_second_per_source", \.maxRequestsPerSecondPerSource, .atLeast(1)),
            .key("media_latching", \.mediaLatching), .key("front_proxies", \.frontProxies),
            .key(
                "relay_threads", \.relayThreads,
                .that("must be from 1 to 256 (default: one per core)") { (1...256).contains($0) }),
        ]
    }
}

/// What a SIP request from an address no trunk admits gets (`sip.untrusted`).
public enum UntrustedSourcePolicy: String, Decodable, Sendable {
    /// One stateless 403 per request, never retransmitted.
    case reject
    /// No answer at all: invisible to scanners.
    case drop
}

/// Whose packets a relay socket latches to during its learning window (`sip.media_latching`).
public enum MediaLatching: String, Decodable, Sendable {
    /// A source with the IP of the leg's SDP address or of its SIP peer (the default).
    case signalling
    /// Only the exact address and port of the SDP: no NAT traversal.
    case off
    /// Any source: for carriers whose media comes from addresses their signalling never names.
    case any
}

/// `sip.rtp_ports`: the relay's ports, four a call.
public struct PortRange: ConfigSection, Sendable, Equatable {
    public var min = 0
    public var max = 0

    public init() {}
    public init(min: Int, max: Int) {
        self.min = min
        self.max = max
    }

    public static var keys: [ConfigKey<Self>] { [.required("min", \.min), .required("max", \.max)] }

    public func settle(path: ConfigPath) throws {
        if min < 1024 || max > 65535 || min >= max {
            throw ConfigError(
                key: path.description, "min \(min) and max \(max) must satisfy 1024 <= min < max <= 65535")
        }
        if max - min < 3 { throw ConfigError(key: path.description, "range too small: a call needs 4 ports") }
    }
}

public struct HTTPConfig: ConfigSection, Sendable, Equatable {
    /// `HOST:PORT`.
    public var listen = HostPort(host: "127.0.0.1", port: 8080)
    /// Reservation requests allowed per client address and minute (the snippet sends one a minute per tab).
    public var reservationsPerMinute = 120
    /// Header a trusted reverse proxy sets with the visitor's region, for pools limited to regions.
    public var regionHeader: String?
    /// Reverse proxies (CIDRs) whose `X-Forwarded-For` names the client and whose region header is believed.
    public var trustedProxies: [CIDR] = []
    /// HTTP connections open at once; lowered at start if the file descriptor limit needs it for SIP and RTP.
    public var maxConnections = 1024
    /// A connection with no request in progress is closed after this long.
    public var idleTimeoutSeconds = 30
    /// A request must arrive whole (head and body) within this long of its first byte.
    public var requestTimeoutSeconds = 10
    /// Where people reach CallTrack's HTTP (behind its proxy), for links in e-mails; default `http://` + `listen`.
    public var publicURL: String?

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [
            .key("listen", \.listen), .key("reservations_per_minute", \.reservationsPerMinute, .atLeast(1)),
            .key("region_header", \.regionHeader, .nonEmpty), .key("trusted_proxies", \.trustedProxies),
            .key("max_connections", \.maxConnections, .atLeast(16)),
            .key("idle_timeout_seconds", \.idleTimeoutSeconds, .atLeast(1)),
            .key("request_timeout_seconds", \.requestTimeoutSeconds, .atLeast(1)),
            .key("public_url", \.publicURL, .httpURL),
        ]
    }

    public func settle(path: ConfigPath) throws {
        if regionHeader != nil && trustedProxies.isEmpty {
            throw ConfigError(
                key: path.key("region_header"),
                "is believed only from http.trusted_proxies; list the proxy that sets it")
        }
    }

    /// `public_url` without a trailing slash, or the listen address.
    public var linkBase: String {
        guard let url = publicURL else {
            return "http://\(listen.host.contains(":") ? "[\(listen.host)]" : listen.host):\(listen.port)"
        }
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }
}

public struct StorageConfig: ConfigSection, Sendable, Equatable {
    public enum Backend: String, Decodable, Sendable { case sqlite, postgres }

    /// SQLite on this node's disk (one node), or PostgreSQL shared by several nodes.
    public var backend = Backend.sqlite
    /// The SQLite file, as written in the configuration (nil: the default).
    public var databaseSetting: String?
    public var recordings = "recordings"
    public var postgres = PostgresConfig()

    public var database: String {
        get { databaseSetting ?? "data/calltrack.sqlite" }
        set { databaseSetting = newValue }
    }

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [
            .key("backend", \.backend), .key("database", \.databaseSetting, .nonEmpty),
            .key("recordings", \.recordings, .nonEmpty), .key("postgres", \.postgres),
        ]
    }

    public func settle(path: ConfigPath) throws {
        if backend == .postgres, databaseSetting != nil {
            throw ConfigError(key: path.key("database"), "is the SQLite file; with backend postgres, leave it out")
        }
    }
}

/// How the nodes reach PostgreSQL (`storage.backend: postgres`); the address itself, with its password,
/// is in the environment variable `url_env` names.
public struct PostgresConfig: ConfigSection, Sendable, Equatable {
    /// Holds `postgres://USER:PASSWORD@HOST:PORT/DATABASE`.
    public var urlEnv = "CALLTRACK_DATABASE_URL"
    /// Connections per node.
    public var poolSize = 16
    /// A statement running longer fails (a reservation then answers 503 instead of waiting).
    public var statementTimeoutMs = 2000

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [
            .key("url_env", \.urlEnv, .environmentName), .key("pool_size", \.poolSize, .within(1...256)),
            .key("statement_timeout_ms", \.statementTimeoutMs, .within(100...60_000)),
        ]
    }
}

/// This node among several: its id, how the others reach it, how often it says it is alive and how long
/// a silent node stays counted.
public struct ClusterConfig: ConfigSection, Sendable, Equatable {
    public var nodeID = ""
    /// This node's HTTP address as the other nodes reach it (recordings it holds are fetched there).
    public var advertisedHTTP = ""
    public var heartbeatSeconds = 2
    public var nodeTimeoutSeconds = 10

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [
            .key("node_id", \.nodeID, .matching("[a-z0-9-]{1,32}", "must be 1 to 32 of a-z, 0-9 and -")),
            .key("advertised_http", \.advertisedHTTP, .httpURL),
            .key("heartbeat_seconds", \.heartbeatSeconds, .within(1...60)),
            .key("node_timeout_seconds", \.nodeTimeoutSeconds, .within(2...600)),
        ]
    }

    public func settle(path: ConfigPath) throws {
        if nodeID.isEmpty {
            throw ConfigError(key: path.key("node_id"), "is required: each node needs an id of its own")
        }
        if advertisedHTTP.isEmpty {
            throw ConfigError(key: path.key("advertised_http"), "is required: how the other nodes reach this one")
        }
        if nodeTimeoutSeconds <= heartbeatSeconds {
            throw ConfigError(key: path.key("node_timeout_seconds"), "must be longer than heartbeat_seconds")
        }
    }
}

public struct AdminConfig: ConfigSection, Sendable, Equatable {
    /// Name of the environment variable holding comma-separated admin tokens.
    public var tokensEnv = "CALLTRACK_ADMIN_TOKENS"

    public init() {}

    public static var keys: [ConfigKey<Self>] { [.key("tokens_env", \.tokensEnv, .environmentName)] }
}

/// How dialled numbers without a country code are read (defaults: Russia).
public struct NumberingConfig: ConfigSection, Sendable, Equatable {
    public var countryCode = "7"
    /// The domestic trunk prefix that replaces the country code (`8` in Russia).
    public var trunkPrefix = "8"
    /// Digits in a national number, without trunk prefix or country code.
    public var nationalNumberLength = 10

    public init() {}
    public init(countryCode: String, trunkPrefix: String, nationalNumberLength: Int) {
        self.countryCode = countryCode
        self.trunkPrefix = trunkPrefix
        self.nationalNumberLength = nationalNumberLength
    }

    public static var keys: [ConfigKey<Self>] {
        [
            .key("country_code", \.countryCode, .matching("[0-9]+", "must be digits, like \"7\"")),
            .key("trunk_prefix", \.trunkPrefix, .matching("[0-9]*", "must be digits, like \"8\"")),
            .key("national_number_length", \.nationalNumberLength, .within(4...14)),
        ]
    }
}

/// Recording policy for every project with `record: true`.
public struct RecordingConfig: ConfigSection, Sendable, Equatable {
    /// Recordings of calls that ended longer ago than this are deleted; 0 keeps them forever.
    public var retentionDays = 0
    /// How often the retention sweeper looks for old recordings.
    public var sweepIntervalSeconds = 3600

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [
            .key("retention_days", \.retentionDays, .that("must be 0 (keep forever) or more days") { $0 >= 0 }),
            .key("sweep_interval_seconds", \.sweepIntervalSeconds, .atLeast(1)),
        ]
    }
}

/// Limits on what visitors can hold and how long their visits are kept.
public struct TrackingConfig: ConfigSection, Sendable, Equatable {
    /// Visits (and finished reservations) older than this many days are deleted.
    public var visitRetentionDays = 90
    /// How often the visit retention sweeper runs.
    public var sweepIntervalSeconds = 3600
    /// Live dynamic numbers one client address may hold per project; past it, the static number.
    public var maxNumbersPerAddress = 5

    public init() {}
    public init(visitRetentionDays: Int, sweepIntervalSeconds: Int, maxNumbersPerAddress: Int) {
        self.visitRetentionDays = visitRetentionDays
        self.sweepIntervalSeconds = sweepIntervalSeconds
        self.maxNumbersPerAddress = maxNumbersPerAddress
    }

    public static var keys: [ConfigKey<Self>] {
        [
            .key("visit_retention_days", \.visitRetentionDays, .atLeast(1)),
            .key("sweep_interval_seconds", \.sweepIntervalSeconds, .atLeast(1)),
            .key("max_numbers_per_address", \.maxNumbersPerAddress, .atLeast(1)),
        ]
    }
}

/// How the outbox retries deliveries.
public struct DeliveryConfig: ConfigSection, Sendable, Equatable {
    /// The first retry waits this long; each next one twice as long (at most an hour).
    public var retryBaseSeconds = 10.0
    /// A delivery still failing this long after its event is given up (`failed`).
    public var maxAgeHours = 24.0
    /// While an endpoint fails, one delivery probes it at most this long apart; the rest wait.
    public var probeMaxSeconds = 15.0

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [
            .key("retry_base_seconds", \.retryBaseSeconds, .within(0.1...3600)),
            .key("probe_max_seconds", \.probeMaxSeconds, .within(1...3600)),
            .key(
                "max_age_hours", \.maxAgeHours,
                .that("must be above 0 and at most 720 (30 days)") { $0 > 0 && $0 <= 720 }),
        ]
    }
}

/// The mail relay: STARTTLS whenever the server offers it, and always before a password is sent;
/// port 465 speaks TLS from the start.
public struct SMTPConfig: ConfigSection, Sendable, Equatable {
    public var host = ""
    public var port = 25
    public var username, passwordEnv: String?
    public var from = ""

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [
            .required(
                "host", \.host,
                .that("is not a host name or address") {
                    !$0.isEmpty && !$0.contains { $0.isWhitespace || $0 == "/" || $0 == "@" }
                }), .key("port", \.port, .within(1...65535)),
            .key(
                "username", \.username, .that("must not be empty") { !$0.isEmpty && !$0.contains(where: \.isNewline) }),
            .key("password_env", \.passwordEnv, .environmentName), .required("from", \.from, .emailAddress),
        ]
    }

    public func settle(path: ConfigPath) throws {
        switch (username, passwordEnv) {
        case (nil, _?): throw ConfigError(key: path.key("password_env"), "needs smtp.username")
        case (_?, nil):
            throw ConfigError(key: path.key("password_env"), "must name the environment variable holding the password")
        default: break
        }
    }
}
