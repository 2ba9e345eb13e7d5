import Foundation
import Testing

/// A stranger on the network cannot listen to a call, speak into it, or turn the relay on itself.
@Suite("Media relay against strangers", .serialized) struct MediaSecurityTests {
    /// An RTP packet a stranger sends: a marker SSRC nothing else uses.
    static let strangerSSRC: [UInt8] = [0xde, 0xad, 0xbe, 0xef]
    static func strangerPacket(_ seq: UInt16) -> [UInt8] {
        [0x80, 0x08, UInt8(seq >> 8), UInt8(seq & 0xff), 0, 0, 0, 160] + strangerSSRC
            + [UInt8](repeating: 0xd5, count: 160)
    }

    func metric(_ server: CallTrackServer, _ name: String) async throws -> Int {
        let text = String(decoding: try await server.get("/metrics", token: nil).body, as: UTF8.self)
        let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) } ?? -1
    }

    @Test("A port sprayer hears nothing and injects nothing into a live call") func sprayerGetsNothing() async throws {
        try await withServer { server in
            let p = server.ports
            let (probe, callee, caller) = try await server.callWithProbeCallee(talkMilliseconds: 4000)
            // From an address no trunk allows: one packet to every even port of the RTP range, ten times a second.
            let stranger = try RawSIP(ip: "127.0.0.2")
            let spray = Task {
                var seq: UInt16 = 0
                while !Task.isCancelled {
                    for port in stride(from: p.rtpMin + p.rtpMin % 2, through: p.rtpMax, by: 2) {
                        stranger.sendBytes(Self.strangerPacket(seq), to: port)
                        stranger.sendBytes(Self.strangerPacket(seq), to: port + 1)
                    }
                    seq &+= 1
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            #expect(try await caller.wait() == 0, "\(caller.diagnostics())")
            spray.cancel()
            _ = try await callee.wait()
            let heard = try await stranger.collect(for: .milliseconds(200))
            #expect(heard.isEmpty, "the sprayer received \(heard.count) packets of the call")
            let toCallee = probe.datagrams()
            let injected = toCallee.filter { $0.count >= 12 && Array($0[8..<12]) == Self.strangerSSRC }.count
            #expect(injected == 0, "\(injected) of the sprayer's packets reached the callee")
            #expect(toCallee.count >= 100, "the callee got \(toCallee.count) packets of the caller's audio")
            let call = try #require(try await server.finishedCalls(count: 1).first)
            let media = call["media"] as? [String: Any]
            #expect(
                (media?["callee_to_caller"] as? [String: Any])?["packets"] as? Int == 0,
                "nothing may be relayed to the caller")
            #expect(try await metric(server, "calltrack_rtp_packets_dropped_total{reason=\"stranger\"}") > 100)
        }
    }

    @Test("A re-INVITE aiming media at the call's own relay port gets 488 and the audio keeps flowing")
    func reinviteLoopRefused() async throws {
        try await withServer { server in
            let p = server.ports
            let calleeMedia = try UDPProbe(port: p.sip + 41)
            let callee = try RawCallee(port: p.callee, mediaPort: p.sip + 41)
            let caller = try RawSIP()
            let media = try RawSIP(port: p.sip + 42)  // below every relay range
            let m = RawMessage(port: caller.port)
            let uri = "sip:84990000001@127.0.0.1:\(p.sip)"
            let ok = try await RawCallee.establish(caller, m, server, mediaPort: media.port)
            // CallTrack's relay port toward the caller, from its answer.
            let relayPort = try #require(RawSIP.audioPort(of: ok))
            caller.send(
                m.inDialog("INVITE", uri: uri, cseq: 2, answer: ok, body: RawMessage.sdp(port: relayPort)), to: p.sip)
            _ = try await caller.response(488, cseq: "2 INVITE")
            caller.send(m.inDialog("ACK", uri: uri, cseq: 2, answer: ok), to: p.sip)
            for seq in 0..<30 {
                media.sendBytes(Self.strangerPacket(UInt16(seq)), to: relayPort)
                try await Task.sleep(for: .milliseconds(20))
            }
            try await Task.sleep(for: .milliseconds(300))
            let relayed = calleeMedia.datagrams().count
            #expect(relayed == 30, "the callee got \(relayed) of 30 packets after the refused re-INVITE")
            #expect(try await metric(server, "calltrack_rtp_packets_dropped_total{reason=\"loop\"}") == 0)
            caller.send(m.inDialog("BYE", uri: uri, cseq: 3, answer: ok), to: p.sip)
            _ = try await caller.response(200, cseq: "3 BYE")
            callee.stop()
        }
    }

    @Test("An INVITE whose SDP points media at a group, a name or CallTrack itself gets 488 and leaves no record")
    func badOfferAddresses() async throws {
        try await withServer { server in
            let p = server.ports
            let probe = try UDPProbe(port: p.callee)
            let caller = try RawSIP()
            let offers: [(String, String, Int)] = [
                ("multicast", "224.0.0.1", 40000), ("broadcast", "255.255.255.255", 40000),
                ("0.0.0.0/8", "0.1.2.3", 40000), ("a hostname", "media.example.invalid", 40000),
                ("CallTrack's SIP port", "127.0.0.1", p.sip), ("CallTrack's relay range", "127.0.0.1", p.rtpMin + 2),
            ]
            for (name, address, port) in offers {
                let m = RawMessage(port: caller.port)
                let sdp = RawMessage.sdp(port: port).replacingOccurrences(
                    of: "c=IN IP4 127.0.0.1", with: "c=IN IP4 \(address)")
                caller.send(
                    m.request("INVITE", uri: "sip:84990000001@127.0.0.1:\(p.sip)", cseq: 1, body: sdp), to: p.sip)
                let got = try await caller.collect(for: .milliseconds(400))
                #expect(got.count == 1 && got[0].hasPrefix("SIP/2.0 488"), "\(name): \(got.map { $0.prefix(50) })")
            }
            #expect(probe.received().isEmpty)
            #expect(try await server.calls().isEmpty)
        }
    }

    /// A caller behind NAT: its SDP names one port, its RTP comes from another on the same IP.
    /// Returns how many of 30 packets reached the callee.
    private func natCaller(latching: String) async throws -> Int {
        var options = CallTrackServer.Options()
        options.sipExtra = ["media_latching: \(latching)"]
        let server = try CallTrackServer(options: options)
        try await server.start()
        let p = server.ports
        let calleeMedia = try UDPProbe(port: p.sip + 41)
        let callee = try RawCallee(port: p.callee, mediaPort: p.sip + 41)
        let caller = try RawSIP()
        let translated = try RawSIP(port: p.sip + 43)  // where the NAT's packets really come from
        let m = RawMessage(port: caller.port)
        let ok = try await RawCallee.establish(caller, m, server, mediaPort: p.sip + 42)
        let relayPort = try #require(RawSIP.audioPort(of: ok))
        for seq in 0..<30 {
            translated.sendBytes(Self.strangerPacket(UInt16(seq)), to: relayPort)
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(300))
        let relayed = calleeMedia.datagrams().count
        caller.send(m.inDialog("BYE", uri: "sip:84990000001@127.0.0.1:\(p.sip)", cseq: 2, answer: ok), to: p.sip)
        _ = try await caller.response(200, cseq: "2 BYE")
        callee.stop()
        try await server.stop()
        return relayed
    }

    @Test("sip.media_latching: a caller behind NAT is latched from its SIP peer's address by default, not with off")
    func latchingModes() async throws {
        #expect(try await natCaller(latching: "signalling") == 30)
        #expect(try await natCaller(latching: "off") == 0)
    }
}
