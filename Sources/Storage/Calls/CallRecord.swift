import CallTrackCore
import Foundation

/// A call as stored and reported: who called which tracking number and where it went (as the call
/// started), then how it went and ended.
public struct CallRecord: Sendable, Equatable {
    public var start: CallStart
    public var ringingAt, answeredAt, endedAt: Date?
    public var status: CallStatus
    public var missedReason: MissedReason?
    public var sipCode: Int?
    public var hangupBy: HangupParty?
    public var endReason: String?
    public var callerToCallee, calleeToCaller: MediaCounters
    /// CallTrack stopped (crash or kill) while the call was up; the times are as last known.
    public var interrupted: Bool
    /// The caller's first call ever to the project: this call made them a lead.
    public var firstTime: Bool
    /// What became of the recording; nil for calls never answered.
    public var recording: RecordingInfo?
    /// The node that took the call (`cluster.node_id`); nil on a single node.
    public var node: String? = nil

    public var id: CallID { start.id }

    /// Seconds from the start until the callee answered, or until the end of a missed call.
    public var ringSeconds: Double? {
        guard let end = answeredAt ?? endedAt else { return nil }
        return max(0, end.timeIntervalSince(start.startedAt))
    }

    /// Seconds of conversation, from answer to end.
    public var talkSeconds: Double? {
        guard let a = answeredAt, let e = endedAt else { return answeredAt == nil && endedAt != nil ? 0 : nil }
        return max(0, e.timeIntervalSince(a))
    }
}

/// A call's recording as stored: the file is relative to `storage.recordings`.
public struct RecordingInfo: Sendable, Equatable {
    public var status: RecordingStatus
    public var path, reason: String?
    public var bytes: Int?
    public var seconds: Double?
    public var sampleRate: Int?
}

/// Which calls a list shows; every part is optional.
public struct CallFilter: Sendable, Equatable {
    public var project: String?
    /// Started at or after `since` and before `until`.
    public var since, until: Date?
    public var status: CallStatus?
    /// A report's source value: a visit's source, an offline number's channel, `(static)` or `(unknown)`.
    public var source: String?
    /// The tracking number dialled or the caller's number, in any format the numbering plan reads.
    public var number: String?

    public init(
        project: String? = nil, since: Date? = nil, until: Date? = nil, status: CallStatus? = nil,
        source: String? = nil, number: String? = nil
    ) {
        self.project = project
        self.since = since
        self.until = until
        self.status = status
        self.source = source
        self.number = number
    }
}
