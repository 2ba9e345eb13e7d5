import CallTrackCore
import Foundation

/// How a call ends: what its record says and, for a caller still waiting for an answer, the final
/// response it gets. Pure values: every way a call can end is decided here and unit-tested.
struct CallOutcome: Equatable {
    /// A final response for the caller's INVITE.
    struct Response: Equatable {
        let code: UInt16
        let reason: String
    }

    var status: CallStatus
    var missedReason: MissedReason?
    /// The final SIP code the caller received (200 for answered calls).
    var code: Int
    var by: HangupParty
    var reason: EndReason
    /// Sent to a caller not answered yet; nil when it has its final response already or hung up itself.
    var toCaller: Response?

    /// An answered call ends: the record keeps 200 whoever hangs up.
    static func answered(by party: HangupParty, _ reason: EndReason) -> CallOutcome {
        CallOutcome(status: .answered, missedReason: nil, code: 200, by: party, reason: reason, toCaller: nil)
    }

    /// An unanswered call ends with `code`; the caller gets it unless it is gone (`tellCaller` false).
    static func missed(
        _ missed: MissedReason, code: UInt16, _ text: String, by party: HangupParty, _ reason: EndReason,
        tellCaller: Bool = true
    ) -> CallOutcome {
        CallOutcome(
            status: .missed, missedReason: missed, code: Int(code), by: party, reason: reason,
            toCaller: tellCaller ? Response(code: code, reason: text) : nil)
    }

    /// CallTrack itself cannot carry the call on (no forwarded INVITE, unusable answer): 502 to the caller.
    static func failed(_ reason: EndReason, code: UInt16 = 502, _ text: String = "Bad Gateway", tellCaller: Bool = true)
        -> CallOutcome
    { missed(.failed, code: code, text, by: .calltrack, reason, tellCaller: tellCaller) }

    /// One leg's session closed by itself (BYE, CANCEL, a transport error or the callee's final
    /// refusal): what that means for the call. `err` is libre's (ECONNRESET: the peer ended it
    /// properly); `code`/`text` the final response that closed it, if any.
    static func legClosed(side: LegSide, answered: Bool, err: Int32, code: UInt16, text: String) -> CallOutcome {
        let properly = err == ECONNRESET
        switch (side, answered) {
        case (.caller, true): return .answered(by: .caller, properly ? .callerBye : .callerError)
        case (.caller, false):
            return .missed(
                properly ? .cancelled : .failed, code: 487, "Request Terminated", by: .caller,
                properly ? .callerCancel : .callerError, tellCaller: false)
        case (.callee, true): return .answered(by: .callee, properly ? .calleeBye : .calleeError)
        case (.callee, false):
            let failure = CalleeFailure(err: err, code: code, reason: text)
            return .missed(
                failure.missedReason, code: failure.callerCode, failure.callerReason, by: .callee, failure.endReason)
        }
    }

    /// The callee did not answer within the project's ring time.
    static let ringTimeout = CallOutcome.missed(
        .noAnswer, code: 480, "Temporarily Unavailable", by: .calltrack, .ringTimeout)

    /// CallTrack stops: an answered call is hung up, a ringing one gets 503.
    static func shutdown(answered: Bool) -> CallOutcome {
        answered
            ? .answered(by: .calltrack, .shutdown)
            : .missed(.failed, code: 503, "Service Unavailable", by: .calltrack, .shutdown)
    }
}

/// How a callee's failure is passed to the caller and recorded.
struct CalleeFailure {
    let callerCode: UInt16
    let callerReason: String
    let missedReason: MissedReason
    let endReason: EndReason

    init(err: Int32, code: UInt16, reason: String) {
        if err != 0 || code == 0 {
            let timedOut = err == ETIMEDOUT
            callerCode = timedOut ? 504 : 502
            callerReason = timedOut ? "Server Time-out" : "Bad Gateway"
            missedReason = .failed
            endReason = timedOut ? .calleeTimeout : .calleeUnreachable
            return
        }
        switch code {
        case 486, 600: (callerCode, callerReason, missedReason, endReason) = (486, "Busy Here", .busy, .calleeBusy)
        case 603, 403:
            (callerCode, callerReason, missedReason, endReason) = (
                code, reason.isEmpty ? "Decline" : reason, .rejected, .calleeRejected
            )
        case 408, 480:
            (callerCode, callerReason, missedReason, endReason) = (
                480, "Temporarily Unavailable", .noAnswer, .calleeNoAnswer
            )
        case 401, 407:
            // Never pass a trunk's challenge to the caller: it would invite the caller's credentials.
            (callerCode, callerReason, missedReason, endReason) = (502, "Bad Gateway", .failed, .trunkAuthFailed)
        default:
            (callerCode, callerReason, missedReason, endReason) = (
                code, reason.isEmpty ? "Call Failed" : reason, .failed, .calleeFailed(code: Int(code))
            )
        }
    }
}
