import Metrics

/// What the SIP and media paths count per request and per packet: each reason's counter is made
/// once here, so counting is one atomic add in the metrics backend.
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

    private let refused: [Refusal: Counter]
    private let dropped: [MediaDrop: Counter]
    private let ended: [CallStatus: Counter]

    public init() {
        refused = Dictionary(
            uniqueKeysWithValues: Refusal.allCases.map {
                ($0, Counter(label: "calltrack_invites_refused_total", dimensions: [("reason", $0.rawValue)]))
            })
        dropped = Dictionary(
            uniqueKeysWithValues: MediaDrop.allCases.map {
                ($0, Counter(label: "calltrack_rtp_packets_dropped_total", dimensions: [("reason", $0.rawValue)]))
            })
        ended = Dictionary(
            uniqueKeysWithValues: [CallStatus.answered, .missed].map {
                ($0, Counter(label: "calltrack_calls_total", dimensions: [("status", $0.rawValue)]))
            })
    }

    public func record(status: CallStatus) { ended[status]?.increment() }

    public func record(_ refusal: Refusal, count: Int = 1) { refused[refusal]?.increment(by: Int64(count)) }

    public func record(_ drop: MediaDrop, count: Int = 1) { dropped[drop]?.increment(by: Int64(count)) }
}
