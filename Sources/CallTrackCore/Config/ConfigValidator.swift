import Foundation

/// Checks what YAML decoding cannot: addresses, URIs, numbers, cross references.
struct ConfigValidator {
    let config: CallTrackConfig

    func validate() throws {
        try validateSIP()
        if config.http.reservationsPerMinute < 1 {
            throw ConfigError(key: "http.reservations_per_minute", "must be at least 1")
        }
        if config.http.regionHeader != nil && config.http.trustedProxies.isEmpty {
            throw ConfigError(key: "http.region_header", "is believed only from http.trusted_proxies; list the proxy that sets it")
        }
        if config.http.maxConnections < 16 { throw ConfigError(key: "http.max_connections", "must be at least 16") }
        if config.http.idleTimeoutSeconds < 1 { throw ConfigError(key: "http.idle_timeout_seconds", "must be at least 1") }
        if config.http.requestTimeoutSeconds < 1 { throw ConfigError(key: "http.request_timeout_seconds", "must be at least 1") }
        if config.storage.database.isEmpty { throw ConfigError(key: "storage.database", "must not be empty") }
        if config.storage.recordings.isEmpty { throw ConfigError(key: "storage.recordings", "must not be empty") }
        if !Self.isEnvName(config.admin.tokensEnv) {
            throw ConfigError(key: "admin.tokens_env", "must be an environment variable name, not \"\(config.admin.tokensEnv)\"")
        }
        let n = config.numbering
        if n.countryCode.isEmpty || !n.countryCode.allSatisfy(\.isASCIIDigit) {
            throw ConfigError(key: "numbering.country_code", "must be digits, like \"7\"")
        }
        if !n.trunkPrefix.allSatisfy(\.isASCIIDigit) {
            throw ConfigError(key: "numbering.trunk_prefix", "must be digits, like \"8\"")
        }
        if !(4...14).contains(n.nationalNumberLength) {
            throw ConfigError(key: "numbering.national_number_length", "must be between 4 and 14")
        }
        if config.recording.retentionDays < 0 {
            throw ConfigError(key: "recording.retention_days", "must be 0 (keep forever) or more days")
        }
        if config.recording.sweepIntervalSeconds < 1 {
            throw ConfigError(key: "recording.sweep_interval_seconds", "must be at least 1")
        }
        if config.tracking.visitRetentionDays < 1 {
            throw ConfigError(key: "tracking.visit_retention_days", "must be at least 1")
        }
        if config.tracking.sweepIntervalSeconds < 1 {
            throw ConfigError(key: "tracking.sweep_interval_seconds", "must be at least 1")
        }
        if config.tracking.maxNumbersPerAddress < 1 {
            throw ConfigError(key: "tracking.max_numbers_per_address", "must be at least 1")
        }
        if !(config.delivery.retryBaseSeconds >= 0.1 && config.delivery.retryBaseSeconds <= 3600) {
            throw ConfigError(key: "delivery.retry_base_seconds", "must be from 0.1 to 3600")
        }
        if !(config.delivery.maxAgeHours > 0 && config.delivery.maxAgeHours <= 24 * 30) {
            throw ConfigError(key: "delivery.max_age_hours", "must be above 0 and at most 720 (30 days)")
        }
        if let url = config.http.publicURL, !Self.isHTTPURL(url) {
            throw ConfigError(key: "http.public_url", "\"\(url)\" is not an http(s) URL")
        }
        try validateSMTP()
        try validateTrunks()
        try validateProjects()
    }

    private func validateSMTP() throws {
        let notified = config.projects.firstIndex { !$0.notify.email.isEmpty }
        guard let smtp = config.smtp else {
            if let i = notified { throw ConfigError(key: "projects[\(i)].notify.email", "needs an smtp block to send through") }
            return
        }
        if smtp.host.isEmpty || smtp.host.contains(where: { $0.isWhitespace || $0 == "/" || $0 == "@" }) {
            throw ConfigError(key: "smtp.host", "\"\(smtp.host)\" is not a host name or address")
        }
        if !(1...65535).contains(smtp.port) { throw ConfigError(key: "smtp.port", "must be from 1 to 65535") }
        if !Self.isEmailAddress(smtp.from) { throw ConfigError(key: "smtp.from", "\"\(smtp.from)\" is not an e-mail address") }
        if let user = smtp.username, user.isEmpty || user.contains(where: { $0.isNewline }) {
            throw ConfigError(key: "smtp.username", "must not be empty")
        }
        switch (smtp.username, smtp.passwordEnv) {
        case (nil, _?): throw ConfigError(key: "smtp.password_env", "needs smtp.username")
        case (_?, nil): throw ConfigError(key: "smtp.password_env", "must name the environment variable holding the password")
        case (_, let env?) where !Self.isEnvName(env):
            throw ConfigError(key: "smtp.password_env", "must name the environment variable holding the password")
        default: break
        }
    }

    /// A plain `local@domain` address: nothing that could end a header or start another.
    static func isEmailAddress(_ s: String) -> Bool {
        s.count <= 254 && s.range(of: "^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+$", options: .regularExpression) != nil
    }

    static func isHTTPURL(_ s: String) -> Bool {
        guard let url = URL(string: s), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else { return false }
        return true
    }

    private func validateSIP() throws {
        if !(1...256).contains(config.sip.relayThreads) {
            throw ConfigError(key: "sip.relay_threads", "must be from 1 to 256 (default: one per core)")
        }
        if config.sip.listen.isEmpty { throw ConfigError(key: "sip.listen", "needs at least one udp:HOST:PORT or tcp:HOST:PORT") }
        if let adv = config.sip.advertisedAddress, IPAddress(adv) == nil {
            throw ConfigError(key: "sip.advertised_address", "must be an IP address, not \"\(adv)\"")
        }
        let r = config.sip.rtpPorts
        if r.min < 1024 || r.max > 65535 || r.min >= r.max {
            throw ConfigError(key: "sip.rtp_ports", "min \(r.min) and max \(r.max) must satisfy 1024 <= min < max <= 65535")
        }
        if r.max - r.min < 3 { throw ConfigError(key: "sip.rtp_ports", "range too small: a call needs 4 ports") }
        if config.sip.rtpTimeoutSeconds < 1 { throw ConfigError(key: "sip.rtp_timeout_seconds", "must be at least 1") }
        if config.sip.drainSeconds < 0 { throw ConfigError(key: "sip.drain_seconds", "must not be negative") }
        if config.sip.maxRequestsPerSecondPerSource < 1 {
            throw ConfigError(key: "sip.max_requests_per_second_per_source", "must be at least 1")
        }
    }

    private func validateTrunks() throws {
        var names = Set<String>()
        for (i, trunk) in config.trunks.enumerated() {
            let key = "trunks[\(i)]"
            if trunk.name.isEmpty { throw ConfigError(key: "\(key).name", "must not be empty") }
            if !names.insert(trunk.name).inserted {
                throw ConfigError(key: "\(key).name", "trunk \"\(trunk.name)\" is defined twice")
            }
            if let proxy = trunk.proxy, SIPURI(proxy) == nil {
                throw ConfigError(key: "\(key).proxy", "\"\(proxy)\" is not a SIP URI like sip:192.0.2.10:5060")
            }
            if let env = trunk.passwordEnv, !Self.isEnvName(env) {
                throw ConfigError(key: "\(key).password_env", "must be an environment variable name")
            }
            if trunk.passwordEnv != nil && trunk.username == nil {
                throw ConfigError(key: "\(key).username", "is required when password_env is set")
            }
            if trunk.register && (trunk.proxy == nil || trunk.username == nil) {
                throw ConfigError(key: "\(key).register", "needs proxy and username")
            }
        }
    }

    private func validateProjects() throws {
        var keys = Set<String>()
        let trunkNames = Set(config.trunks.map(\.name))
        for (i, p) in config.projects.enumerated() {
            let key = "projects[\(i)]"
            if p.key.isEmpty || !p.key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
                throw ConfigError(key: "\(key).key", "\"\(p.key)\" must be letters, digits, - or _")
            }
            if !keys.insert(p.key).inserted { throw ConfigError(key: "\(key).key", "project \"\(p.key)\" is defined twice") }
            if SIPURI(p.forwardTo) == nil {
                throw ConfigError(key: "\(key).forward_to", "\"\(p.forwardTo)\" is not a SIP URI like sip:+74951234567@192.0.2.10")
            }
            if let t = p.trunk, !trunkNames.contains(t) {
                throw ConfigError(key: "\(key).trunk", "no trunk named \"\(t)\" (trunks: \(trunkNames.sorted().joined(separator: ", ")))")
            }
            if !(1...600).contains(p.ringTimeoutSeconds) {
                throw ConfigError(key: "\(key).ring_timeout_seconds", "must be between 1 and 600")
            }
            if TimeZone(identifier: p.timezone) == nil {
                throw ConfigError(key: "\(key).timezone", "\"\(p.timezone)\" is not an IANA time zone like Europe/Moscow")
            }
            if p.currency.count != 3 || !p.currency.allSatisfy({ $0.isASCII && $0.isUppercase }) {
                throw ConfigError(key: "\(key).currency", "\"\(p.currency)\" is not an ISO 4217 code like RUB")
            }
            if !(10...86400).contains(p.reservationTTLSeconds) {
                throw ConfigError(key: "\(key).reservation_ttl_seconds", "must be between 10 and 86400")
            }
            for (j, origin) in p.origins.enumerated() {
                guard let url = URL(string: origin), let scheme = url.scheme, ["http", "https"].contains(scheme),
                      url.host != nil, url.path.isEmpty || url.path == "/" else {
                    throw ConfigError(key: "\(key).origins[\(j)]", "\"\(origin)\" is not an origin like https://example.com")
                }
            }
            for (j, n) in p.siteNumbers.enumerated() where PhoneNumber.normalise(n, numbering: config.numbering) == nil {
                throw ConfigError(key: "\(key).site_numbers[\(j)]", "\"\(n)\" is not a phone number")
            }
            var poolNames = Set<String>()
            for (j, pool) in p.pools.enumerated() {
                let pk = "\(key).pools[\(j)]"
                if !poolNames.insert(pool.name).inserted { throw ConfigError(key: "\(pk).name", "pool \"\(pool.name)\" is defined twice") }
                if pool.numbers.isEmpty { throw ConfigError(key: "\(pk).numbers", "a pool needs at least one number") }
                if pool.static == nil {
                    throw ConfigError(key: "\(pk).static", "is required: the number shown when every pool number is taken")
                }
            }
            for (j, o) in p.offline.enumerated() where o.channel.isEmpty {
                throw ConfigError(key: "\(key).offline[\(j)].channel", "must not be empty")
            }
            if let g = p.ga4 {
                guard g.measurementID.range(of: "^G-[A-Z0-9]{4,20}$", options: .regularExpression) != nil else {
                    throw ConfigError(key: "\(key).ga4.measurement_id", "must be a GA4 measurement id like G-ABC123XYZ")
                }
                guard Self.isEnvName(g.apiSecretEnv) else {
                    throw ConfigError(key: "\(key).ga4.api_secret_env", "must name the environment variable holding the API secret")
                }
                guard Self.isHTTPURL(g.endpoint) else {
                    throw ConfigError(key: "\(key).ga4.endpoint", "\"\(g.endpoint)\" is not an http(s) URL")
                }
            }
            if let m = p.metrica {
                guard !m.counterID.isEmpty, m.counterID.count <= 20, m.counterID.allSatisfy(\.isASCIIDigit) else {
                    throw ConfigError(key: "\(key).metrica.counter_id", "must be the counter's number, like 12345678")
                }
                guard Self.isEnvName(m.tokenEnv) else {
                    throw ConfigError(key: "\(key).metrica.token_env", "must name the environment variable holding the OAuth token")
                }
                guard Self.isHTTPURL(m.endpoint), !m.endpoint.contains("?") else {
                    throw ConfigError(key: "\(key).metrica.endpoint", "\"\(m.endpoint)\" is not an http(s) URL without a query")
                }
                guard (1...86400).contains(m.uploadIntervalSeconds) else {
                    throw ConfigError(key: "\(key).metrica.upload_interval_seconds", "must be from 1 to 86400")
                }
            }
            if let domain = p.cookieDomain {
                let bare = domain.hasPrefix(".") ? String(domain.dropFirst()) : domain
                guard bare.range(of: "^([a-z0-9-]+\\.)+[a-z0-9-]+$", options: [.regularExpression, .caseInsensitive]) != nil else {
                    throw ConfigError(key: "\(key).cookie_domain", "\"\(domain)\" is not a domain like .shop.example")
                }
            }
            if p.notify.email.count > 20 { throw ConfigError(key: "\(key).notify.email", "takes at most 20 addresses") }
            for (j, address) in p.notify.email.enumerated() where !Self.isEmailAddress(address) {
                throw ConfigError(key: "\(key).notify.email[\(j)]", "\"\(address)\" is not an e-mail address")
            }
            for (j, w) in p.webhooks.enumerated() {
                guard Self.isHTTPURL(w.url) else {
                    throw ConfigError(key: "\(key).webhooks[\(j)].url", "\"\(w.url)\" is not an http(s) URL")
                }
                guard let env = w.secretEnv, Self.isEnvName(env) else {
                    throw ConfigError(key: "\(key).webhooks[\(j)].secret_env",
                                      "must name the environment variable holding the signing secret")
                }
                for (k, event) in w.events.enumerated() where !WebhookConfig.eventTypes.contains(event) {
                    throw ConfigError(key: "\(key).webhooks[\(j)].events[\(k)]",
                                      "\"\(event)\" is not an event; events are \(WebhookConfig.eventTypes.joined(separator: ", "))")
                }
            }
        }
        // Every tracking number a phone number, and each in one place only.
        if let problem = NumberPlan(config: config).problem { throw problem }
    }

    static func isEnvName(_ s: String) -> Bool {
        guard let first = s.first, first == "_" || (first.isASCII && first.isLetter) else { return false }
        return s.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }
}
