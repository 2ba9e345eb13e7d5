import Foundation
import Testing

/// What strangers and broken peers get from CallTrack's SIP side: hand-written messages from
/// bare sockets (a trusted 127.0.0.1 and an untrusted 127.0.0.2) against a real CallTrack.
@Suite("SIP front door", .serialized) struct SIPSecurityTests {
    func uri(_ server: CallTrackServer, _ did: String = "84990000001") -> String {
        "sip:\(did)@127.0.0.1:\(server.ports.sip)"
    }

    func metrics(_ server: CallTrackServer) async throws -> String {
        String(decoding: try await server.get("/metrics", token: nil).body, as: UTF8.self)
    }

    /// A raw caller's INVITE answered: returns the 200 (ACK sent).
    func establish(
        _ caller: RawSIP, _ m: RawMessage, _ server: CallTrackServer, mediaPort: Int = 40002, contact: String? = nil,
        payloads: String = "8 101"
    ) async throws -> String {
        try await RawCallee.establish(caller, m, server, mediaPort: mediaPort, contact: contact, payloads: payloads)
    }

    @Test("An untrusted INVITE gets one stateless 403, never retransmitted") func statelessRefusal() async throws {
        try await withServer { server in
            let stranger = try RawSIP(ip: "127.0.0.2")
            let m = RawMessage(port: stranger.port, ip: "127.0.0.2")
            // 201 bytes in must not become eleven 403s over 32 s (an amplifier for spoofed sources).
            stranger.send(
                m.request("INVITE", uri: uri(server), cseq: 1, body: RawMessage.sdp(ip: "127.0.0.2", port: 40000)),
                to: server.ports.sip)
            let got = try await stranger.collect(for: .milliseconds(2600))
            #expect(got.count == 1, "\(got.count) responses: \(got.map { $0.prefix(40) })")
            #expect(got.first?.hasPrefix("SIP/2.0 403") == true)
        }
    }

    @Test("sip.untrusted: drop answers strangers nothing") func dropUntrusted() async throws {
        var options = CallTrackServer.Options()
        options.sipExtra = ["untrusted: drop"]
        try await withServer(options: options) { server in
            let stranger = try RawSIP(ip: "127.0.0.2")
            let m = RawMessage(port: stranger.port, ip: "127.0.0.2")
            stranger.send(m.request("INVITE", uri: uri(server), cseq: 1), to: server.ports.sip)
            stranger.send(m.request("OPTIONS", uri: uri(server), cseq: 2), to: server.ports.sip)
            #expect(try await stranger.collect(for: .seconds(1)).isEmpty)
            #expect(
                try await metrics(server).contains("calltrack_invites_refused_total{reason=\"untrusted_source\"} 2"))
        }
    }

    @Test("A flood from one stranger is answered at most 20 times a second and logged in aggregate")
    func floodIsRateLimitedAndLoggedInAggregate() async throws {
        try await withServer { server in
            let stranger = try RawSIP(ip: "127.0.0.2")
            for i in 0..<400 {
                var m = RawMessage(port: stranger.port, ip: "127.0.0.2")
                m.callID = "flood-\(i)"
                stranger.send(m.request("INVITE", uri: uri(server), cseq: 1), to: server.ports.sip)
            }
            let answers = try await stranger.collect(for: .milliseconds(2500))
            // Sent within a second or two: at most 20 per second are answered.
            #expect(answers.count <= 60, "\(answers.count) answers to 400 INVITEs")
            #expect(answers.count >= 20)
            let text = try await metrics(server)
            #expect(text.contains("calltrack_invites_refused_total{reason=\"rate_limited\"}"))
            #expect(!text.contains("calltrack_invites_refused_total{reason=\"rate_limited\"} 0"))
            try await Task.sleep(for: .milliseconds(1200))
            let lines = server.log().components(separatedBy: "\n").filter { $0.contains("refused") }
            #expect(lines.count <= 2, "one line per interval, not one per request: \(lines.count) lines")
            #expect(lines.first?.contains("127.0.0.2") == true, "\(lines)")
        }
    }

    @Test("Malformed INVITEs get 400, reach nobody and leave no call record") func malformed() async throws {
        try await withServer { server in
            let probe = try UDPProbe(port: server.ports.callee)
            let caller = try RawSIP()
            let sdp = RawMessage.sdp(port: 40000)
            let cases: [(String, (RawMessage) -> String)] = [
                (
                    "negative Content-Length",
                    { $0.request("INVITE", uri: uri(server), cseq: 1, body: sdp, contentLength: "-5") }
                ),
                (
                    "non-numeric Content-Length",
                    { $0.request("INVITE", uri: uri(server), cseq: 1, body: sdp, contentLength: "abc") }
                ),
                (
                    "overflowing Content-Length",
                    {
                        $0.request(
                            "INVITE", uri: uri(server), cseq: 1, body: sdp, contentLength: "99999999999999999999")
                    }
                ),
                (
                    "Content-Length past the datagram",
                    { $0.request("INVITE", uri: uri(server), cseq: 1, body: sdp, contentLength: "2000") }
                ),
                (
                    "Content-Length short of the body",
                    { $0.request("INVITE", uri: uri(server), cseq: 1, body: sdp, contentLength: "20") }
                ), ("no To", { $0.request("INVITE", uri: uri(server), cseq: 1, body: sdp, omit: ["To"]) }),
                ("no CSeq", { $0.request("INVITE", uri: uri(server), cseq: 1, body: sdp, omit: ["CSeq"]) }),
                ("no Call-ID", { $0.request("INVITE", uri: uri(server), cseq: 1, body: sdp, omit: ["Call-ID"]) }),
                ("no From", { $0.request("INVITE", uri: uri(server), cseq: 1, body: sdp, omit: ["From"]) }),
            ]
            for (name, build) in cases {
                let m = RawMessage(port: caller.port)
                caller.send(build(m), to: server.ports.sip)
                let got = try await caller.collect(for: .milliseconds(400))
                #expect(got.count == 1 && got[0].hasPrefix("SIP/2.0 400"), "\(name): \(got.map { $0.prefix(60) })")
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(probe.received().isEmpty, "a malformed INVITE was forwarded")
            #expect(try await server.calls().isEmpty)
            #expect(try await metrics(server).contains("calltrack_invites_refused_total{reason=\"malformed\"} 9"))
        }
    }

    @Test("Max-Forwards is honoured (483) and decremented; Route has one ;lr; INVITE and 200 carry Allow and Supported")
    func maxForwardsAndCapabilities() async throws {
        try await withServer { server in
            let caller = try RawSIP()
            let exhausted = RawMessage(port: caller.port)
            caller.send(
                exhausted.request(
                    "INVITE", uri: uri(server), cseq: 1, body: RawMessage.sdp(port: 40000), maxForwards: "0"),
                to: server.ports.sip)
            _ = try await caller.response(483, cseq: "1 INVITE")

            let callee = try RawCallee(port: server.ports.callee, mediaPort: server.ports.calleeMedia)
            let m = RawMessage(port: caller.port)
            caller.send(
                m.request("INVITE", uri: uri(server), cseq: 1, body: RawMessage.sdp(port: 40000), maxForwards: "5"),
                to: server.ports.sip)
            let ok = try await caller.response(200, cseq: "1 INVITE")
            caller.send(m.inDialog("ACK", uri: uri(server), cseq: 1, answer: ok), to: server.ports.sip)
            let forwarded = try #require(callee.invites().first)
            #expect(RawSIP.header("Max-Forwards", in: forwarded).flatMap { Int($0) } == 4, "\(forwarded)")
            #expect(
                RawSIP.header("Route", in: forwarded) == "<sip:127.0.0.1:\(server.ports.callee);lr>", "\(forwarded)")
            #expect(RawSIP.header("Allow", in: forwarded)?.contains("INVITE") == true)
            #expect(RawSIP.header("Supported", in: forwarded) != nil)
            #expect(RawSIP.header("Allow", in: ok)?.contains("BYE") == true, "\(ok)")
            #expect(RawSIP.header("Supported", in: ok) != nil)
            caller.send(m.inDialog("BYE", uri: uri(server), cseq: 2, answer: ok), to: server.ports.sip)
            _ = try await caller.response(200, cseq: "2 BYE")
            callee.stop()
        }
    }

    @Test("Require: 100rel gets 420 with Unsupported: 100rel") func unsupportedExtension() async throws {
        try await withServer { server in
            let probe = try UDPProbe(port: server.ports.callee)
            let caller = try RawSIP()
            let m = RawMessage(port: caller.port)
            caller.send(
                m.request(
                    "INVITE", uri: uri(server), cseq: 1, body: RawMessage.sdp(port: 40000), headers: ["Require: 100rel"]
                ), to: server.ports.sip)
            let refusal = try await caller.response(420, cseq: "1 INVITE")
            #expect(RawSIP.header("Unsupported", in: refusal) == "100rel")
            try await Task.sleep(for: .milliseconds(200))
            #expect(probe.received().isEmpty)
        }
    }

    @Test("In-dialog requests from a stranger with the right Call-ID and tags get 403 and change nothing")
    func strangerInDialog() async throws {
        try await withServer { server in
            let callee = try RawCallee(port: server.ports.callee, mediaPort: server.ports.calleeMedia)
            let caller = try RawSIP()
            var m = RawMessage(port: caller.port)
            m.fromDisplay = "Bare Name"
            let ok = try await establish(caller, m, server)
            let stranger = try RawSIP(ip: "127.0.0.2")
            stranger.send(
                m.inDialog("BYE", uri: uri(server), cseq: 2, answer: ok, fromIP: "127.0.0.2", fromPort: stranger.port),
                to: server.ports.sip)
            stranger.send(
                m.inDialog(
                    "INVITE", uri: uri(server), cseq: 3, answer: ok, body: RawMessage.sdp(ip: "127.0.0.2", port: 40100),
                    fromIP: "127.0.0.2", fromPort: stranger.port), to: server.ports.sip)
            let answers = try await stranger.collect(for: .milliseconds(600))
            #expect(
                answers.count == 2 && answers.allSatisfy { $0.hasPrefix("SIP/2.0 403") },
                "\(answers.map { $0.prefix(40) })")
            #expect(
                !callee.received.contains { $0.hasPrefix("BYE ") || ($0.hasPrefix("INVITE ") && $0.contains("40100")) })
            #expect(try await server.calls().first?["status"] as? String == "in_progress")
            // The real caller still ends its call.
            caller.send(m.inDialog("BYE", uri: uri(server), cseq: 4, answer: ok), to: server.ports.sip)
            _ = try await caller.response(200, cseq: "4 BYE")
            let call = try #require(try await server.finishedCalls(count: 1).first)
            #expect(call["status"] as? String == "answered")
            #expect(call["hangup_by"] as? String == "caller")
            #expect(call["caller_name"] as? String == "Bare Name", "unquoted display names keep every word")
            callee.stop()
        }
    }

    @Test(
        "A Contact naming a host is never resolved: the BYE goes to the address the INVITE came from",
        arguments: ["<sip:caller@unreachable.invalid:5999>", "<sip:caller@127.0.0.1:5999;maddr=unreachable.invalid>"])
    func hostnameContact(contact: String) async throws {
        try await withServer { server in
            let callee = try SIPp(
                "callee", scenario: Scenario.calleeHangsUp, localPort: server.ports.callee,
                mediaPort: server.ports.calleeMedia, target: nil, pauseMilliseconds: 800)
            try await Task.sleep(for: .milliseconds(200))
            let caller = try RawSIP()
            let m = RawMessage(port: caller.port)
            _ = try await establish(caller, m, server, contact: contact)
            let bye = try await caller.wait(timeout: .seconds(6), for: "BYE from CallTrack") { $0.hasPrefix("BYE ") }
            caller.send(RawMessage.reply(to: bye, 200, "OK"), to: server.ports.sip)
            #expect(try await callee.wait() == 0, "\(callee.diagnostics())")
            let call = try #require(try await server.finishedCalls(count: 1).first)
            #expect(call["hangup_by"] as? String == "callee")
        }
    }

    @Test("A codec dropped by one re-INVITE comes back with the next: telephone-event is not lost for good")
    func codecsAfterNarrowingReinvite() async throws {
        try await withServer { server in
            let callee = try RawCallee(port: server.ports.callee, mediaPort: server.ports.calleeMedia)
            let caller = try RawSIP()
            let m = RawMessage(port: caller.port)
            let ok = try await establish(caller, m, server)
            #expect(RawSIP.body(of: ok).contains("telephone-event"))
            caller.send(
                m.inDialog(
                    "INVITE", uri: uri(server), cseq: 2, answer: ok, body: RawMessage.sdp(port: 40002, payloads: "8")),
                to: server.ports.sip)
            let narrow = try await caller.response(200, cseq: "2 INVITE")
            caller.send(m.inDialog("ACK", uri: uri(server), cseq: 2, answer: ok), to: server.ports.sip)
            #expect(!RawSIP.body(of: narrow).contains("telephone-event"))
            try await Task.sleep(for: .milliseconds(300))
            caller.send(
                m.inDialog(
                    "INVITE", uri: uri(server), cseq: 3, answer: ok,
                    body: RawMessage.sdp(port: 40002, payloads: "8 101")), to: server.ports.sip)
            let wide = try await caller.response(200, cseq: "3 INVITE")
            caller.send(m.inDialog("ACK", uri: uri(server), cseq: 3, answer: ok), to: server.ports.sip)
            #expect(RawSIP.body(of: wide).contains("telephone-event"), "\(wide)")
            caller.send(m.inDialog("BYE", uri: uri(server), cseq: 4, answer: ok), to: server.ports.sip)
            _ = try await caller.response(200, cseq: "4 BYE")
            callee.stop()
        }
    }

    @Test("SIP over TCP listens with a real accept backlog, not libre's 5") func tcpBacklog() async throws {
        try await withServer { server in
            let ss = Process()
            ss.executableURL = URL(fileURLWithPath: "/usr/bin/ss")
            ss.arguments = ["-ltnH", "sport = :\(server.ports.sip)"]
            let pipe = Pipe()
            ss.standardOutput = pipe
            try ss.run()
            ss.waitUntilExit()
            let line = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            // ss shows a listening socket's backlog in the Send-Q column.
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            #expect(columns.count >= 3 && Int(columns[2]) ?? 0 >= 1024, "\(line)")
        }
    }
}

/// A forwarding loop through a real proxy (Kamailio) that strips CallTrack's own headers.
@Suite("Forwarding loops", .serialized) struct LoopTests {
    @Test("A loop through a proxy that strips X- headers ends at once: one leg, one record, 482 to the caller")
    func loopThroughStrippingProxy() async throws {
        let ports = TestPorts.next()
        let proxyPort = ports.sip + 20
        // The trunk proxy sends every new INVITE straight back to CallTrack's tracking number.
        let kamailio = try Kamailio(
            listen: "udp:127.0.0.1:\(proxyPort)", modules: ["tm", "sl", "textops", "maxfwd", "pv", "siputils"],
            route: """
                if (!mf_process_maxfwd_header("70")) { sl_send_reply("483", "Too Many Hops"); exit; }
                remove_hf_re("^X-");
                if (is_method("INVITE") && !has_totag()) { $ru = "sip:84990000001@127.0.0.1:\(ports.sip)"; }
                t_relay();
                """)
        defer { kamailio.stop() }
        var options = CallTrackServer.Options()
        options.proxyPort = proxyPort
        try await withServer(ports: ports, options: options) { server in
            try await Task.sleep(for: .milliseconds(500))
            let caller = try RawSIP()
            let m = RawMessage(port: caller.port)
            caller.send(
                m.request(
                    "INVITE", uri: "sip:84990000001@127.0.0.1:\(ports.sip)", cseq: 1, body: RawMessage.sdp(port: 40000)),
                to: ports.sip)
            let refusal = try await caller.response(482, cseq: "1 INVITE")
            caller.send(
                m.request(
                    "ACK", uri: "sip:84990000001@127.0.0.1:\(ports.sip)", cseq: 1,
                    toTag: RawSIP.tag(RawSIP.header("To", in: refusal))), to: ports.sip)
            try await Task.sleep(for: .milliseconds(500))
            let calls = try await server.finishedCalls(count: 1)
            #expect(calls.count == 1, "\(calls.count) legs for one INVITE")
            #expect(calls.first?["sip_code"] as? Int == 482)
            let text = String(decoding: try await server.get("/metrics", token: nil).body, as: UTF8.self)
            #expect(text.contains("calltrack_invites_refused_total{reason=\"loop\"} 1"), "\(text)")
        }
    }
}

@Suite("A front proxy (sip.front_proxies)", .serialized) struct FrontProxyTests {
    /// CallTrack behind a proxy on 127.0.0.3; the trunk admits only the carrier on 127.0.0.1.
    private func options() -> CallTrackServer.Options {
        var o = CallTrackServer.Options()
        o.sipExtra = ["front_proxies: [127.0.0.3/32]"]
        return o
    }

    @Test(
        "the sender the proxy names is the caller: admitted by its address, answered through the proxy, the header never forwarded"
    ) func namedSenderIsTheCaller() async throws {
        try await withServer(options: options()) { server in
            let p = server.ports
            let callee = try RawCallee(port: p.callee, mediaPort: p.sip + 41)
            let proxy = try RawSIP(ip: "127.0.0.3")
            var m = RawMessage(port: proxy.port, ip: "127.0.0.3")
            m.caller = "79161234567"
            let uri = "sip:84990000001@127.0.0.1:\(p.sip)"
            let peer = "X-CallTrack-Peer: 127.0.0.1:5099;transport=udp"
            proxy.send(
                m.request("INVITE", uri: uri, cseq: 1, body: RawMessage.sdp(port: p.callerMedia), headers: [peer]),
                to: p.sip)
            let ok = try await proxy.response(200, cseq: "1 INVITE", timeout: .seconds(8))
            proxy.send(m.inDialog("ACK", uri: uri, cseq: 1, answer: ok, headers: [peer]), to: p.sip)
            try await Task.sleep(for: .milliseconds(300))
            proxy.send(m.inDialog("BYE", uri: uri, cseq: 2, answer: ok, headers: [peer]), to: p.sip)
            _ = try await proxy.response(200, cseq: "2 BYE")
            let forwarded = try #require(callee.invites().first)
            #expect(!forwarded.lowercased().contains("x-calltrack-peer"), "\(forwarded)")
            let call = try #require(try await server.finishedCalls(count: 1).first)
            #expect(call["status"] as? String == "answered")
            #expect(call["hangup_by"] as? String == "caller")
        }
    }

    @Test("Contact and Record-Route are kept as received: the callee's hang-up reaches the caller through the proxy")
    func calleeHangsUpThroughTheProxy() async throws {
        try await withServer(options: options()) { server in
            let p = server.ports
            let callee = try SIPp(
                "callee", scenario: Scenario.calleeHangsUp, localPort: p.callee, mediaPort: p.calleeMedia, target: nil,
                pauseMilliseconds: 500)
            try await Task.sleep(for: .milliseconds(200))
            let proxy = try RawSIP(ip: "127.0.0.3")
            let m = RawMessage(port: proxy.port, ip: "127.0.0.3")
            let uri = "sip:84990000001@127.0.0.1:\(p.sip)"
            let peer = "X-CallTrack-Peer: 127.0.0.1:5099;transport=udp"
            // The carrier's Contact (nobody listens there) and the proxy's Record-Route: in-dialog requests
            // must go to the proxy, naming the carrier.
            proxy.send(
                m.request(
                    "INVITE", uri: uri, cseq: 1, body: RawMessage.sdp(port: p.callerMedia),
                    headers: [peer, "Record-Route: <sip:127.0.0.3:\(proxy.port);lr>"],
                    contact: "<sip:79161234567@127.0.0.1:5099>"), to: p.sip)
            let ok = try await proxy.response(200, cseq: "1 INVITE", timeout: .seconds(8))
            proxy.send(m.inDialog("ACK", uri: uri, cseq: 1, answer: ok, headers: [peer]), to: p.sip)
            let bye = try await proxy.wait(timeout: .seconds(5), for: "BYE through the proxy") { $0.hasPrefix("BYE ") }
            #expect(bye.hasPrefix("BYE sip:79161234567@127.0.0.1:5099"), "\(bye)")
            #expect(RawSIP.header("Route", in: bye)?.contains("127.0.0.3:\(proxy.port)") == true, "\(bye)")
            proxy.send(RawMessage.reply(to: bye, 200, "OK"), to: p.sip)
            #expect(try await callee.wait() == 0, "\(callee.diagnostics())")
            let call = try #require(try await server.finishedCalls(count: 1).first)
            #expect(call["hangup_by"] as? String == "callee")
        }
    }

    @Test("the caller's answer to a re-INVITE through the proxy keeps its Contact: the next BYE still names the caller")
    func reinviteAnswerThroughTheProxy() async throws {
        try await withServer(options: options()) { server in
            let p = server.ports
            let callee = try RawCallee(port: p.callee, mediaPort: p.sip + 41)
            let proxy = try RawSIP(ip: "127.0.0.3")
            let m = RawMessage(port: proxy.port, ip: "127.0.0.3")
            let uri = "sip:84990000001@127.0.0.1:\(p.sip)"
            let peer = "X-CallTrack-Peer: 127.0.0.1:5099;transport=udp"
            let carrier = "<sip:79161234567@127.0.0.1:5099>"
            proxy.send(
                m.request(
                    "INVITE", uri: uri, cseq: 1, body: RawMessage.sdp(port: p.callerMedia),
                    headers: [peer, "Record-Route: <sip:127.0.0.3:\(proxy.port);lr>"], contact: carrier), to: p.sip)
            let ok = try await proxy.response(200, cseq: "1 INVITE", timeout: .seconds(8))
            proxy.send(m.inDialog("ACK", uri: uri, cseq: 1, answer: ok, headers: [peer]), to: p.sip)
            try await Task.sleep(for: .milliseconds(300))
            // The callee puts the call on hold: CallTrack carries the re-INVITE to the caller, through the proxy.
            let forwarded = try #require(callee.invites().first)
            callee.stop()
            let calltrack = try #require(RawSIP.header("Contact", in: forwarded))
            let target = String(calltrack.drop { $0 != "<" }.dropFirst().prefix { $0 != ">" })
            let calleeDialog = [
                "Via: SIP/2.0/UDP 127.0.0.1:\(callee.socket.port);branch=z9hG4bK-hold\(UUID().uuidString.prefix(8));rport",
                "Max-Forwards: 70", "From: \(RawSIP.header("To", in: forwarded) ?? "");tag=\(callee.tag)",
                "To: \(RawSIP.header("From", in: forwarded) ?? "")",
                "Call-ID: \(RawSIP.header("Call-ID", in: forwarded) ?? "")",
            ]
            let hold = RawMessage.sdp(port: p.sip + 41, extra: ["a=sendonly"])
            callee.socket.send(
                (["INVITE \(target) SIP/2.0"] + calleeDialog + [
                    "CSeq: 10 INVITE", "Contact: <sip:callee@127.0.0.1:\(callee.socket.port)>",
                    "Content-Type: application/sdp", "Content-Length: \(hold.utf8.count)",
                ]).joined(separator: "\r\n") + "\r\n\r\n" + hold, to: p.sip)
            let reinvite = try await proxy.wait(timeout: .seconds(5), for: "the re-INVITE through the proxy") {
                $0.hasPrefix("INVITE ")
            }
            #expect(reinvite.hasPrefix("INVITE sip:79161234567@127.0.0.1:5099"), "\(reinvite)")
            // The caller answers through the proxy, its Contact its own, as a proxy relays it.
            proxy.send(
                RawMessage.reply(
                    to: reinvite, 200, "OK", body: RawMessage.sdp(port: p.callerMedia, extra: ["a=recvonly"]),
                    contact: carrier), to: p.sip)
            _ = try await proxy.wait(timeout: .seconds(5), for: "ACK of the re-INVITE") { $0.hasPrefix("ACK ") }
            let answered = try await callee.socket.response(200, cseq: "10 INVITE")
            callee.socket.send(
                (["ACK \(target) SIP/2.0"]
                    + calleeDialog.map { $0.hasPrefix("To:") ? "To: \(RawSIP.header("To", in: answered) ?? "")" : $0 }
                    + ["CSeq: 10 ACK", "Content-Length: 0"]).joined(separator: "\r\n") + "\r\n\r\n", to: p.sip)
            // The callee hangs up: CallTrack's BYE to the caller still names the carrier's Contact, not the proxy.
            callee.socket.send(
                (["BYE \(target) SIP/2.0"]
                    + calleeDialog.map { $0.hasPrefix("To:") ? "To: \(RawSIP.header("To", in: answered) ?? "")" : $0 }
                    + ["CSeq: 11 BYE", "Content-Length: 0"]).joined(separator: "\r\n") + "\r\n\r\n", to: p.sip)
            let bye = try await proxy.wait(timeout: .seconds(5), for: "BYE through the proxy") { $0.hasPrefix("BYE ") }
            #expect(bye.hasPrefix("BYE sip:79161234567@127.0.0.1:5099"), "\(bye)")
            proxy.send(RawMessage.reply(to: bye, 200, "OK"), to: p.sip)
            let call = try #require(try await server.finishedCalls(count: 1).first)
            #expect(call["hangup_by"] as? String == "callee")
        }
    }

    @Test("through a real Kamailio: sipp's call is admitted by the caller's address, and the callee's BYE reaches it")
    func throughKamailio() async throws {
        let ports = TestPorts.next()
        // A front proxy as an operator writes one: it names the sender, record-routes, and sends new calls on.
        let kamailio = try Kamailio(
            listen: "udp:127.0.0.3:\(ports.sip)", modules: ["tm", "sl", "rr", "textops", "maxfwd", "pv", "siputils"],
            route: """
                if (!mf_process_maxfwd_header("70")) { sl_send_reply("483", "Too Many Hops"); exit; }
                remove_hf("X-CallTrack-Peer");
                if ($si == "127.0.0.1" && $sp == \(ports.sip)) { loose_route(); t_relay(); exit; }
                append_hf("X-CallTrack-Peer: $si:$sp;transport=udp\\r\\n");
                if (has_totag()) { loose_route(); t_relay(); exit; }
                record_route();
                $du = "sip:127.0.0.1:\(ports.sip)";
                t_relay();
                """)
        defer { kamailio.stop() }
        try await withServer(ports: ports, options: options()) { server in
            try await Task.sleep(for: .milliseconds(500))
            let callee = try SIPp(
                "callee", scenario: Scenario.calleeHangsUp, localPort: ports.callee, mediaPort: ports.calleeMedia,
                target: nil, pauseMilliseconds: 1500)
            try await Task.sleep(for: .milliseconds(200))
            let caller = try SIPp(
                "caller", scenario: Scenario.callerWaitsForBye(), localPort: ports.caller, mediaPort: ports.callerMedia,
                target: "127.0.0.3:\(ports.sip)", service: "84990000001", pauseMilliseconds: 1500)
            #expect(try await caller.wait() == 0, "\(caller.diagnostics())\n\(kamailio.log())")
            #expect(try await callee.wait() == 0, "\(callee.diagnostics())")
            let call = try #require(try await server.finishedCalls(count: 1).first)
            #expect(call["status"] as? String == "answered")
            #expect(call["hangup_by"] as? String == "callee")
            let media = call["media"] as? [String: Any]
            let toCallee = (media?["caller_to_callee"] as? [String: Any])?["packets"] as? Int ?? 0
            #expect(toCallee > 20, "the caller's audio was not relayed: \(String(describing: media))")
        }
    }

    @Test("from the proxy without the header, or naming a sender no trunk admits: 403; its OPTIONS: 200")
    func refusals() async throws {
        try await withServer(options: options()) { server in
            let p = server.ports
            let proxy = try RawSIP(ip: "127.0.0.3")
            let m = RawMessage(port: proxy.port, ip: "127.0.0.3")
            let uri = "sip:84990000001@127.0.0.1:\(p.sip)"
            let offer = RawMessage.sdp(port: p.callerMedia)
            // No header; a sender no trunk admits; two headers.
            let peers: [[String]] = [
                [], ["X-CallTrack-Peer: 127.0.0.9:5060;transport=udp"],
                ["X-CallTrack-Peer: 127.0.0.9:5060;transport=udp", "X-CallTrack-Peer: 127.0.0.1:5060;transport=udp"],
            ]
            for headers in peers {
                var invite = m
                invite.callID = "raw-refused-\(UUID().uuidString)@test"
                proxy.send(invite.request("INVITE", uri: uri, cseq: 1, body: offer, headers: headers), to: p.sip)
                _ = try await proxy.response(403, cseq: "1 INVITE")
            }
            proxy.send(m.request("OPTIONS", uri: "sip:127.0.0.1:\(p.sip)", cseq: 7), to: p.sip)
            _ = try await proxy.response(200, cseq: "7 OPTIONS")
            // Anyone else naming a trunk's address is not believed: the header is read only from the proxy.
            let other = try RawSIP(ip: "127.0.0.4")
            let o = RawMessage(port: other.port, ip: "127.0.0.4")
            other.send(
                o.request(
                    "INVITE", uri: uri, cseq: 1, body: offer,
                    headers: ["X-CallTrack-Peer: 127.0.0.1:5060;transport=udp"]), to: p.sip)
            _ = try await other.response(403, cseq: "1 INVITE")
            #expect(try await server.calls().isEmpty)
        }
    }
}
