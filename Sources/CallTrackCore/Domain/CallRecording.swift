import Foundation

/// Which channel of a recording: the caller (left) or the business (right).
public enum RecordingSide: String, Sendable, Codable { case caller, callee }

/// A relayed RTP packet copied for the recorder, with its arrival time since the answer.
public struct TappedPacket: Sendable {
    public let side: RecordingSide
    public let bytes: [UInt8]
    public let arrivalMilliseconds: Int

    public init(side: RecordingSide, bytes: [UInt8], arrivalMilliseconds: Int) {
        self.side = side
        self.bytes = bytes
        self.arrivalMilliseconds = arrivalMilliseconds
    }
}

/// What the telephony side asks of call recording: a call answered, its packets, its end.
/// Every method returns at once (the work happens elsewhere): they are called on libre's thread.
public protocol CallRecorder: AnyObject, Sendable {
    /// Starts a call's recording at its answer; each side's payload types say what its packets carry.
    func begin(callID: CallID, answeredAt: Date, caller: PayloadTypes, callee: PayloadTypes)
    /// Records that a call is not recorded because its project says `record: false`.
    func disabled(callID: CallID)
    /// A batch of copied packets; `nowMilliseconds` is the time since the answer.
    func ingest(callID: CallID, packets: [TappedPacket], nowMilliseconds: Int)
    /// The call ended after `talkMilliseconds` of conversation.
    func end(callID: CallID, talkMilliseconds: Int)
    /// Returns once everything handed over so far is written (at shutdown).
    func waitUntilIdle() async
}
