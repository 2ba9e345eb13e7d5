import Synchronization

/// Running totals of the SIP side, for `/metrics`. Written by Telephony, read by HTTP.
public final class CallStatistics: Sendable {
    /// Why a SIP request was refused before any call existed.
    public enum Refusal: String, CaseIterable, Sendable {
        case untrustedSource = "untrusted_source", unknownNumber = "unknown_number", draining
        case noRTPPorts = "no_rtp_ports", loop
        case malformed, rateLimited = "rate_limited", badExtension = "bad_extension", tooManyHops = "too_many_hops"
        /// An INVITE whose SDP points media somewhere CallTrack never sends it (488).
        case badSDP = "bad_sdp"
    }

    /// Why a relay dropped an RTP or RTCP packet instead of forwarding it.
    public enum MediaDrop: String, CaseIterable, Sendable {
        /// From an address that is not the leg's peer.
        case stranger
        /// Addressed to one of CallTrack's own sockets.
        case loop
        /// The other side has no address to send to yet.
        case noAddress = "no_address"
    }

    public struct Snapshot: Sendable {
        public var answered = 0
        public var missed = 0
        public var refused: [Refusal: Int] = [:]
        public var mediaDropped: [MediaDrop: Int] = [:]
    }

    private let totals = Mutex(Snapshot())
    /// Counted per packet, so kept apart from the mutex.
    private let strangerDrops = Atomic<Int>(0)
    private let loopDrops = Atomic<Int>(0)
    private let noAddressDrops = Atomic<Int>(0)
    private let active = Atomic<Int>(0)

    public init() {}

    /// Calls up or being set up; written by the switchboard whenever its set of calls changes.
    public var activeCalls: Int {
        get { active.load(ordering: .relaxed) }
        set { active.store(newValue, ordering: .relaxed) }
    }

    public func record(status: CallStatus) {
        totals.withLock { t in
            switch status {
            case .answered: t.answered += 1
            case .missed: t.missed += 1
            case .inProgress: break
            }
        }
    }

    public func record(_ refusal: Refusal, count: Int = 1) {
        totals.withLock { $0.refused[refusal, default: 0] += count }
    }

    public func record(_ drop: MediaDrop) {
        switch drop {
        case .stranger: strangerDrops.add(1, ordering: .relaxed)
        case .loop: loopDrops.add(1, ordering: .relaxed)
        case .noAddress: noAddressDrops.add(1, ordering: .relaxed)
        }
    }

    public var snapshot: Snapshot {
        var s = totals.withLock { $0 }
        s.mediaDropped = [
            .stranger: strangerDrops.load(ordering: .relaxed), .loop: loopDrops.load(ordering: .relaxed),
            .noAddress: noAddressDrops.load(ordering: .relaxed),
        ]
        return s
    }
}
