import Foundation

/// What happened to a call, published by Telephony as it happens.
///
/// Storage turns these into the call record; later modules (webhooks, analytics)
/// subscribe to the same stream.
public enum CallEvent: Sendable, Equatable, Codable {
    case started(CallStart)
    case ringing(callID: CallID, at: Date)
    case answered(callID: CallID, at: Date)
    case ended(CallEnd)
    /// The recording changed state: started (status `recording`), finished, failed, disabled.
    case recording(RecordingSummary)
    case dtmf(DTMFEvent)
    /// Who the call belongs to, learnt after its start: storage could not say in time (PostgreSQL down or
    /// slow) and said later.
    case attributed(callID: CallID, attribution: Attribution)

    public var callID: CallID {
        switch self {
        case .started(let s): s.id
        case .ringing(let id, _), .answered(let id, _): id
        case .ended(let e): e.id
        case .recording(let r): r.callID
        case .dtmf(let d): d.callID
        case .attributed(let id, _): id
        }
    }
}

public struct CallStart: Sendable, Equatable, Codable {
    public var id: CallID
    public var projectKey, trunk: String
    /// The DID as the carrier sent it, and its E.164 form.
    public var didDialled, did, caller: String
    public var callerName: String?
    public var forwardTo, sipCallID: String
    public var startedAt: Date
    /// Which visit and ad the call came from (nil when no pool knows the number).
    public var attribution: Attribution?

    public init(
        id: CallID, projectKey: String, trunk: String, didDialled: String, did: String, caller: String,
        callerName: String?, forwardTo: String, sipCallID: String, startedAt: Date, attribution: Attribution? = nil
    ) {
        self.attribution = attribution
        self.id = id
        self.projectKey = projectKey
        self.trunk = trunk
        self.didDialled = didDialled
        self.did = did
        self.caller = caller
        self.callerName = callerName
        self.forwardTo = forwardTo
        self.sipCallID = sipCallID
        self.startedAt = startedAt
    }
}

public enum CallStatus: String, Sendable, Codable { case inProgress = "in_progress", answered, missed }

public enum MissedReason: String, Sendable, Codable { case noAnswer = "no_answer", busy, cancelled, failed, rejected }

/// Who ended the call.
public enum HangupParty: String, Sendable, Codable { case caller, callee, calltrack }

/// Packets and bytes relayed in one direction.
public struct MediaCounters: Sendable, Equatable, Codable {
    public var packets, bytes: Int
    public init(packets: Int = 0, bytes: Int = 0) {
        self.packets = packets
        self.bytes = bytes
    }
}

public struct CallEnd: Sendable, Equatable, Codable {
    public var id: CallID
    public var endedAt: Date
    public var status: CallStatus
    public var missedReason: MissedReason?
    /// The final SIP code the caller received (200 for answered calls).
    public var sipCode: Int
    public var hangupBy: HangupParty
    /// Why the call ended (stored as its `name`: `caller_bye`, `callee_busy`, `ring_timeout`…).
    public var endReason: EndReason
    public var callerToCallee, calleeToCaller: MediaCounters

    public init(
        id: CallID, endedAt: Date, status: CallStatus, missedReason: MissedReason?, sipCode: Int, hangupBy: HangupParty,
        endReason: EndReason, callerToCallee: MediaCounters, calleeToCaller: MediaCounters
    ) {
        self.id = id
        self.endedAt = endedAt
        self.status = status
        self.missedReason = missedReason
        self.sipCode = sipCode
        self.hangupBy = hangupBy
        self.endReason = endReason
        self.callerToCallee = callerToCallee
        self.calleeToCaller = calleeToCaller
    }
}

/// A DTMF key the caller or the business pressed (RFC 4733 telephone-event).
public struct DTMFEvent: Sendable, Equatable, Codable {
    public var callID: CallID
    public var side, digit: String
    /// Seconds since the answer.
    public var atSeconds: Double

    public init(callID: CallID, side: String, digit: String, atSeconds: Double) {
        self.callID = callID
        self.side = side
        self.digit = digit
        self.atSeconds = atSeconds
    }
}

/// What became of a call's recording.
public enum RecordingStatus: String, Sendable, Codable {
    /// Being written (a crash leaves this, and the next start makes it `interrupted`).
    case recording
    case recorded
    /// Cut short by a crash; the file holds the audio up to it.
    case interrupted
    /// Could not be made: `reason` says why (undecodable codec, disk full, read-only folder…).
    case failed
    /// The project has `record: false`.
    case disabled
    /// Removed by `recording.retention_days`.
    case deleted
}

/// A finished recording's file, relative to `storage.recordings`.
public struct RecordingSummary: Sendable, Equatable, Codable {
    public var callID: CallID
    public var status: RecordingStatus
    public var path: String?
    public var bytes: Int
    public var seconds: Double
    public var sampleRate: Int
    public var reason: String?

    public init(
        callID: CallID, status: RecordingStatus, path: String?, bytes: Int, seconds: Double, sampleRate: Int,
        reason: String?
    ) {
        self.callID = callID
        self.status = status
        self.path = path
        self.bytes = bytes
        self.seconds = seconds
        self.sampleRate = sampleRate
        self.reason = reason
    }
}
