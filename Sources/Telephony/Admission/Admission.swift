import CallTrackCore

/// What a SIP request gets at CallTrack's front door, decided from plain facts.
///
/// Every request passes here before libre's transactions or any call code sees it. The rules,
/// in order: a source over its rate gets nothing; a malformed message gets 400 (nothing when
/// it cannot be answered safely); a source no trunk admits and that is not the peer of the
/// dialog the request belongs to gets a single stateless 403 (or nothing, by config); an
/// unsupported `Require` gets 420; `Max-Forwards: 0` gets 483. A new INVITE then needs a
/// node that is not draining (503), no sign of a loop (482), a known DID (404) and an SDP offer
/// whose media address CallTrack may send to (488).
public enum Admission {
    /// The facts about one request that the rules need; gathered on libre's thread.
    public struct Request: Sendable, Equatable {
        public var method: String
        /// True for requests inside a dialog (a To tag), and for ACK and CANCEL.
        public var inDialog: Bool
        /// A trunk's `allow` list contains the source address.
        public var trunkAdmits: Bool
        /// The request belongs to a call leg and comes from that leg's peer address.
        public var dialogPeer: Bool
        /// The source has sent more than its share this second (counted only when no trunk admits it).
        public var overRate: Bool
        /// Why the message is malformed; nil when it is well-formed.
        public var malformed: Malformation?
        /// `Max-Forwards`, nil when absent.
        public var maxForwards: Int?
        /// Option tags from `Require` that CallTrack does not support.
        public var unsupported: [String]
        /// Signs that this INVITE is one of CallTrack's own legs coming back.
        public var loop, draining: Bool
        /// Where a new call to the dialled number goes; nil for an unknown number.
        public var target: ForwardingTarget?
        /// Why the INVITE's SDP offer is refused (unreadable, or media aimed at CallTrack itself,
        /// a multicast or broadcast address, or a name); nil when acceptable or absent.
        public var badOffer: String?

        public init(
            method: String, inDialog: Bool = false, trunkAdmits: Bool = true, dialogPeer: Bool = false,
            overRate: Bool = false, malformed: Malformation? = nil, maxForwards: Int? = 70, unsupported: [String] = [],
            loop: Bool = false, draining: Bool = false, target: ForwardingTarget? = nil, badOffer: String? = nil
        ) {
            self.method = method
            self.inDialog = inDialog
            self.trunkAdmits = trunkAdmits
            self.dialogPeer = dialogPeer
            self.overRate = overRate
            self.malformed = malformed
            self.maxForwards = maxForwards
            self.unsupported = unsupported
            self.loop = loop
            self.draining = draining
            self.target = target
            self.badOffer = badOffer
        }

        var isNewCall: Bool { method == "INVITE" && !inDialog }
        var expectsNoResponse: Bool { method == "ACK" }
    }

    /// A message CallTrack will not process, with the status and reason phrase of its answer.
    public struct Malformation: Sendable, Equatable, CustomStringConvertible {
        public let code: UInt16
        public let reason: String
        /// False when a response could not be sent safely (no Via to answer, or a Via `maddr`
        /// that would send it to a third party): such messages are dropped, never answered.
        public let answerable: Bool
        public init(_ reason: String, code: UInt16 = 400, answerable: Bool = true) {
            self.code = code
            self.reason = reason
            self.answerable = answerable
        }
        public var description: String { "\(code) \(reason)" }
    }

    public enum Verdict: Sendable, Equatable {
        /// Hand the request on to libre (in-dialog requests, ACK, CANCEL, OPTIONS, ...).
        case pass
        /// A new call: bridge it to the target through the trunk that admits the source.
        case route(ForwardingTarget)
        /// A stateless reply, then nothing more.
        case reply(code: UInt16, reason: String, headers: String, refusal: CallStatistics.Refusal)
        /// No answer at all.
        case drop(CallStatistics.Refusal)
    }

    public static func decide(_ r: Request, untrusted: UntrustedSourcePolicy) -> Verdict {
        if r.overRate { return .drop(.rateLimited) }
        let trusted = r.trunkAdmits || r.dialogPeer
        if let bad = r.malformed {
            if !bad.answerable || r.expectsNoResponse || (!trusted && untrusted == .drop) { return .drop(.malformed) }
            return .reply(code: bad.code, reason: bad.reason, headers: "", refusal: .malformed)
        }
        guard trusted else {
            if r.expectsNoResponse || untrusted == .drop { return .drop(.untrustedSource) }
            return .reply(code: 403, reason: "Forbidden", headers: "", refusal: .untrustedSource)
        }
        let answerable = r.method != "ACK" && r.method != "CANCEL"
        if answerable && !r.unsupported.isEmpty {
            return .reply(
                code: 420, reason: "Bad Extension",
                headers: "Unsupported: \(r.unsupported.joined(separator: ", "))\r\n", refusal: .badExtension)
        }
        if answerable && r.method != "OPTIONS", let hops = r.maxForwards, hops <= 0 {
            return .reply(code: 483, reason: "Too Many Hops", headers: "", refusal: .tooManyHops)
        }
        guard r.isNewCall else { return .pass }
        // A new call must come from a trunk: a dialog peer has no say over new calls.
        guard r.trunkAdmits else {
            return .reply(code: 403, reason: "Forbidden", headers: "", refusal: .untrustedSource)
        }
        if r.draining {
            return .reply(code: 503, reason: "Service Unavailable", headers: "Retry-After: 30\r\n", refusal: .draining)
        }
        if r.loop { return .reply(code: 482, reason: "Loop Detected", headers: "", refusal: .loop) }
        guard let target = r.target else {
            return .reply(code: 404, reason: "Not Found", headers: "", refusal: .unknownNumber)
        }
        if r.badOffer != nil { return .reply(code: 488, reason: "Not Acceptable Here", headers: "", refusal: .badSDP) }
        return .route(target)
    }
}
