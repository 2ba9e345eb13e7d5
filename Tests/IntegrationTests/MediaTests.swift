import Foundation
import Testing

/// What happens to the audio: relayed unchanged, and calls without media are cleaned up.
@Suite("Media relay", .serialized) struct MediaTests {
    @Test("RTP reaches the callee unchanged: payload, sequence numbers, timestamps and SSRC") func rtpUnchanged()
        async throws
    {
        try await withServer { server in
            let (probe, callee, caller) = try await server.callWithProbeCallee(talkMilliseconds: 5500)
            #expect(try await caller.wait() == 0, "\(caller.diagnostics())")
            _ = try await callee.wait()
            let sent = try Pcap.udpPayloads(path: SIPp.audioPcap).filter { $0.count >= 12 && $0[0] >> 6 == 2 }
            let received = probe.datagrams()
            let sentSet = Set(sent)
            #expect(sent.count > 200)
            // Everything that arrived is byte-for-byte a packet the caller sent, and (nearly) all of them arrived.
            #expect(!received.isEmpty)
            let unchanged = received.filter { sentSet.contains($0) }.count
            #expect(
                unchanged == received.count, "\(received.count - unchanged) of \(received.count) packets were altered")
            // The pcap has 30 ms packets: 5.5 s of call carries about 180 of them, in the caller's order.
            #expect(received.count >= 150, "received \(received.count) of \(sent.count)")
            #expect(received == Array(sent.prefix(received.count)), "packets arrived out of order or with gaps")
            let calls = try await server.finishedCalls(count: 1)
            let media = calls.first?["media"] as? [String: Any]
            #expect((media?["caller_to_callee"] as? [String: Any])?["packets"] as? Int == received.count)
        }
    }

    @Test("No media for rtp_timeout_seconds: both legs get BYE, reason recorded") func rtpTimeout() async throws {
        var options = CallTrackServer.Options()
        options.rtpTimeoutSeconds = 2
        try await withServer(options: options) { server in
            let p = server.ports
            let callee = try SIPp(
                "callee", scenario: Scenario.calleeAnswers(ringMilliseconds: 100, audio: false), localPort: p.callee,
                mediaPort: p.calleeMedia, target: nil)
            try await Task.sleep(for: .milliseconds(200))
            let caller = try SIPp(
                "caller", scenario: Scenario.callerWaitsForBye(audio: false), localPort: p.caller,
                mediaPort: p.callerMedia, target: "127.0.0.1:\(p.sip)", service: "84990000001")
            #expect(try await caller.wait() == 0, "\(caller.diagnostics())")
            #expect(try await callee.wait() == 0, "\(callee.diagnostics())")
            let call = try #require(try await server.finishedCalls(count: 1).first)
            #expect(call["status"] as? String == "answered")
            #expect(call["end_reason"] as? String == "rtp_timeout")
            #expect(call["hangup_by"] as? String == "calltrack")
            let talk = try #require(call["talk_seconds"] as? Double)
            #expect(talk >= 2 && talk < 5, "talk \(talk)")
        }
    }
}
