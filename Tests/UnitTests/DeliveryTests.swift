import AsyncHTTPClient
import CallTrackCore
import Crypto
import Foundation
import Testing

@testable import Delivery
@testable import Storage

/// What each delivery channel sends, and when a failed delivery goes again: pure, no network.
@Suite("Delivery channels and backoff") struct DeliveryTests {
    static let created = Date(timeIntervalSince1970: 1_795_132_800)

    static func entry(_ event: DeliveryEvent, project: String = "shop", attempts: Int = 0, createdAt: Date = created)
        -> OutboxEntry
    {
        OutboxEntry(
            id: "evt_" + String(repeating: "a", count: 32), project: project, endpoint: "https://crm.test/hook",
            event: event, callID: CallID("0123456789abcdef012345"), dealID: nil, createdAt: createdAt, status: .pending,
            attempts: attempts, nextAttemptAt: nil, lastResult: nil, body: nil)
    }

    static func call(gaClientID: String? = "123.456", name: String? = nil) -> CallRecord {
        let a = Attribution(
            kind: .dynamic, poolName: "main", clientID: "v1", source: "google", medium: "cpc", campaign: "tables",
            keyword: "oak", gaClientID: gaClientID)
        let start = CallStart(
            id: CallID("0123456789abcdef012345")!, projectKey: "shop", trunk: "carrier", didDialled: "84990000001",
            did: "+74990000001", caller: "+79161234567", callerName: name, forwardTo: "sip:1@127.0.0.1", sipCallID: "x",
            startedAt: created, attribution: a)
        return CallRecord(
            start: start, ringingAt: nil, answeredAt: created + 5, endedAt: created + 65, status: .answered,
            missedReason: nil, sipCode: 200, hangupBy: .caller, endReason: "caller_bye", callerToCallee: .init(),
            calleeToCaller: .init(), interrupted: false, firstTime: true, recording: nil)
    }

    @Test("Backoff: the base after the first failure, doubling, at most an hour apart, given up past the maximum age")
    func backoff() {
        let config = DeliveryConfig()  // 10 s base, 24 h
        let now = Self.created + 1
        func wait(_ attempts: Int) -> Double? {
            OutboxSender.nextAttempt(after: Self.entry(.callEnded, attempts: attempts), now: now, config: config)?
                .timeIntervalSince(now)
        }
        #expect(wait(0) == 10 && wait(1) == 20 && wait(2) == 40 && wait(8) == 2560)
        #expect(wait(9) == 3600 && wait(20) == 3600 && wait(500) == 3600, "at most an hour apart")
        let old = Self.entry(.callEnded, attempts: 3, createdAt: now - 24 * 3600 + 60)
        #expect(
            OutboxSender.nextAttempt(after: old, now: now, config: config) == nil,
            "the next try would be past 24 h: given up")
    }

    @Test(
        "A webhook is the envelope around the call's JSON, keys in order, text escaped, and signed with the project's secret"
    ) func webhook() throws {
        var entry = Self.entry(.callAnswered)
        entry = OutboxEntry(
            id: entry.id, project: "sh\"op\n", endpoint: entry.endpoint, event: .callAnswered, callID: entry.callID,
            dealID: nil, createdAt: entry.createdAt, status: .pending, attempts: 0, nextAttemptAt: nil, lastResult: nil,
            body: nil)
        let body = WebhookEnvelope.body(entry, key: "call", json: Data(#"{"id":"c"}"#.utf8))
        #expect(
            String(decoding: body, as: UTF8.self)
                == #"{"call":{"id":"c"},"created_at":"2026-11-20T00:00:00.000Z","id":"evt_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","project":"sh\"op\u000a","type":"call.answered"}"#
        )
        let parsed = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        #expect(parsed["project"] as? String == "sh\"op\n")

        let channel = WebhookChannel(
            endpoint: "https://crm.test/hook", projects: ["sh\"op\n": .init(secret: "s3cret", events: [.callAnswered])])
        #expect(channel.delivery(of: .callAnswered, project: "sh\"op\n") == .callAnswered)
        #expect(
            channel.delivery(of: .callEnded, project: "sh\"op\n") == nil
                && channel.delivery(of: .callAnswered, project: "other") == nil)
        let request = channel.request(for: [Delivery(entry: entry, body: body)])
        #expect(request.url == "https://crm.test/hook")
        #expect(
            request.headers.first(name: "X-CallTrack-Event") == "call.answered"
                && request.headers.first(name: "X-CallTrack-Delivery") == entry.id)
        let signature = try #require(request.headers.first(name: "X-CallTrack-Signature"))
        let parts = Dictionary(
            uniqueKeysWithValues: signature.split(separator: ",").map { p in
                let kv = p.split(separator: "=", maxSplits: 1)
                return (String(kv[0]), String(kv[1]))
            })
        let timestamp = try #require(parts["t"])
        let expected = HMAC<SHA256>.authenticationCode(
            for: Data("\(timestamp).".utf8) + body, using: SymmetricKey(data: Data("s3cret".utf8)))
        #expect(parts["v1"] == Hex.bytes(expected))
    }

    @Test("GA4: a phone_call for the visitor's client id with source and outcome, the secret only in the request's URL")
    func ga4() throws {
        let channel = GA4Channel(
            endpoint: "https://ga.test/mp/collect?measurement_id=G-TEST", apiSecret: "a b&c", projects: ["shop"])
        #expect(
            channel.delivery(of: .callEnded, project: "shop") == .ga4PhoneCall
                && channel.delivery(of: .callMissed, project: "shop") == nil)
        #expect(channel.condition == .visitorHasGAClientID)
        #expect(try GA4Channel.event(Self.call(gaClientID: nil)) == nil)
        let body = try #require(try GA4Channel.event(Self.call()))
        let json = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        let event = try #require((json["events"] as? [[String: Any]])?.first)
        let params = try #require(event["params"] as? [String: Any])
        #expect(json["client_id"] as? String == "123.456" && event["name"] as? String == "phone_call")
        #expect(
            params["source"] as? String == "google" && params["answered"] as? Int == 1
                && params["duration_seconds"] as? Int == 60)
        let request = channel.request(for: [Delivery(entry: Self.entry(.ga4PhoneCall), body: body)])
        #expect(request.url == "https://ga.test/mp/collect?measurement_id=G-TEST&api_secret=a%20b%26c")
        #expect(!channel.endpoint.contains("a b&c"), "the log's name for the endpoint has no secret")
    }

    @Test("Metrica: every due call in one multipart upload under Metrica's header, with the OAuth token") func metrica()
        throws
    {
        let channel = MetricaChannel(
            endpoint: "https://metrica.test/upload", token: "y0_token", projects: ["shop"], attemptInterval: 600)
        #expect(channel.batchLimit > 1 && channel.attemptInterval == 600 && channel.condition == .metricaCanPlaceCall)
        #expect(channel.delivery(of: .callEnded, project: "shop") == .metricaCall)
        let rows = [
            Data("1,1700000000,+74990000001,60,5,0,google/cpc,1,http://shop.test/,0".utf8),
            Data("2,1700000100,+74990000002,0,9,1,(static),0,,1".utf8),
        ]
        let request = channel.request(for: rows.map { Delivery(entry: Self.entry(.metricaCall), body: $0) })
        #expect(request.headers.first(name: "Authorization") == "OAuth y0_token")
        let type = try #require(request.headers.first(name: "Content-Type"))
        let boundary = try #require(type.components(separatedBy: "boundary=").last)
        let body = String(decoding: MetricaChannel.upload(rows: rows, boundary: boundary), as: UTF8.self)
        let lines = body.components(separatedBy: "\r\n")
        #expect(
            lines.first == "--\(boundary)" && lines.contains(CSV.line(ExportCall.metricaHeader))
                && lines.contains("--\(boundary)--"))
        #expect(lines.filter { $0.hasPrefix("1,") || $0.hasPrefix("2,") }.count == 2)
        #expect(MetricaChannel.boundary() != MetricaChannel.boundary())
    }

    @Test("A missed-call e-mail: text a caller chose stays one printable line; a non-ASCII subject is an encoded word")
    func email() throws {
        let mail = MissedCallEmail(
            from: "calls@shop.test", to: ["boss@shop.test"], projectName: "Магазин", timeZone: .gmt,
            linkBase: "https://ct.test")
        var call = Self.call(name: "Eve\r\nBcc: victim@evil.test")
        call.status = .missed
        call.missedReason = .busy
        let text = String(decoding: mail.message(call, eventID: "evt_1"), as: UTF8.self)
        let headers = text.components(separatedBy: "\r\n\r\n")[0].components(separatedBy: "\r\n")
        #expect(!headers.contains { $0.hasPrefix("Bcc:") }, "\(headers)")
        #expect(
            headers.contains("To: boss@shop.test")
                && headers.contains { $0.hasPrefix("Subject: =?UTF-8?B?") || $0.hasPrefix("Subject: Missed") })
        #expect(text.contains("Eve  Bcc: victim@evil.test") && text.contains("the line was busy"))
        let channel = MissedCallEmailChannel(
            endpoint: "mailto:boss@shop.test", recipients: ["boss@shop.test"], messages: ["shop": mail])
        #expect(
            channel.delivery(of: .callMissed, project: "shop") == .emailMissedCall
                && channel.delivery(of: .callEnded, project: "shop") == nil)
    }

    @Test(
        "The plan: one endpoint per URL, the routes derived from the channels, a secret that is not set refuses the start"
    ) func plan() throws {
        let config = try ConfigLoader.parse(
            yaml: """
                projects:
                  - key: a
                    forward_to: sip:1@127.0.0.1
                    webhooks: [{url: "https://crm.test/hook", secret_env: SA, events: [call.ended]}]
                    ga4: {measurement_id: G-TEST1, api_secret_env: GA}
                  - key: b
                    forward_to: sip:1@127.0.0.1
                    webhooks: [{url: "https://crm.test/hook", secret_env: SB}]
                """)
        let plan = try DeliveryPlan(config: config, environment: ["SA": "1", "SB": "2", "GA": "3"])
        #expect(
            plan.channels.map(\.endpoint) == [
                "https://crm.test/hook", "https://www.google-analytics.com/mp/collect?measurement_id=G-TEST1",
            ])
        #expect(
            plan.routes.routes(for: .callEnded, project: "a").map(\.delivery).sorted { $0.rawValue < $1.rawValue } == [
                .callEnded, .ga4PhoneCall,
            ])
        #expect(
            plan.routes.routes(for: .callStarted, project: "a").isEmpty
                && plan.routes.routes(for: .callStarted, project: "b").count == 1)
        #expect(throws: DeliveryPlanError.self) {
            try DeliveryPlan(config: config, environment: ["SA": "1", "GA": "3"])
        }
    }

    @Test(
        "An endpoint that fails is probed one delivery at a time: after a second, then twice as long, at most probe_max_seconds"
    ) func probes() {
        let health = EndpointHealth(probeMaxSeconds: 5)
        let t0 = Self.created
        #expect(health.failing("https://crm.test") == nil)
        #expect(health.failed("https://crm.test", reason: "HTTP 503", now: t0))
        #expect(!health.failed("https://crm.test", reason: "HTTP 503", now: t0), "one outage, not two")
        #expect(health.failing("https://crm.test") == "HTTP 503" && health.failing("https://other.test") == nil)
        #expect(
            !health.claimProbe("https://crm.test", now: t0 + 0.5) && health.claimProbe("https://crm.test", now: t0 + 1))
        #expect(!health.claimProbe("https://crm.test", now: t0 + 1), "one probe at a time")
        var now = t0 + 1
        var waits: [Double] = []
        for _ in 0..<4 {
            health.probeFailed("https://crm.test", reason: "timeout", now: now)
            var next = now
            while !health.claimProbe("https://crm.test", now: next) { next += 0.5 }
            waits.append(next.timeIntervalSince(now))
            now = next
        }
        #expect(waits == [2, 4, 5, 5])
        #expect(health.recovered("https://crm.test") == "timeout" && health.failing("https://crm.test") == nil)
        #expect(health.recovered("https://crm.test") == nil)
    }

    @Test("An HTTP answer: 2xx taken; another 4xx refuses that delivery; 408, 429, 5xx mean the endpoint fails")
    func answers() {
        let channel = GA4Channel(
            endpoint: "https://ga.test/mp/collect?measurement_id=G-TEST", apiSecret: "s", projects: [])
        let results = [200, 204, 400, 404, 410, 408, 429, 500, 503].map { channel.result(status: $0, body: .init()) }
        #expect(
            results == [
                .delivered("200"), .delivered("204"), .refused("HTTP 400"), .refused("HTTP 404"), .refused("HTTP 410"),
                .failed("HTTP 408"), .failed("HTTP 429"), .failed("HTTP 500"), .failed("HTTP 503"),
            ])
        #expect(
            OutboxSender.endpoint("https://crm.test:8443/hooks/a?x=1")
                == OutboxSender.endpoint("https://crm.test:8443/b"))
    }
}
