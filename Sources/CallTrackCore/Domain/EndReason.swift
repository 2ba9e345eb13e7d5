/// Why a call ended, stored and reported as `end_reason` (`name`).
public enum EndReason: Sendable, Equatable, Codable {
    case callerBye, callerCancel, callerError
    case calleeBye, calleeError
    /// The callee's refusals before answering, by what its final response meant.
    case calleeBusy, calleeRejected, calleeNoAnswer, calleeTimeout, calleeUnreachable
    /// Any other final response from the callee.
    case calleeFailed(code: Int)
    /// The trunk challenged CallTrack and refused its credentials.
    case trunkAuthFailed
    /// The callee answered with media CallTrack may not use, or none.
    case calleeBadSDP, calleeNoSDP
    case ringTimeout, rtpTimeout, shutdown
    /// CallTrack could not accept the INVITE, send the forwarded one, or answer the caller.
    case acceptFailed, forwardFailed, answerFailed

    public var name: String {
        switch self {
        case .callerBye: "caller_bye"
        case .callerCancel: "caller_cancel"
        case .callerError: "caller_error"
        case .calleeBye: "callee_bye"
        case .calleeError: "callee_error"
        case .calleeBusy: "callee_busy"
        case .calleeRejected: "callee_rejected"
        case .calleeNoAnswer: "callee_no_answer"
        case .calleeTimeout: "callee_timeout"
        case .calleeUnreachable: "callee_unreachable"
        case .calleeFailed(let code): "callee_\(code)"
        case .trunkAuthFailed: "trunk_auth_failed"
        case .calleeBadSDP: "callee_bad_sdp"
        case .calleeNoSDP: "callee_no_sdp"
        case .ringTimeout: "ring_timeout"
        case .rtpTimeout: "rtp_timeout"
        case .shutdown: "shutdown"
        case .acceptFailed: "accept_failed"
        case .forwardFailed: "forward_failed"
        case .answerFailed: "answer_failed"
        }
    }
}
