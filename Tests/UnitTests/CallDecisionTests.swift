import CallTrackCore
import Foundation
import Testing

@testable import Telephony

@Suite("How a call ends") struct CallOutcomeTests {
    @Test("An answered call records 200 whoever hangs up, and how") func answeredLegs() {
        let bye = CallOutcome.legClosed(side: .caller, answered: true, err: ECONNRESET, code: 0, text: "")
        #expect(bye == .answered(by: .caller, .callerBye))
        #expect(bye.code == 200 && bye.toCaller == nil && bye.missedReason == nil)
        #expect(
            CallOutcome.legClosed(side: .caller, answered: true, err: ETIMEDOUT, code: 0, text: "").reason
                == .callerError)
        #expect(
            CallOutcome.legClosed(side: .callee, answered: true, err: ECONNRESET, code: 0, text: "")
                == .answered(by: .callee, .calleeBye))
        #expect(
            CallOutcome.legClosed(side: .callee, answered: true, err: EPROTO, code: 0, text: "").reason == .calleeError)
    }

    @Test("A caller who gives up before the answer is recorded as 487 and gets nothing more") func callerGivesUp() {
        let cancel = CallOutcome.legClosed(side: .caller, answered: false, err: ECONNRESET, code: 0, text: "")
        #expect(cancel.status == .missed && cancel.missedReason == .cancelled && cancel.code == 487)
        #expect(cancel.by == .caller && cancel.reason == .callerCancel && cancel.toCaller == nil)
        let broken = CallOutcome.legClosed(side: .caller, answered: false, err: ETIMEDOUT, code: 0, text: "")
        #expect(broken.missedReason == .failed && broken.reason == .callerError && broken.toCaller == nil)
    }

    @Test(
        "A callee's refusal reaches the waiting caller as the code the record keeps",
        arguments: [
            (UInt16(486), UInt16(486), "Busy Here", MissedReason.busy, EndReason.calleeBusy),
            (603, 603, "Decline", .rejected, .calleeRejected),
            (408, 480, "Temporarily Unavailable", .noAnswer, .calleeNoAnswer),
            (407, 502, "Bad Gateway", .failed, .trunkAuthFailed),
            (404, 404, "Not Found", .failed, .calleeFailed(code: 404)),
        ]) func calleeRefuses(code: UInt16, callerCode: UInt16, text: String, missed: MissedReason, reason: EndReason)
    {
        let outcome = CallOutcome.legClosed(
            side: .callee, answered: false, err: 0, code: code, text: code == 404 ? "Not Found" : "")
        #expect(outcome.toCaller == CallOutcome.Response(code: callerCode, reason: text))
        #expect(
            outcome.code == Int(callerCode) && outcome.missedReason == missed && outcome.reason == reason
                && outcome.by == .callee)
    }

    @Test("A callee that never answers the INVITE: 504 on a timeout, 502 when unreachable") func calleeUnreachable() {
        let timeout = CallOutcome.legClosed(side: .callee, answered: false, err: ETIMEDOUT, code: 0, text: "")
        #expect(timeout.toCaller?.code == 504 && timeout.reason == .calleeTimeout)
        let refused = CallOutcome.legClosed(side: .callee, answered: false, err: ECONNREFUSED, code: 0, text: "")
        #expect(refused.toCaller?.code == 502 && refused.reason == .calleeUnreachable)
    }

    @Test("CallTrack's own endings: ring timeout, shutdown, a forward that cannot be sent") func calltrackEnds() {
        #expect(CallOutcome.ringTimeout.toCaller?.code == 480 && CallOutcome.ringTimeout.missedReason == .noAnswer)
        #expect(CallOutcome.shutdown(answered: true) == .answered(by: .calltrack, .shutdown))
        let ringing = CallOutcome.shutdown(answered: false)
        #expect(ringing.toCaller?.code == 503 && ringing.code == 503 && ringing.by == .calltrack)
        let forward = CallOutcome.failed(.forwardFailed)
        #expect(forward.toCaller == .init(code: 502, reason: "Bad Gateway") && forward.missedReason == .failed)
        #expect(
            CallOutcome.failed(.acceptFailed, code: 500, "Server Internal Error", tellCaller: false).toCaller == nil)
    }

    @Test("End reasons keep the names stored and reported as end_reason") func endReasonNames() {
        let names = [
            EndReason.callerBye, .callerCancel, .calleeBusy, .calleeFailed(code: 503), .trunkAuthFailed, .ringTimeout,
            .rtpTimeout, .shutdown, .calleeNoSDP,
        ].map(\.name)
        #expect(
            names == [
                "caller_bye", "caller_cancel", "callee_busy", "callee_503", "trunk_auth_failed", "ring_timeout",
                "rtp_timeout", "shutdown", "callee_no_sdp",
            ])
    }
}

@Suite("Offer/answer on a re-INVITE") struct OfferAnswerTests {
    private func sdp(_ pts: String, _ maps: [String], direction: String = "sendrecv") -> SessionDescription {
        SessionDescription(
            (["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0", "m=audio 4000 RTP/AVP \(pts)"]
                + maps.map { "a=rtpmap:\($0)" } + ["a=\(direction)"]).joined(separator: "\r\n") + "\r\n")!
    }

    @Test("Both legs end on the codec the other side sends now, when the offer has it") func convergesOnWhatFlows() {
        let offer = sdp("0 111 101", ["0 PCMU/8000", "111 opus/48000/2", "101 telephone-event/8000"])
        let other = sdp("111 0 101", ["111 opus/48000/2", "0 PCMU/8000", "101 telephone-event/8000"])
        let (answer, toOther) = OfferAnswer.reoffer(offer, otherCapabilities: other, otherSends: "opus")
        #expect(answer.audioPayloadTypes == ["111", "101"])
        #expect(toOther.audioPayloadTypes == ["111", "101"])
    }

    @Test("Without a codec in flow the answer's first shared codec is the one") func firstSharedCodec() {
        let offer = sdp("8 0", ["8 PCMA/8000", "0 PCMU/8000"])
        let other = sdp("0 8 9", ["0 PCMU/8000", "8 PCMA/8000", "9 G722/8000"])
        let (answer, toOther) = OfferAnswer.reoffer(offer, otherCapabilities: other, otherSends: "G722")
        #expect(answer.firstAudioCodec == "PCMU" && answer.audioPayloadTypes == ["0"])
        #expect(toOther.audioPayloadTypes == ["0"])
    }

    @Test("A hold offer gets the matching direction; nothing in common leaves both whole")
    func directionsAndNoCommonCodec() {
        let hold = sdp("0", ["0 PCMU/8000"], direction: "sendonly")
        let other = sdp("0", ["0 PCMU/8000"])
        #expect(OfferAnswer.reoffer(hold, otherCapabilities: other, otherSends: nil).answer.direction == .recvonly)
        let g729 = sdp("18", [])
        let (answer, toOther) = OfferAnswer.reoffer(g729, otherCapabilities: other, otherSends: "PCMU")
        #expect(answer.audioPayloadTypes == ["0"] && toOther == g729)
    }

    @Test("A re-INVITE without SDP gets CallTrack's current offer, sending and receiving") func offerOnRequest() {
        #expect(
            OfferAnswer.offerOnRequest(current: sdp("0", ["0 PCMU/8000"], direction: "inactive")).direction == .sendrecv
        )
    }
}
