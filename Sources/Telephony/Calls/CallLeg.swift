import CLibre
import CallTrackCore

extension Call {
    /// One side of the bridge: a libre session with what each side said and was told in SDP.
    /// Its address is the context pointer of the session's C callbacks (`Call+Libre.swift`).
    final class Leg {
        unowned let call: Call
        let side: LegSide
        var session: OpaquePointer?
        /// The o= line CallTrack writes toward this leg.
        var origin = SDPOrigin()
        /// The SDP CallTrack last sent on this leg (our relay address, the other side's codecs).
        var lastSent: SessionDescription?
        /// The SDP this leg last sent us.
        var lastReceived: SessionDescription? { didSet { if firstReceived == nil { firstReceived = lastReceived } } }
        /// The first SDP this leg sent: everything it said it can do, before any narrowing re-offer.
        private(set) var firstReceived: SessionDescription?
        /// What this leg said when the call was answered (the callee's 200, not an early-media 183).
        var atAnswer: SessionDescription?
        /// The session is over (BYE, CANCEL, a final response sent or received).
        var closed = false
        /// The leg's SIP Call-ID, once known; in-dialog requests are matched by it.
        var callID: String?
        /// The address the leg's signalling comes from: in-dialog requests must come from it.
        var peer: IPAddress?

        init(call: Call, side: LegSide) {
            self.call = call
            self.side = side
        }

        /// What this leg can do, for answering the other leg's re-offers.
        var capabilities: SessionDescription? { atAnswer ?? firstReceived }
    }
}
