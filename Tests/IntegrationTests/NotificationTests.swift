import Foundation
import Testing

/// Missed-call e-mail through a local SMTP server (python3-aiosmtpd), from the outbox.
@Suite("Missed-call e-mail", .serialized) struct NotificationTests {
    static func options(smtpPort: Int) -> CallTrackServer.Options {
        var options = CallTrackServer.Options()
        options.projectExtra = ["notify: {email: [sales@shop.test, boss@shop.test]}"]
        options.httpExtra = ["public_url: https://calls.shop.test/"]
        options.sections = """
            delivery: {retry_base_seconds: 0.5}
            smtp: {host: 127.0.0.1, port: \(smtpPort), from: calltrack@shop.test}
            """
        return options
    }

    @Test(
        "A missed call e-mails both addresses once (after a 451), with caller, number, source and a link; UTM tags cannot add headers; an answered call sends nothing"
    ) func missedCallEmail() async throws {
        let ports = TestPorts.next()
        let smtp = try SMTPReceiver(port: ports.sip + 48, refusals: 1)
        defer { smtp.stop() }
        try await withServer(ports: ports, options: Self.options(smtpPort: smtp.port)) { server in
            // A visitor whose keyword tries to start a header of its own, and is in Cyrillic.
            let keyword = "купить стол%0D%0ABcc:%20evil@attacker.test".addingPercentEncoding(
                withAllowedCharacters: .urlQueryAllowed)!.replacingOccurrences(of: "%25", with: "%")
            let shown = try await server.reserve(
                clientID: "v1",
                page: "http://shop.test/?utm_source=google&utm_medium=cpc&utm_campaign=tables&utm_term=\(keyword)")
            let number = try #require(shown["number"] as? String)
            let dialled = "8" + number.suffix(10)
            try await server.placeBusyCalls(1, dialling: dialled)
            let calls = try await server.finishedCalls(count: 1)
            #expect(calls.first?["status"] as? String == "missed")

            let mail = try await smtp.wait { !$0.isEmpty }
            #expect(mail.count == 1)
            let m = try #require(mail.first)
            #expect(
                m.from == "calltrack@shop.test" && Set(m.to) == ["sales@shop.test", "boss@shop.test"],
                "\(m.from) \(m.to)")
            #expect(m.header("Subject") == "Missed call from 79161234567 (google / cpc)", "\(m.headers)")
            #expect(m.header("To") == "sales@shop.test, boss@shop.test")
            #expect(m.header("Content-Type") == "text/plain; charset=utf-8")
            #expect(!m.headers.contains { $0.lowercased().hasPrefix("bcc") }, "\(m.headers)")
            #expect(m.body.contains("Number:   +\(number.filter(\.isNumber))"), "\(m.body)")
            #expect(m.body.contains("Caller:   79161234567 (Alice)"), "\(m.body)")
            #expect(m.body.contains("Source:   google / cpc") && m.body.contains("Campaign: tables"), "\(m.body)")
            #expect(m.body.contains("Keyword:  купить стол  Bcc: evil@attacker.test"), "one line: \(m.body)")
            #expect(!m.body.components(separatedBy: "\r\n").contains { $0.hasPrefix("Bcc:") }, "\(m.body)")
            #expect(m.body.contains("the line was busy"), "\(m.body)")
            #expect(m.body.contains("https://calls.shop.test/calls?project=shop&number=79161234567"), "\(m.body)")
            // The outbox logged it: the relay's 451 cost one attempt.
            let log = try #require(
                try await server.get("/v1/deliveries?status=delivered").json?["deliveries"] as? [[String: Any]])
            let sent = try #require(log.first { $0["event"] as? String == "email.missed_call" }, "\(log)")
            #expect(
                sent["attempts"] as? Int == 2 && sent["endpoint"] as? String == "mailto:sales@shop.test,boss@shop.test",
                "\(sent)")

            // An answered call is not missed: no e-mail.
            try await server.placeAnsweredCall(dialling: dialled)
            _ = try await server.finishedCalls(count: 2)
            try await Task.sleep(for: .seconds(2))
            #expect(smtp.received.count == 1)
        }
    }

    @Test(
        "A relay that offers STARTTLS with a certificate nobody vouches for gets nothing, in clear or otherwise; the delivery stays pending with the reason"
    ) func untrustedCertificate() async throws {
        let ports = TestPorts.next()
        let smtp = try SMTPReceiver(port: ports.sip + 48, startTLS: true)
        defer { smtp.stop() }
        try await withServer(ports: ports, options: Self.options(smtpPort: smtp.port)) { server in
            try await server.placeBusyCalls(1, dialling: "84990000001")
            _ = try await server.finishedCalls(count: 1)
            var pending: [String: Any]?
            for _ in 0..<100 {
                let log =
                    try await server.get("/v1/deliveries?status=pending").json?["deliveries"] as? [[String: Any]] ?? []
                pending = log.first {
                    $0["event"] as? String == "email.missed_call" && ($0["attempts"] as? Int ?? 0) > 0
                }
                if pending != nil { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let entry = try #require(pending)
            #expect((entry["last_result"] as? String)?.lowercased().contains("certificate") == true, "\(entry)")
            #expect(smtp.received.isEmpty)
        }
    }

    @Test(
        "notify.email without an smtp block, a bad address, or a password variable that is not set refuses the start naming the key"
    ) func badConfig() async throws {
        var noRelay = CallTrackServer.Options()
        noRelay.projectExtra = ["notify: {email: [sales@shop.test]}"]
        let a = try CallTrackServer(options: noRelay)
        await #expect(throws: (any Error).self) { try await a.start() }
        #expect(a.log().contains("projects[0].notify.email"), "\(a.log().suffix(400))")

        var badAddress = Self.options(smtpPort: 9)
        badAddress.projectExtra = ["notify: {email: [\"sales@shop.test\\r\\nBcc: x@y\"]}"]
        let b = try CallTrackServer(options: badAddress)
        await #expect(throws: (any Error).self) { try await b.start() }
        #expect(b.log().contains("projects[0].notify.email[0]"), "\(b.log().suffix(400))")

        var noPassword = Self.options(smtpPort: 9)
        noPassword.sections =
            "smtp: {host: 127.0.0.1, port: 9, from: calltrack@shop.test, username: ct, password_env: CALLTRACK_TEST_SMTP_PASSWORD}"
        let c = try CallTrackServer(options: noPassword)
        await #expect(throws: (any Error).self) { try await c.start() }
        #expect(c.log().contains("smtp.password_env"), "\(c.log().suffix(400))")
    }
}
