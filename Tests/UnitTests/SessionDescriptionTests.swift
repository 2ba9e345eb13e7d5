import Foundation
import Testing

@testable import Telephony

@Suite("SDP rewriting") struct SessionDescriptionTests {
    let offer = """
        v=0\r
        o=alice 2890844526 2890844526 IN IP4 198.51.100.7\r
        s=-\r
        c=IN IP4 198.51.100.7\r
        t=0 0\r
        m=audio 49170 RTP/AVP 8 0 101\r
        a=rtpmap:8 PCMA/8000\r
        a=rtpmap:101 telephone-event/8000\r
        a=rtcp:49171\r
        a=ice-ufrag:abcd\r
        a=candidate:1 1 UDP 2130706431 198.51.100.7 49170 typ host\r
        a=sendonly\r
        m=video 51372 RTP/AVP 96\r
        a=rtpmap:96 H264/90000\r

        """

    @Test func readsEndpointAndDirection() throws {
        let sdp = try #require(SessionDescription(offer))
        #expect(sdp.audioEndpoint?.address == "198.51.100.7")
        #expect(sdp.audioEndpoint?.port == 49170)
        #expect(sdp.rtcpPort == 49171)
        #expect(sdp.direction == .sendonly)
        #expect(sdp.audioPayloadTypes == ["8", "0", "101"])
    }

    @Test func relayRewritesAddressesKeepsCodecsDropsICEAndVideo() throws {
        var origin = SDPOrigin(sessionID: 42)
        let out = try #require(SessionDescription(offer)).relayed(through: "192.0.2.1", port: 30000, origin: &origin)
        let text = out.text
        #expect(text.contains("c=IN IP4 192.0.2.1\r\n"))
        #expect(!text.contains("198.51.100.7"))
        #expect(text.contains("m=audio 30000 RTP/AVP 8 0 101\r\n"))
        #expect(text.contains("a=rtcp:30001\r\n"))
        #expect(text.contains("a=rtpmap:101 telephone-event/8000"))
        #expect(text.contains("a=sendonly"))
        #expect(!text.contains("ice-ufrag") && !text.contains("candidate"))
        #expect(text.contains("m=video 0 RTP/AVP 96"))
        #expect(text.contains("o=CallTrack 42 42 IN IP4 192.0.2.1"))
    }

    @Test func originVersionGoesUpOnlyWhenTheBodyChanges() throws {
        var origin = SDPOrigin(sessionID: 7)
        let sdp = try #require(SessionDescription(offer))
        _ = sdp.relayed(through: "192.0.2.1", port: 30000, origin: &origin)
        let same = sdp.relayed(through: "192.0.2.1", port: 30000, origin: &origin)
        #expect(same.text.contains("o=CallTrack 7 7 "))
        let held = sdp.with(direction: .inactive).relayed(through: "192.0.2.1", port: 30000, origin: &origin)
        #expect(held.text.contains("o=CallTrack 7 8 "))
        #expect(held.direction == .inactive)
    }

    @Test func holdAnswers() {
        #expect(MediaDirection.sendonly.answer == .recvonly)
        #expect(MediaDirection.recvonly.answer == .sendonly)
        #expect(MediaDirection.inactive.answer == .inactive)
        #expect(MediaDirection.sendrecv.answer == .sendrecv)
    }

    @Test func zeroAddressHoldIsKept() throws {
        let sdp = try #require(
            SessionDescription(
                "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"))
        #expect(sdp.direction == .inactive)
        var origin = SDPOrigin()
        #expect(sdp.relayed(through: "192.0.2.1", port: 30000, origin: &origin).text.contains("c=IN IP4 0.0.0.0"))
    }

    @Test func defaultOfferForDelayedOffer() {
        var origin = SDPOrigin()
        let sdp = SessionDescription.defaultOffer(address: "192.0.2.1", port: 30002, origin: &origin)
        #expect(sdp.audioEndpoint?.port == 30002)
        #expect(sdp.audioPayloadTypes == ["0", "8", "101"])
    }

    @Test func rejectsGarbage() {
        #expect(SessionDescription("hello") == nil)
        #expect(SessionDescription("v=0\r\ns=-\r\n") == nil)
    }

    @Test(
        "Callee failures map to the caller's code and the missed reason",
        arguments: [
            (486, 486, "busy"), (600, 486, "busy"), (603, 603, "rejected"), (480, 480, "no_answer"),
            (408, 480, "no_answer"), (404, 404, "failed"), (503, 503, "failed"), (407, 502, "failed"),
        ]) func calleeFailures(code: Int, callerCode: Int, reason: String)
    {
        let f = CalleeFailure(err: 0, code: UInt16(code), reason: "")
        #expect(Int(f.callerCode) == callerCode)
        #expect(f.missedReason.rawValue == reason)
    }

    @Test func calleeTimeout() {
        let f = CalleeFailure(err: ETIMEDOUT, code: 0, reason: "")
        #expect(f.callerCode == 504)
        #expect(f.missedReason == .failed)
    }
}

@Suite("SDP answers from relay state") struct SDPAnswerTests {
    @Test func answerKeepsOnlyOfferedCodecs() throws {
        let base = try #require(
            SessionDescription(
                "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
            ))
        let offer = try #require(
            SessionDescription(
                "v=0\r\no=- 2 2 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\na=sendonly\r\n"
            ))
        let answer = base.restricted(toPayloadTypesOf: offer)
        #expect(answer.audioPayloadTypes == ["0"])
        #expect(
            !answer.text.contains("PCMA") && !answer.text.contains("telephone-event") && !answer.text.contains("fmtp"))
        // Nothing in common: left whole.
        let g722 = try #require(
            SessionDescription("v=0\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 RTP/AVP 9\r\n"))
        #expect(base.restricted(toPayloadTypesOf: g722).audioPayloadTypes == ["8", "0", "101"])
    }
}
