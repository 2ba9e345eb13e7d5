import Crypto
import Foundation
import Testing

/// Webhooks from the persistent outbox to local receivers: signatures, retries, crashes.
@Suite("Webhooks", .serialized) struct WebhookTests {
    static let secret = "whsec-test-0123456789"

    static func options(receiverPort: Int, events: String = "") -> CallTrackServer.Options {
        var options = CallTrackServer.Options()
        options.environment = ["CALLTRACK_TEST_WEBHOOK_SECRET": secret]
        options.projectExtra = [
            "webhooks: [{url: \"http://127.0.0.1:\(receiverPort)/hook\", secret_env: CALLTRACK_TEST_WEBHOOK_SECRET\(events)}]"
        ]
        options.sections = "delivery: {retry_base_seconds: 0.5}"
        return options
    }

    /// The signature header checked as a receiver would: HMAC-SHA256 over "t.body", t within 5 minutes.
    static func signatureHolds(_ r: WebhookReceiver.Received) -> Bool {
        guard let header = r.headers["x-calltrack-signature"] else { return false }
        var parts: [String: String] = [:]
        for piece in header.split(separator: ",") {
            let kv = piece.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { parts[String(kv[0])] = String(kv[1]) }
        }
        guard let t = parts["t"], let ts = Double(t), abs(Date().timeIntervalSince1970 - ts) < 300, let v1 = parts["v1"]
        else { return false }
        var signed = Data("\(t).".utf8)
        signed.append(r.body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(secret.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined() == v1
    }

    @Test(
        "A receiver that answers 503, then hangs, gets every event of a call signed, call.started on its third attempt with the same id; recording.ready's URL downloads the WAV"
    ) func retriedUntilDelivered() async throws {
        let ports = TestPorts.next()
        let receiver = try WebhookReceiver(port: ports.sip + 48, failures: [503, 0])
        defer { receiver.stop() }
        try await withServer(ports: ports, options: Self.options(receiverPort: receiver.port)) { server in
            let p = server.ports
            let callee = try SIPp(
                "callee", scenario: Scenario.calleeAnswers(ringMilliseconds: 100), localPort: p.callee,
                mediaPort: p.calleeMedia, target: nil)
            try await Task.sleep(for: .milliseconds(200))
            let caller = try SIPp(
                "caller", scenario: Scenario.callerHangsUp(), localPort: p.caller, mediaPort: p.callerMedia,
                target: "127.0.0.1:\(p.sip)", service: "84990000001", pauseMilliseconds: 1500)
            #expect(try await caller.wait() == 0, "\(caller.diagnostics())")
            _ = try await callee.wait()
            let calls = try await server.finishedCalls(count: 1)
            let callID = try #require(calls.first?["id"] as? String)
            let expected: Set = ["call.started", "call.answered", "call.ended", "recording.ready"]
            // The hang costs CallTrack its 10 s timeout.
            let got = try await receiver.wait(timeout: .seconds(60)) { Set($0.map(\.event)).isSuperset(of: expected) }
            #expect(got.count == 4, "each event once: \(got.map(\.event))")
            for r in got {
                #expect(Self.signatureHolds(r), "\(r.event): \(r.headers)")
                let body = try #require(r.json)
                #expect(
                    body["type"] as? String == r.event && body["id"] as? String == r.delivery
                        && body["project"] as? String == "shop")
                #expect((body["call"] as? [String: Any])?["id"] as? String == callID)
                #expect(r.headers["content-type"] == "application/json")
            }
            let ended = try #require(got.first { $0.event == "call.ended" }?.json?["call"] as? [String: Any])
            #expect(ended["status"] as? String == "answered" && ended["ended_at"] is String)
            // The log: call.started took three attempts under one id; the others one.
            let log = try #require(
                try await server.get("/v1/deliveries?status=delivered").json?["deliveries"] as? [[String: Any]])
            let started = try #require(log.first { $0["event"] as? String == "call.started" })
            #expect(
                started["attempts"] as? Int == 3
                    && started["id"] as? String == got.first { $0.event == "call.started" }?.delivery, "\(log)")
            #expect(
                log.filter { $0["event"] as? String != "call.started" }.allSatisfy { $0["attempts"] as? Int == 1 },
                "\(log)")
            // recording.ready carries the URL of the recording; with a token it downloads.
            let recording = try #require(
                (got.first { $0.event == "recording.ready" }?.json?["call"] as? [String: Any])?["recording"]
                    as? [String: Any])
            let url = try #require(recording["url"] as? String)
            let wav = try await server.get(url)
            #expect(wav.status == 200 && wav.body.prefix(4) == Data("RIFF".utf8))
            #expect(try await server.get(url, token: nil).status == 401)
            // A sale from the CRM goes out as sale.recorded, with the sale instead of the call.
            let sale = try await server.request(
                "POST", "/v1/calls/\(callID)/sale", body: Data(#"{"amount": 5000, "deal_id": "crm-9"}"#.utf8),
                headers: ["Content-Type": "application/json"])
            #expect(sale.status == 201)
            let withSale = try await receiver.wait { $0.contains { $0.event == "sale.recorded" } }
            let saleEvent = try #require(withSale.first { $0.event == "sale.recorded" })
            #expect(Self.signatureHolds(saleEvent))
            let saleBody = try #require(saleEvent.json?["sale"] as? [String: Any])
            #expect(
                saleBody["deal_id"] as? String == "crm-9" && saleBody["amount"] as? Double == 5000
                    && saleBody["call_id"] as? String == callID)
            #expect(saleEvent.json?["call"] == nil && saleEvent.json?["type"] as? String == "sale.recorded")
        }
    }

    @Test(
        "kill -9 with deliveries pending: after the restart every event arrives once; a busy callee gives call.missed")
    func survivesACrash() async throws {
        let ports = TestPorts.next()
        let server = try CallTrackServer(
            ports: ports,
            options: Self.options(
                receiverPort: ports.sip + 48, events: ", events: [call.started, call.ended, call.missed]"))
        try await server.start()
        do {
            // No receiver yet: every attempt is refused.
            try await server.placeBusyCalls(1, dialling: "84990000001")
            _ = try await server.finishedCalls(count: 1)
            var pending: [[String: Any]] = []
            // A refused connection is retried by the HTTP client until the 10 s timeout: one attempt is enough to see.
            for _ in 0..<200 {
                pending =
                    (try await server.get("/v1/deliveries?status=pending").json?["deliveries"] as? [[String: Any]])
                    ?? []
                if pending.count == 3 && pending.contains(where: { ($0["attempts"] as? Int ?? 0) > 0 }) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(
                Set(pending.compactMap { $0["event"] as? String }) == ["call.started", "call.ended", "call.missed"],
                "\(pending)")
            let tried = try #require(pending.first { ($0["attempts"] as? Int ?? 0) > 0 }, "\(pending)")
            #expect((tried["last_result"] as? String)?.isEmpty == false, "\(tried)")
            let metrics = String(decoding: try await server.get("/metrics", token: nil).body, as: UTF8.self)
            #expect(
                metrics.contains("calltrack_outbox_backlog{endpoint=\"http://127.0.0.1:\(ports.sip + 48)\"} 3"),
                "\(metrics)")
            #expect(try await server.stop(signal: SIGKILL) == SIGKILL)

            let receiver = try WebhookReceiver(port: ports.sip + 48)
            defer { receiver.stop() }
            try await server.start()
            let got = try await receiver.wait { $0.count >= 3 }
            try await Task.sleep(for: .seconds(2))  // nothing more comes
            let all = receiver.received
            #expect(all.map(\.event).sorted() == ["call.ended", "call.missed", "call.started"], "\(all.map(\.event))")
            #expect(
                Set(all.map(\.delivery)) == Set(pending.compactMap { $0["id"] as? String }),
                "the ids from before the crash")
            #expect(got.allSatisfy(Self.signatureHolds))
            let missed = try #require(all.first { $0.event == "call.missed" }?.json?["call"] as? [String: Any])
            #expect(missed["status"] as? String == "missed" && missed["missed_reason"] as? String == "busy")
            try await server.stop()
        } catch {
            _ = try? await server.stop(signal: SIGKILL)
            throw error
        }
    }

    @Test(
        "The database's disk fills: a call still connects and the log says why; once space is freed its record and webhooks are written, nothing lost",
        .enabled(if: Tmpfs.available, "needs root to mount a tmpfs")) func fullDisk() async throws
    {
        let ports = TestPorts.next()
        let receiver = try WebhookReceiver(port: ports.sip + 48)
        defer { receiver.stop() }
        let disk = try Tmpfs(options: "size=8m")
        var options = Self.options(receiverPort: receiver.port)
        options.databasePath = disk.path + "/calltrack.sqlite"
        try await withServer(ports: ports, options: options) { server in
            // Fill what is left of the disk.
            let filler = disk.path + "/filler"
            #expect(FileManager.default.createFile(atPath: filler, contents: nil))
            let handle = try #require(FileHandle(forWritingAtPath: filler))
            let chunk = Data(repeating: 0, count: 16 * 1024)
            while (try? handle.write(contentsOf: chunk)) != nil {}
            try? handle.close()

            try await server.placeAnsweredCall(dialling: "84990000001")
            for _ in 0..<100 where !server.log().contains("cannot write call records") {
                try await Task.sleep(for: .milliseconds(100))
            }
            let log = server.log()
            #expect(
                log.contains("cannot write call records; calls go on") && log.contains("database or disk is full"),
                "\(log.suffix(1500))")
            #expect(log.components(separatedBy: "cannot write call records").count == 2, "said once")
            #expect(receiver.received.isEmpty)

            try FileManager.default.removeItem(atPath: filler)
            let calls = try await server.finishedCalls(count: 1)
            #expect(calls.first?["status"] as? String == "answered")
            let got = try await receiver.wait {
                Set($0.map(\.event)).isSuperset(of: ["call.started", "call.answered", "call.ended"])
            }
            #expect(got.allSatisfy(Self.signatureHolds))
            #expect(server.log().contains("writing call records again; nothing was lost"))
        }
    }

    @Test("A webhook whose secret variable is not set, or with an unknown event, refuses the start naming the key")
    func badWebhookConfig() async throws {
        var options = Self.options(receiverPort: 9)
        options.environment = [:]
        let server = try CallTrackServer(options: options)
        await #expect(throws: (any Error).self) { try await server.start() }
        #expect(server.log().contains("projects[0].webhooks[0].secret_env"), "\(server.log().suffix(400))")
        var events = Self.options(receiverPort: 9, events: ", events: [call.forwarded]")
        events.environment = ["CALLTRACK_TEST_WEBHOOK_SECRET": Self.secret]
        let other = try CallTrackServer(options: events)
        await #expect(throws: (any Error).self) { try await other.start() }
        #expect(other.log().contains("projects[0].webhooks[0].events[0]"), "\(other.log().suffix(400))")
        var metrica = CallTrackServer.Options()
        metrica.projectExtra = ["metrica: {counter_id: 12345678, token_env: CALLTRACK_TEST_UNSET_TOKEN}"]
        let third = try CallTrackServer(options: metrica)
        await #expect(throws: (any Error).self) { try await third.start() }
        #expect(
            third.log().contains(
                "projects[0].metrica.token_env: the environment variable CALLTRACK_TEST_UNSET_TOKEN is not set"),
            "\(third.log().suffix(400))")
    }

    @Test(
        "An https endpoint whose certificate nobody vouches for gets nothing; the delivery stays pending with the reason, logged once"
    ) func untrustedCertificate() async throws {
        let ports = TestPorts.next()
        let receiver = try WebhookReceiver(port: ports.sip + 48, tls: true)
        defer { receiver.stop() }
        var options = Self.options(receiverPort: receiver.port)
        options.projectExtra = [
            "webhooks: [{url: \"https://127.0.0.1:\(receiver.port)/hook\", secret_env: CALLTRACK_TEST_WEBHOOK_SECRET}]"
        ]
        try await withServer(ports: ports, options: options) { server in
            try await server.placeBusyCalls(1, dialling: "84990000001")
            _ = try await server.finishedCalls(count: 1)
            var pending: [[String: Any]] = [], tried: [[String: Any]] = []
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                pending =
                    try await server.get("/v1/deliveries?status=pending").json?["deliveries"] as? [[String: Any]] ?? []
                tried = pending.filter { ($0["attempts"] as? Int ?? 0) > 0 }
                if tried.contains(where: { ($0["attempts"] as? Int ?? 0) >= 2 }) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            // While the endpoint fails, one delivery probes it again and again; the others wait, spending
            // no attempts (all three of the call's events stay pending).
            #expect(
                pending.count == 3 && tried.count == 1 && (tried.first?["attempts"] as? Int ?? 0) >= 2, "\(pending)")
            #expect(
                tried.allSatisfy { ($0["last_result"] as? String ?? "").lowercased().contains("certificate") },
                "\(tried)")
            #expect(receiver.received.isEmpty)
            #expect(server.log().components(separatedBy: "delivery endpoint fails").count == 2, "logged once")
        }
    }
}
