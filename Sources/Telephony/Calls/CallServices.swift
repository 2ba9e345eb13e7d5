import CLibre
import CallTrackCore
import Logging

/// What the switchboard is given when it is made on the SIP loop, and hands to every call it makes:
/// a call never reaches back into the switchboard for these.
struct CallServices {
    let settings: SwitchBoard.Settings
    /// Where the call's events go (started, ringing, answered, ended).
    let events: CallEventBus
    let recorder: any CallRecorder
    let attributor: any CallAttributor
    let statistics: CallStatistics
    /// Where media may go (`MediaAddressPolicy`).
    let mediaPolicy: MediaAddressPolicy
    /// Whether the caller is new, and attribution storage must answer, asked off the SIP thread.
    let callerLookup: CallerLookup
    let logger: Logger
    /// The SIP loop, which the call and its legs live on.
    let loop: LoopIdentity
}

/// What a call asks of the switchboard it lives on: the SIP stack's handles, and the bookkeeping of
/// its legs, which the front door checks in-dialog requests against.
protocol CallHost: AnyObject {
    var sip: OpaquePointer? { get }
    var sessionSocket: OpaquePointer? { get }
    /// A leg's SIP Call-ID, once known.
    func register(_ leg: Call.Leg, callID: String)
    func unregister(_ leg: Call.Leg)
    /// The Max-Forwards of the INVITE being sent now (its Call-ID is not known until it is sent),
    /// nil once it is sent.
    func sending(maxForwards: Int?)
    /// A forwarded INVITE went out: its Max-Forwards, and how a leg of ours is recognised coming back.
    func sent(callID: String, maxForwards: Int)
    /// Both legs are over: the call is freed on the next loop turn.
    func callEnded(_ call: Call)
}
