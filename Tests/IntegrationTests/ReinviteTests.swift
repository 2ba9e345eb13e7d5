import Foundation
import Testing

/// Offer/answer across both legs after the call is up: both directions end on one codec.
@Suite("Re-INVITEs", .serialized) struct ReinviteTests {
    func firstPayloadType(_ message: String) -> String? {
        RawSIP.audioLine(of: message)?.split(separator: " ").dropFirst(3).first.map(String.init)
    }

    @Test("A re-INVITE preferring another codec: CallTrack's answer and the offer carried across name one codec")
    func bothLegsEndOnOneCodec() async throws {
        try await withServer { server in
            let p = server.ports
            let callee = try RawCallee(port: p.callee, mediaPort: p.sip + 41)
            let caller = try RawSIP()
            let m = RawMessage(port: caller.port)
            let uri = "sip:84990000001@127.0.0.1:\(p.sip)"
            // Set up on PCMU (the callee answers with the offer's order).
            let ok = try await RawCallee.establish(caller, m, server, mediaPort: p.sip + 42, payloads: "0 8 101")
            #expect(firstPayloadType(ok) == "0")
            // The caller now prefers PCMA: the callee, asked the same, would switch while the caller kept PCMU.
            caller.send(
                m.inDialog(
                    "INVITE", uri: uri, cseq: 2, answer: ok, body: RawMessage.sdp(port: p.sip + 42, payloads: "8 0 101")
                ), to: p.sip)
            let answer = try await caller.response(200, cseq: "2 INVITE")
            caller.send(m.inDialog("ACK", uri: uri, cseq: 2, answer: ok), to: p.sip)
            try await Task.sleep(for: .milliseconds(500))
            let carried = try #require(callee.invites().last)
            let answerCodecs = RawSIP.audioLine(of: answer) ?? ""
            let carriedCodecs = RawSIP.audioLine(of: carried) ?? ""
            #expect(answerCodecs.hasSuffix(" 0 101"), "answer to the caller: \(answerCodecs)")
            #expect(carriedCodecs.hasSuffix(" 0 101"), "offer carried to the callee: \(carriedCodecs)")
            caller.send(m.inDialog("BYE", uri: uri, cseq: 3, answer: ok), to: p.sip)
            _ = try await caller.response(200, cseq: "3 BYE")
            callee.stop()
        }
    }

    @Test("A re-INVITE with the same private SDP address keeps the NAT latch: held music goes where the RTP came from")
    func latchSurvivesARefresh() async throws {
        try await withServer { server in
            let p = server.ports
            let callee = try RawCallee(port: p.callee, mediaPort: p.sip + 41)
            let calleeMedia = try RawSIP(port: p.sip + 41)
            let caller = try RawSIP()
            let natted = try RawSIP(port: p.sip + 43)  // where the caller's RTP really comes from
            let m = RawMessage(port: caller.port)
            let uri = "sip:84990000001@127.0.0.1:\(p.sip)"
            // The caller's SDP names a port nobody listens on (its private address behind NAT).
            let ok = try await RawCallee.establish(caller, m, server, mediaPort: p.sip + 44)
            let relayPort = try #require(RawSIP.audioPort(of: ok))
            let forwarded = try #require(callee.invites().first)
            let calleeRelay = try #require(RawSIP.audioPort(of: forwarded))
            for seq in 0..<10 {
                natted.sendBytes(MediaSecurityTests.strangerPacket(UInt16(seq)), to: relayPort)
                try await Task.sleep(for: .milliseconds(20))
            }
            // A session refresh with the same SDP address, then the callee's music on hold.
            caller.send(
                m.inDialog("INVITE", uri: uri, cseq: 2, answer: ok, body: RawMessage.sdp(port: p.sip + 44)), to: p.sip)
            _ = try await caller.response(200, cseq: "2 INVITE")
            caller.send(m.inDialog("ACK", uri: uri, cseq: 2, answer: ok), to: p.sip)
            try await Task.sleep(for: .seconds(6))  // past the learning window: only the latch can carry the music
            for seq in 0..<20 {
                calleeMedia.sendBytes(MediaSecurityTests.strangerPacket(UInt16(100 + seq)), to: calleeRelay)
                try await Task.sleep(for: .milliseconds(20))
            }
            let heard = try await natted.collect(for: .milliseconds(400))
            #expect(heard.count == 20, "the caller behind NAT got \(heard.count) of 20 packets after the refresh")
            caller.send(m.inDialog("BYE", uri: uri, cseq: 3, answer: ok), to: p.sip)
            _ = try await caller.response(200, cseq: "3 BYE")
            callee.stop()
        }
    }

    @Test("A caller over TCP behind NAT gets the callee's BYE on its own connection, not a new one to its Contact")
    func byeOverTheCallersConnection() async throws {
        try await withServer { server in
            let p = server.ports
            let callee = try SIPp(
                "callee", scenario: Scenario.calleeHangsUp, localPort: p.callee, mediaPort: p.calleeMedia, target: nil,
                pauseMilliseconds: 800)
            try await Task.sleep(for: .milliseconds(200))
            // The caller's Contact is its private address; nothing listens there.
            let tcp = try RawHTTP(port: p.sip)
            var m = RawMessage(port: 5999)
            m.callID = "tcp-\(UUID().uuidString)"
            let uri = "sip:84990000001@127.0.0.1:\(p.sip);transport=tcp"
            let invite = m.request(
                "INVITE", uri: uri, cseq: 1, body: RawMessage.sdp(port: p.sip + 42),
                contact: "<sip:caller@127.0.0.1:5999;transport=tcp>"
            ).replacingOccurrences(of: "SIP/2.0/UDP", with: "SIP/2.0/TCP")
            tcp.send(invite)
            let setup = tcp.read(until: { $0.contains("SIP/2.0 200 OK") }, timeout: .seconds(5))
            let ok = String(setup[setup.range(of: "SIP/2.0 200 OK")!.lowerBound...])
            tcp.send(
                m.inDialog("ACK", uri: uri, cseq: 1, answer: ok).replacingOccurrences(
                    of: "SIP/2.0/UDP", with: "SIP/2.0/TCP"))
            let rest = tcp.read(until: { $0.contains("BYE sip:") }, timeout: .seconds(6))
            #expect(rest.contains("BYE sip:"), "no BYE on the caller's connection: \(rest.suffix(400))")
            if let range = rest.range(of: "BYE sip:") {
                let bye = String(rest[range.lowerBound...])
                tcp.send(RawMessage.reply(to: bye, 200, "OK"))
            }
            #expect(try await callee.wait() == 0, "\(callee.diagnostics())")
        }
    }
}
