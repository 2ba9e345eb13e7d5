import Synchronization

/// Running totals of the SIP side, for `/metrics`. Written by Telephony, read by HTTP.
public final class CallStatistics: Sendable {
    /// Why an INVITE was refused before any call existed.
    public enum Refusal: String, CaseIterable, Sendable {
        case untrustedSource = "untrusted_source", unknownNumber = "unknown_number", draining
        case noRTPPorts = "no_rtp_ports", loop
    }

    public struct Snapshot: Sendable {
        public var answered = 0
        public var missed = 0
        public var refused: [Refusal: Int] = [:]
    }

    private let totals = Mutex(Snapshot())

    public init() {}

    public func record(status: CallStatus) {
        totals.withLock { t in
            switch status {
            case .answered: t.answered += 1
            case .missed: t.missed += 1
            case .inProgress: break
            }
        }
    }

    public func record(_ refusal: Refusal) {
        totals.withLock { $0.refused[refusal, default: 0] += 1 }
    }

    public var snapshot: Snapshot { totals.withLock { $0 } }
}
