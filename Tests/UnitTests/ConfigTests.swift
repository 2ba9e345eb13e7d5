import CallTrackCore
import Foundation
import Testing

@Suite("Configuration") struct ConfigTests {
    private func error(_ yaml: String) -> ConfigError? {
        do {
            _ = try ConfigLoader.parse(yaml: yaml)
            return nil
        } catch let e as ConfigError { return e } catch { return nil }
    }

    @Test("The shipped default config is valid and loopback-only") func defaultConfig() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let config = try ConfigLoader.load(path: root.appendingPathComponent("config/calltrack.yaml").path)
        #expect(config.sip.listen.allSatisfy { $0.address.host == "127.0.0.1" })
        #expect(config.http.listen.host == "127.0.0.1")
        #expect(config.projects.first?.key == "demo")
        #expect(config.trunks.first?.allow.map(\.description) == ["127.0.0.0/8"])
    }

    @Test("Defaults apply to an empty file") func emptyFile() throws {
        let config = try ConfigLoader.parse(yaml: "")
        #expect(config.sip.rtpPorts == PortRange(min: 20000, max: 29999))
        #expect(config.admin.tokensEnv == "CALLTRACK_ADMIN_TOKENS")
        #expect(config.storage.database == "data/calltrack.sqlite")
        #expect(config.sip.untrusted == .reject && config.sip.maxRequestsPerSecondPerSource == 20)
        #expect(config.sip.mediaLatching == .signalling)
        #expect(config.sip.relayThreads == ProcessInfo.processInfo.activeProcessorCount && config.sip.relayThreads >= 1)
        #expect(config.smtp == nil && config.http.publicURL == nil && config.http.linkBase == "http://127.0.0.1:8080")
        #expect(
            config.http.maxConnections == 1024 && config.http.idleTimeoutSeconds == 30
                && config.http.requestTimeoutSeconds == 10)
        #expect(
            config.tracking
                == TrackingConfig(visitRetentionDays: 90, sweepIntervalSeconds: 3600, maxNumbersPerAddress: 5))
    }

    @Test(
        "Errors name the key",
        arguments: [
            ("sip:\n  listen: [udp:127.0.0.1:5060]\n  lisen: x\n", "sip.lisen"),
            ("sip:\n  listen: [sctp:127.0.0.1:5060]\n", "sip.listen[0]"),
            ("sip:\n  advertised_address: example.com\n", "sip.advertised_address"),
            ("sip:\n  rtp_ports: {min: 20000}\n", "sip.rtp_ports.max"),
            ("sip:\n  rtp_ports: {min: 30000, max: 20000}\n", "sip.rtp_ports"),
            ("sip:\n  rtp_timeout_seconds: soon\n", "sip.rtp_timeout_seconds"),
            ("http:\n  listen: 8080\n", "http.listen"), ("admin:\n  tokens_env: \"my tokens\"\n", "admin.tokens_env"),
            ("trunks:\n  - allow: [127.0.0.1]\n", "trunks[0].name"),
            ("trunks:\n  - name: t\n    allow: [300.1.1.1/8]\n", "trunks[0].allow[0]"),
            ("trunks:\n  - name: t\n    proxy: http://x\n", "trunks[0].proxy"),
            ("sip:\n  untrusted: ignore\n", "sip.untrusted"), ("storage:\n  backend: mysql\n", "storage.backend"),
            ("storage:\n  backend: postgres\n  database: x.sqlite\n", "storage.database"),
            ("storage:\n  backend: postgres\n", "cluster"),
            ("cluster: {node_id: a, advertised_http: \"http://10.0.0.1:8080\"}\n", "cluster"),
            ("storage:\n  postgres: {url_env: \"a b\"}\n", "storage.postgres.url_env"),
            ("storage:\n  postgres: {pool_size: 0}\n", "storage.postgres.pool_size"),
            ("cluster: {node_id: Node_A, advertised_http: \"http://10.0.0.1:8080\"}\n", "cluster.node_id"),
            ("cluster: {advertised_http: \"http://10.0.0.1:8080\"}\n", "cluster.node_id"),
            ("cluster: {node_id: a}\n", "cluster.advertised_http"),
            ("cluster: {node_id: a, advertised_http: \"sip:x\"}\n", "cluster.advertised_http"),
            (
                "cluster: {node_id: a, advertised_http: \"http://10.0.0.1:8080\", heartbeat_seconds: 5,"
                    + " node_timeout_seconds: 5}\n", "cluster.node_timeout_seconds"
            ), ("sip:\n  media_latching: sometimes\n", "sip.media_latching"),
            ("sip:\n  relay_threads: 0\n", "sip.relay_threads"),
            ("sip:\n  max_requests_per_second_per_source: 0\n", "sip.max_requests_per_second_per_source"),
            ("http:\n  trusted_proxies: [proxy.example]\n", "http.trusted_proxies[0]"),
            ("http:\n  region_header: X-Region\n", "http.region_header"),
            ("http:\n  max_connections: 2\n", "http.max_connections"),
            ("http:\n  idle_timeout_seconds: 0\n", "http.idle_timeout_seconds"),
            ("tracking:\n  max_numbers_per_address: 0\n", "tracking.max_numbers_per_address"),
            ("tracking:\n  visit_retention_days: 0\n", "tracking.visit_retention_days"),
            ("delivery:\n  probe_max_seconds: 0\n", "delivery.probe_max_seconds"),
            ("trunks:\n  - name: t\n  - name: t\n", "trunks[1].name"),
            ("trunks:\n  - name: t\n    password_env: P\n", "trunks[0].username"),
            ("projects:\n  - key: a\n", "projects[0].forward_to"),
            ("projects:\n  - key: a\n    forward_to: sip:1@h\n    trunk: nope\n", "projects[0].trunk"),
            ("projects:\n  - key: a b\n    forward_to: sip:1@h\n", "projects[0].key"),
            ("projects:\n  - key: a\n    forward_to: sip:1@h\n    attribution: random\n", "projects[0].attribution"),
            ("projects:\n  - key: a\n    forward_to: sip:1@h\n    origins: [example.com]\n", "projects[0].origins[0]"),
            (
                "projects:\n  - key: a\n    forward_to: sip:1@h\n    pools: [{name: p, numbers: [\"+74990000001\"]}]\n",
                "projects[0].pools[0].static"
            ),
            (
                "projects:\n  - key: a\n    forward_to: sip:1@h\n    pools: [{name: p, numbers: [\"call me\"], static: \"+74990000000\"}]\n",
                "projects[0].pools[0].numbers[0]"
            ),
            (
                "projects:\n  - key: a\n    forward_to: sip:1@h\n    pools: [{name: p, numbers: [\"+74990000001\", \"84990000001\"], static: \"+74990000000\"}]\n",
                "projects[0].pools[0].numbers[1]"
            ),
            (
                "projects:\n  - key: a\n    forward_to: sip:1@h\n    offline: [{number: \"+74990000001\"}]\n",
                "projects[0].offline[0].channel"
            ), ("projects:\n  - key: a\n    forward_to: sip:1@h\n    colour: blue\n", "projects[0].colour"),
            (
                "projects:\n  - key: a\n    forward_to: sip:1@h\n    ga4: {measurement_id: UA-1, api_secret_env: S}\n",
                "projects[0].ga4.measurement_id"
            ),
            (
                "projects:\n  - key: a\n    forward_to: sip:1@h\n    metrica: {counter_id: 12ab, token_env: T}\n",
                "projects[0].metrica.counter_id"
            ),
            (
                "projects:\n  - key: a\n    forward_to: sip:1@h\n    metrica: {counter_id: 1}\n",
                "projects[0].metrica.token_env"
            ),
            (
                "projects:\n  - key: a\n    forward_to: sip:1@h\n    metrica: {counter_id: 1, token_env: T, endpoint: ftp://x}\n",
                "projects[0].metrica.endpoint"
            ),
            (
                "projects:\n  - key: a\n    forward_to: sip:1@h\n    metrica: {counter_id: 1, token_env: T, upload_interval_seconds: 0}\n",
                "projects[0].metrica.upload_interval_seconds"
            ),
            (
                "projects:\n  - key: a\n    forward_to: sip:1@h\n    notify: {email: [a@b.c]}\n",
                "projects[0].notify.email"
            ),
            (
                "smtp: {host: 127.0.0.1, from: a@b.c}\nprojects:\n  - key: a\n    forward_to: sip:1@h\n    notify: {email: [\"a b@c\"]}\n",
                "projects[0].notify.email[0]"
            ), ("smtp: {host: 127.0.0.1, from: nobody}\n", "smtp.from"),
            ("smtp: {host: 127.0.0.1, port: 0, from: a@b.c}\n", "smtp.port"),
            ("smtp: {host: \"mail host\", from: a@b.c}\n", "smtp.host"),
            ("smtp: {host: 127.0.0.1, from: a@b.c, username: u}\n", "smtp.password_env"),
            ("smtp: {host: 127.0.0.1, from: a@b.c, password_env: P}\n", "smtp.password_env"),
            ("http:\n  public_url: calls.example\n", "http.public_url"),
            (
                "projects:\n  - key: a\n    forward_to: sip:1@h\n    cookie_domain: \"shop example\"\n",
                "projects[0].cookie_domain"
            ),
        ]) func namesKey(yaml: String, key: String)
    {
        let e = error(yaml)
        #expect(e?.key == key, "got \(String(describing: e))")
    }

    @Test("A number in two projects is refused, in any of its shapes") func numberInTwoProjects() {
        let e = error(
            """
            projects:
              - key: a
                forward_to: sip:1@h
                pools: [{name: p, numbers: ["+74990000001"], static: "+74990000000"}]
              - key: b
                forward_to: sip:1@h
                offline: [{number: "74990000001", channel: billboard}]
            """)
        #expect(e?.key == "projects[1].offline[0].number")
        #expect(e?.problem.contains("projects[0].pools[0].numbers[0]") == true)
    }
}

@Suite("Phone numbers") struct PhoneNumberTests {
    let ru = NumberingConfig()

    @Test(
        "Russian DIDs in every shape normalise to one E.164 number",
        arguments: [
            "+74990000001", "74990000001", "84990000001", "4990000001", "+7 (499) 000-00-01", "8 499 000 00 01",
            "0074990000001", "+74990000001;npdi",
        ]) func russian(raw: String)
    { #expect(PhoneNumber.normalise(raw, numbering: ru)?.e164 == "+74990000001") }

    @Test("Non-numbers are refused", arguments: ["", "abc", "+7499x", "12", "sip:1@h"]) func refused(raw: String) {
        #expect(PhoneNumber.normalise(raw, numbering: ru) == nil)
    }

    @Test("Another country's numbering") func otherCountry() {
        let uk = NumberingConfig(countryCode: "44", trunkPrefix: "0", nationalNumberLength: 10)
        #expect(PhoneNumber.normalise("020 7946 0018", numbering: uk)?.e164 == "+442079460018")
        #expect(PhoneNumber.normalise("+442079460018", numbering: uk)?.e164 == "+442079460018")
    }
}

@Suite("Addresses") struct AddressTests {
    @Test func cidrContains() throws {
        let block = try #require(CIDR("192.0.2.0/24"))
        #expect(block.contains(IPAddress("192.0.2.200")!))
        #expect(!block.contains(IPAddress("192.0.3.1")!))
        #expect(block.contains(IPAddress("::ffff:192.0.2.7")!))
        let host = try #require(CIDR("127.0.0.1"))
        #expect(host.contains(IPAddress("127.0.0.1")!))
        #expect(!host.contains(IPAddress("127.0.0.2")!))
        let v6 = try #require(CIDR("2001:db8::/32"))
        #expect(v6.contains(IPAddress("2001:db8:1::5")!))
        #expect(!v6.contains(IPAddress("2001:db9::1")!))
        #expect(CIDR("10.0.0.0/33") == nil)
        #expect(CIDR("0.0.0.0/0")!.contains(IPAddress("8.8.8.8")!))
    }

    @Test func sipURIs() {
        #expect(SIPURI("sip:+74951234567@192.0.2.10:5070")?.port == 5070)
        #expect(SIPURI("sip:trunk.example.com;transport=tcp")?.host == "trunk.example.com")
        #expect(SIPURI("sip:[2001:db8::1]:5060")?.host == "2001:db8::1")
        #expect(SIPURI("http://x") == nil)
        #expect(SIPURI("sip:") == nil)
        #expect(SIPURI("sip:a@b:99999") == nil)
    }

    @Test func hex() {
        #expect(Hex.fixed(0) == "0000000000000000" && Hex.fixed(UInt64.max) == "ffffffffffffffff")
        #expect(Hex.fixed(0xabc, width: 4) == "0abc" && Hex.fixed(0x12345, width: 4) == "2345")
        #expect(Hex.bytes([0, 15, 16, 255]) == "000f10ff")
        let token = Hex.random(words: 2)
        #expect(token.count == 32 && token.allSatisfy(\.isHexDigit) && token != Hex.random(words: 2))
        #expect(IPAddress("2001:db8:1:2:3:4:5:6")?.limitKey == "20010db800010002::/64")
    }

    @Test("/metrics names a delivery endpoint by scheme, host and port only: no path, query, user or e-mail address")
    func endpointLabels() {
        #expect(
            Telemetry.endpointLabel("https://crm.example.com/hooks/T0/B0/secret?token=x") == "https://crm.example.com")
        #expect(Telemetry.endpointLabel("https://user:pw@crm.example.com:8443/hook") == "https://crm.example.com:8443")
        #expect(Telemetry.endpointLabel("http://127.0.0.1:9/hook") == "http://127.0.0.1:9")
        #expect(Telemetry.endpointLabel("http://[2001:db8::1]:8080/hook") == "http://[2001:db8::1]:8080")
        #expect(Telemetry.endpointLabel("mailto:sales@shop.test,boss@shop.test") == "mailto")
        #expect(Telemetry.endpointLabel("not a url") == "other")
    }

    @Test func callIDs() {
        let a = CallID.next(), b = CallID.next()
        #expect(a < b)
        #expect(CallID(a.rawValue) == a)
        #expect(CallID("../../etc/passwd") == nil)
        #expect(CallID("0123456789ABCDEF012345") == nil)
    }
}
