/// The offer/answer decisions of a bridged call (RFC 3264), as pure functions of SDP: what CallTrack
/// answers one leg and offers the other. Addresses are the relay's business (`relayed(through:)`).
enum OfferAnswer {
    /// A re-offer from one leg, answered at once (a B2BUA cannot wait here for the other leg) and
    /// carried across with a re-INVITE of CallTrack's own.
    ///
    /// - `offer`: what the leg offers now.
    /// - `otherCapabilities`: what the other side said when the call was answered (else the first
    ///   it said): the relay passes any codec through, so a codec one re-offer dropped comes back
    ///   with the next.
    /// - `otherSends`: the codec the other side sends now, if known.
    ///
    /// Both legs end on one codec: the one the other side sends now if the offer has it, else the
    /// first the answer would name. The answer and the offer carried across both name only it, so
    /// the other side cannot answer with another.
    static func reoffer(_ offer: SessionDescription, otherCapabilities: SessionDescription, otherSends: String?) -> (
        answer: SessionDescription, toOther: SessionDescription
    ) {
        var answer = otherCapabilities.restricted(toPayloadTypesOf: offer)
        var toOther = offer
        let candidates = [otherSends, answer.firstAudioCodec].compactMap { $0 }
        if let codec = candidates.first(where: {
            offer.narrowed(toCodec: $0) != nil && answer.narrowed(toCodec: $0) != nil
        }), let narrowedAnswer = answer.narrowed(toCodec: codec), let narrowedOffer = offer.narrowed(toCodec: codec) {
            answer = narrowedAnswer
            toOther = narrowedOffer
        }
        return (answer.with(direction: offer.direction.answer), toOther)
    }

    /// A re-INVITE without SDP asks for an offer: CallTrack's current one, sending and receiving again.
    static func offerOnRequest(current: SessionDescription) -> SessionDescription { current.with(direction: .sendrecv) }
}
