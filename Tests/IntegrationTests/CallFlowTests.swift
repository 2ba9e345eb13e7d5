import Foundation
import Testing

/// Calls through a real CallTrack process, with sipp as caller and callee on loopback.
@Suite("Call flows", .serialized) struct CallFlowTests {
    /// Runs one call: starts the callee, then the caller; both sipp runs must succeed.
    private func run(
        callee calleeScenario: String?, caller callerScenario: String, server: CallTrackServer,
        dialled: String = "84990000001", pause: Int = 1000, callerIP: String = "127.0.0.1", calls: Int = 1,
        rate: Int = 10, transport: String = "u1"
    ) async throws {
        let p = server.ports
        let callee = try calleeScenario.map {
            try SIPp(
                "callee", scenario: $0, localPort: p.callee, mediaPort: p.calleeMedia, target: nil, calls: calls,
                pauseMilliseconds: pause)
        }
        try await Task.sleep(for: .milliseconds(200))
        let caller = try SIPp(
            "caller", scenario: callerScenario, localPort: p.caller, mediaPort: p.callerMedia,
            target: "127.0.0.1:\(p.sip)", service: dialled, calls: calls, rate: rate, pauseMilliseconds: pause,
            localIP: callerIP, transport: transport)
        let callerStatus = try await caller.wait()
        let calleeStatus = try await callee?.wait() ?? 0
        #expect(callerStatus == 0, "caller failed\n\(caller.diagnostics())\n\(server.log().suffix(3000))")
        #expect(calleeStatus == 0, "callee failed\n\(callee?.diagnostics() ?? "")\n\(server.log().suffix(3000))")
    }

    private func onlyCall(_ server: CallTrackServer) async throws -> [String: Any] {
        let calls = try await server.finishedCalls(count: 1)
        #expect(calls.count == 1)
        return try #require(calls.first)
    }

    private func media(_ call: [String: Any], _ direction: String) -> Int {
        ((call["media"] as? [String: Any])?[direction] as? [String: Any])?["packets"] as? Int ?? -1
    }

    @Test("Answered call: audio both ways, record answered with ring and talk time") func answeredCall() async throws {
        try await withServer { server in
            try await run(
                callee: Scenario.calleeAnswers(ringMilliseconds: 500), caller: Scenario.callerHangsUp(), server: server,
                pause: 3000)
            let call = try await onlyCall(server)
            #expect(call["status"] as? String == "answered")
            #expect(call["missed_reason"] is NSNull)
            #expect(call["did"] as? String == "+74990000001")
            #expect(call["did_dialled"] as? String == "84990000001")
            #expect(call["caller"] as? String == "79161234567")
            #expect(call["project"] as? String == "shop")
            #expect(call["hangup_by"] as? String == "caller")
            #expect(call["sip_code"] as? Int == 200)
            let ring = try #require(call["ring_seconds"] as? Double)
            let talk = try #require(call["talk_seconds"] as? Double)
            #expect(ring >= 0.4 && ring < 3, "ring \(ring)")
            #expect(talk >= 2.5 && talk < 8, "talk \(talk)")
            // 3 s of the pcap's 30 ms packets is 100 per direction; allow for start-up timing.
            #expect(media(call, "caller_to_callee") > 70, "\(call)")
            #expect(media(call, "callee_to_caller") > 70, "\(call)")
            #expect(call["ringing_at"] is String)
            let metrics = String(decoding: try await server.get("/metrics", token: nil).body, as: UTF8.self)
            #expect(metrics.contains("calltrack_calls_total{status=\"answered\"} 1"), "\(metrics)")
            #expect(metrics.contains("calltrack_active_calls 0"))
        }
    }

    @Test("Early media: the callee's 183 with SDP reaches the caller, then the answer") func earlyMedia() async throws {
        try await withServer { server in
            try await run(
                callee: Scenario.calleeEarlyMedia, caller: Scenario.callerHangsUp(), server: server, pause: 1500)
            let call = try await onlyCall(server)
            #expect(call["status"] as? String == "answered")
            #expect(media(call, "callee_to_caller") > 20)
        }
    }

    @Test("The caller hears 100 Trying at once, then only what the callee says: its 180, never a 183 it did not send")
    func tryingThenTheCalleesProgress() async throws {
        try await withServer { server in
            let p = server.ports
            let callee = try SIPp(
                "callee", scenario: Scenario.calleeAnswers(ringMilliseconds: 300, audio: false), localPort: p.callee,
                mediaPort: p.calleeMedia, target: nil)
            try await Task.sleep(for: .milliseconds(200))
            let caller = try RawSIP()
            let m = RawMessage(port: caller.port)
            let invite = m.request(
                "INVITE", uri: "sip:84990000001@127.0.0.1:\(p.sip)", cseq: 1, body: RawMessage.sdp(port: p.callerMedia))
            caller.send(invite, to: p.sip)
            let ok = try await caller.response(200, cseq: "1 INVITE")
            // What came before the 200, in order (the responses it waited past are kept).
            let before = try await caller.collect(for: .milliseconds(100))
            caller.send(m.inDialog("ACK", uri: "sip:84990000001@127.0.0.1:\(p.sip)", cseq: 1, answer: ok), to: p.sip)
            try await Task.sleep(for: .milliseconds(200))
            caller.send(m.inDialog("BYE", uri: "sip:84990000001@127.0.0.1:\(p.sip)", cseq: 2, answer: ok), to: p.sip)
            _ = try await caller.response(200, cseq: "2 BYE")
            #expect(try await callee.wait() == 0, "\(callee.diagnostics())")
            let codes = before.compactMap { $0.hasPrefix("SIP/2.0 ") ? Int($0.dropFirst(8).prefix(3)) : nil }
            #expect(codes.first == 100, "\(codes)")
            #expect(codes.contains(180) && !codes.contains(183), "\(codes)")
            #expect(try await onlyCall(server)["status"] as? String == "answered")
        }
    }

    @Test(
        "Caller cancels while it has only heard 100 Trying: 200 to the CANCEL, 487 to the INVITE, CANCEL to the callee, record missed/cancelled"
    ) func callerCancelsBeforeProgress() async throws {
        try await withServer { server in
            let p = server.ports
            let callee = try SIPp(
                "callee", scenario: Scenario.calleeWaitsForCancel(100, "Trying"), localPort: p.callee,
                mediaPort: p.calleeMedia, target: nil)
            try await Task.sleep(for: .milliseconds(200))
            let caller = try RawSIP()
            let m = RawMessage(port: caller.port)
            let uri = "sip:84990000001@127.0.0.1:\(p.sip)"
            let branch = "z9hG4bK-\(m.branchSeed)-1-INVITE"
            caller.send(m.request("INVITE", uri: uri, cseq: 1, body: RawMessage.sdp(port: p.callerMedia)), to: p.sip)
            _ = try await caller.response(100, cseq: "1 INVITE")
            // The forwarded INVITE is out and the callee has said 100: CallTrack may cancel it.
            try await Task.sleep(for: .milliseconds(500))
            caller.send(m.request("CANCEL", uri: uri, cseq: 1, branch: branch), to: p.sip)
            _ = try await caller.response(200, cseq: "1 CANCEL")
            let terminated = try await caller.response(487, cseq: "1 INVITE")
            let toTag = RawSIP.tag(RawSIP.header("To", in: terminated))
            caller.send(m.request("ACK", uri: uri, cseq: 1, toTag: toTag, branch: branch), to: p.sip)
            #expect(try await callee.wait() == 0, "\(callee.diagnostics())")
            let call = try await onlyCall(server)
            #expect(call["status"] as? String == "missed" && call["missed_reason"] as? String == "cancelled", "\(call)")
            #expect(call["sip_code"] as? Int == 487 && call["hangup_by"] as? String == "caller", "\(call)")
        }
    }

    @Test("sipp's own uac_pcap and uas scenarios call through CallTrack unchanged") func sippsOwnScenarios()
        async throws
    {
        try await withServer { server in
            // Its audio and DTMF files, where Debian puts them.
            let uacPcap = try runCommand(["sipp", "-sd", "uac_pcap"]).output.replacingOccurrences(
                of: "\"pcap/", with: "\"/usr/share/sip-tester/")
            let uas = try runCommand(["sipp", "-sd", "uas"]).output
            #expect(uacPcap.contains("<scenario") && uas.contains("<scenario"))
            try await run(callee: uas, caller: uacPcap, server: server, pause: 1000)
            #expect(try await onlyCall(server)["status"] as? String == "answered")
        }
    }

    @Test("Caller cancels while ringing: callee gets CANCEL, record missed/cancelled") func callerCancels() async throws
    {
        try await withServer { server in
            try await run(callee: Scenario.calleeRingsUntilCancel, caller: Scenario.callerCancels, server: server)
            let call = try await onlyCall(server)
            #expect(call["status"] as? String == "missed")
            #expect(call["missed_reason"] as? String == "cancelled")
            #expect(call["hangup_by"] as? String == "caller")
            #expect(call["sip_code"] as? Int == 487)
        }
    }

    @Test("Callee busy: 486 reaches the caller, record missed/busy") func calleeBusy() async throws {
        try await withServer { server in
            try await run(
                callee: Scenario.calleeRejects(486, "Busy Here"), caller: Scenario.callerExpects(486), server: server)
            let call = try await onlyCall(server)
            #expect(call["status"] as? String == "missed")
            #expect(call["missed_reason"] as? String == "busy")
            #expect(call["sip_code"] as? Int == 486)
        }
    }

    @Test("Callee declines: 603 reaches the caller, record missed/rejected") func calleeDeclines() async throws {
        try await withServer { server in
            try await run(
                callee: Scenario.calleeRejects(603, "Decline"), caller: Scenario.callerExpects(603), server: server)
            let call = try await onlyCall(server)
            #expect(call["missed_reason"] as? String == "rejected")
        }
    }

    @Test("Ring timeout: callee gets CANCEL, caller 480, record missed/no_answer") func ringTimeout() async throws {
        var options = CallTrackServer.Options()
        options.ringTimeoutSeconds = 2
        try await withServer(options: options) { server in
            let started = ContinuousClock.now
            try await run(callee: Scenario.calleeRingsUntilCancel, caller: Scenario.callerExpects(480), server: server)
            #expect(ContinuousClock.now - started >= .seconds(2))
            let call = try await onlyCall(server)
            #expect(call["status"] as? String == "missed")
            #expect(call["missed_reason"] as? String == "no_answer")
            #expect(call["end_reason"] as? String == "ring_timeout")
            #expect(call["sip_code"] as? Int == 480)
        }
    }

    @Test("Callee hangs up first: BYE reaches the caller, record answered, hangup_by callee") func calleeHangsUp()
        async throws
    {
        try await withServer { server in
            try await run(
                callee: Scenario.calleeHangsUp, caller: Scenario.callerWaitsForBye(), server: server, pause: 1500)
            let call = try await onlyCall(server)
            #expect(call["status"] as? String == "answered")
            #expect(call["hangup_by"] as? String == "callee")
            #expect(call["end_reason"] as? String == "callee_bye")
        }
    }

    @Test("Hold and resume re-INVITEs and INFO pass through with SDP rewritten") func holdAndResume() async throws {
        try await withServer { server in
            try await run(
                callee: Scenario.calleeSeesHoldAndResume, caller: Scenario.callerHoldsAndResumes, server: server)
            let call = try await onlyCall(server)
            #expect(call["status"] as? String == "answered")
            #expect(call["hangup_by"] as? String == "caller")
        }
    }

    @Test("Delayed offer: an INVITE without SDP is answered with CallTrack's offer") func delayedOffer() async throws {
        try await withServer { server in
            try await run(
                callee: Scenario.calleeAnswers(), caller: Scenario.callerDelayedOffer, server: server, pause: 2000)
            let call = try await onlyCall(server)
            #expect(call["status"] as? String == "answered")
            #expect(media(call, "caller_to_callee") > 30)
            #expect(media(call, "callee_to_caller") > 30)
        }
    }

    @Test("Untrusted source gets 403 and the callee never sees an INVITE") func untrustedSource() async throws {
        try await withServer { server in
            let p = server.ports
            // The callee's port is watched by a bare socket: nothing may arrive there.
            let callee = try UDPProbe(port: p.callee)
            let caller = try SIPp(
                "caller", scenario: Scenario.callerExpects(403), localPort: p.caller, mediaPort: p.callerMedia,
                target: "127.0.0.1:\(p.sip)", service: "84990000001", localIP: "127.0.0.2")
            #expect(try await caller.wait() == 0, "\(caller.diagnostics())")
            try await Task.sleep(for: .milliseconds(500))
            #expect(callee.received().isEmpty, "the forwarding target received SIP from an untrusted call")
            #expect(try await server.calls().isEmpty)
            // Refusals are logged in aggregate, at most a line per interval: wait for the line.
            let deadline = ContinuousClock.now + .seconds(3)
            while !server.log().contains("untrusted_source=1"), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(server.log().contains("SIP requests refused (source not allowed"), "\(server.log().suffix(2000))")
            #expect(server.log().contains("untrusted_source=1"))
            let metrics = String(decoding: try await server.get("/metrics", token: nil).body, as: UTF8.self)
            #expect(metrics.contains("calltrack_invites_refused_total{reason=\"untrusted_source\"} 1"), "\(metrics)")
        }
    }

    @Test("Unknown DID gets 404") func unknownNumber() async throws {
        try await withServer { server in
            try await run(callee: nil, caller: Scenario.callerExpects(404), server: server, dialled: "74990009999")
            #expect(try await server.calls().isEmpty)
        }
    }

    @Test("OPTIONS keep-alive from a trunk gets 200") func optionsKeepAlive() async throws {
        try await withServer { server in try await run(callee: nil, caller: Scenario.options, server: server) }
    }

    @Test("A caller over TCP reaches a callee over UDP") func tcpCaller() async throws {
        try await withServer { server in
            try await run(
                callee: Scenario.calleeAnswers(), caller: Scenario.callerHangsUp(), server: server, transport: "t1")
            let call = try await onlyCall(server)
            #expect(call["status"] as? String == "answered")
            #expect(media(call, "caller_to_callee") > 10)
        }
    }

    @Test("Digest auth to the trunk: CallTrack answers the challenge with the configured credentials")
    func trunkDigestAuth() async throws {
        var options = CallTrackServer.Options()
        options.trunkUsername = "calltrack"
        options.trunkPassword = "s3cret-from-env"
        try await withServer(options: options) { server in
            try await run(
                callee: Scenario.calleeRequiresAuth(username: "calltrack", password: "s3cret-from-env"),
                caller: Scenario.callerHangsUp(), server: server)
            let call = try await onlyCall(server)
            #expect(call["status"] as? String == "answered")
        }
    }

    @Test("register: true registers the trunk with digest auth") func trunkRegistration() async throws {
        let ports = TestPorts.next()
        var options = CallTrackServer.Options()
        options.trunkUsername = "calltrack"
        options.trunkPassword = "reg-pass"
        options.register = true
        options.proxyPort = ports.sip + 45
        let registrar = try SIPp(
            "registrar", scenario: Scenario.registrar(username: "calltrack", password: "reg-pass"),
            localPort: ports.sip + 45, mediaPort: ports.calleeMedia, target: nil, timeoutSeconds: 15)
        try await Task.sleep(for: .milliseconds(200))
        try await withServer(ports: ports, options: options) { server in
            let status = try await registrar.wait()
            #expect(status == 0, "\(registrar.diagnostics())\n\(server.log().suffix(2000))")
        }
    }
}
