import CLibre
import CallTrackCore
import Foundation
import Recording
import Tracking

/// One tracked call: the caller's inbound leg bridged to the callee's outbound leg.
///
/// Lives on libre's thread. The inbound INVITE is accepted at once with a 183 (libre has no
/// server transaction before `sipsess_accept`, so a CANCEL would otherwise get 481), then an
/// INVITE goes to the project's forwarding target. Progress, answer, hang-up, re-INVITEs and
/// INFO are carried across; the media goes through `MediaRelay`.
final class Call {
    /// A libre session handle with the side it serves; the callbacks' context pointer.
    final class Leg {
        unowned let call: Call
        let side: LegSide
        var session: OpaquePointer?
        /// The o= line CallTrack writes toward this leg.
        var origin = SDPOrigin()
        /// The SDP CallTrack last sent on this leg (our relay address, the other side's codecs).
        var lastSent: SessionDescription?
        /// The SDP this leg last sent us.
        var lastReceived: SessionDescription? {
            didSet { if firstReceived == nil { firstReceived = lastReceived } }
        }
        /// The first SDP this leg sent: everything it said it can do, before any narrowing re-offer.
        private(set) var firstReceived: SessionDescription?
        /// What this leg said when the call was answered (the callee's 200, not an early-media 183).
        var atAnswer: SessionDescription?
        var closed = false
        /// The leg's SIP Call-ID, once known; in-dialog requests are matched by it.
        var callID: String?
        /// The address the leg's signalling comes from: in-dialog requests must come from it.
        var peer: IPAddress?

        init(call: Call, side: LegSide) { self.call = call; self.side = side }
    }

    enum State { case routing, early, answered, ended }

    let id: CallID
    unowned let board: SwitchBoard
    let trunk: Trunk
    let target: ForwardingTarget
    let dialled: String
    let relay: MediaRelay
    let hops: Int
    /// Max-Forwards of the outbound INVITE: the caller's, less one.
    let maxForwards: Int
    let attribution: Attribution?
    private(set) var state = State.routing
    private lazy var caller = Leg(call: self, side: .caller)
    private lazy var callee = Leg(call: self, side: .callee)
    private let ringTimer = LibreTimer()
    private var ringing = false
    /// The caller sent no SDP in the INVITE (delayed offer): CallTrack offers to the callee itself.
    private var delayedOffer = false
    private var started = Date()
    private var answeredAt: UInt64 = 0
    private var onHold = false

    /// The caller's offer, read by the front door; nil for a delayed offer.
    private let callerOffer: SessionDescription?

    init(board: SwitchBoard, admission: AdmittedInvite, relay: MediaRelay, attribution: Attribution?) {
        id = CallID.next()
        self.attribution = attribution
        self.board = board; trunk = admission.trunk; target = admission.target; dialled = admission.dialled
        self.relay = relay; hops = admission.hops + 1; maxForwards = max(0, min(admission.maxForwards, 70) - 1)
        callerOffer = admission.offer
    }

    private var address: String { board.settings.advertisedAddress }

    // MARK: Setup

    func start(invite msg: UnsafePointer<sip_msg>) {
        let callerNumber = msg.pointee.from.uri.user.string
        let callerName = DisplayName.parse(msg.pointee.from.val.string) ?? ""
        board.register(caller, callID: msg.callID)
        caller.peer = IPAddress(msg.pointee.src.addressText)
        relay.setSignallingPeer(.caller, caller.peer)
        board.logger.debug("call started", metadata: [
            "call": "\(id)", "did": "\(target.did)", "caller": "\(callerNumber)", "trunk": "\(trunk.name)",
        ])
        board.events.publish(.started(CallStart(
            id: id, projectKey: target.projectKey, trunk: trunk.name, didDialled: dialled, did: target.did.e164,
            caller: callerNumber, callerName: callerName.isEmpty ? nil : callerName, forwardTo: target.uri,
            sipCallID: msg.callID, startedAt: started, attribution: attribution)))

        // The front door refused offers CallTrack cannot use (488) before any call existed.
        if let offer = callerOffer {
            caller.lastReceived = offer
            relay.setRemote(.caller, description: offer)
        } else {
            delayedOffer = true
        }

        let ctx = Unmanaged.passUnretained(caller).toOpaque()
        var sess: OpaquePointer?
        let err = ct_sipsess_accept(&sess, board.sessionSocket, msg, 183, "Session Progress", board.settings.contactUser,
                                    nil, offerHandler, answerHandler, establishedHandler, infoHandler, closeHandler, ctx,
                                    SwitchBoard.capabilityHeaders)
        guard err == 0, let sess else {
            _ = sip_treply(nil, board.sip, msg, 500, "Server Internal Error")
            finish(status: .missed, reason: .failed, code: 500, by: .calltrack, endReason: "accept_failed")
            return
        }
        caller.session = sess
        connectCallee(callerNumber: callerNumber, callerName: callerName)
    }

    private func connectCallee(callerNumber: String, callerName: String) {
        let offer: SessionDescription
        if let callerOffer = caller.lastReceived {
            offer = callerOffer.relayed(through: address, port: relay.calleePort, origin: &callee.origin)
        } else {
            offer = SessionDescription.defaultOffer(address: address, port: relay.calleePort, origin: &callee.origin)
        }
        callee.lastSent = offer
        let user = callerNumber.isEmpty ? "anonymous" : callerNumber
        let fromURI = "sip:\(user)@\(address)"
        let ctx = Unmanaged.passUnretained(callee).toOpaque()
        var sess: OpaquePointer?
        // libre writes the Route as <proxy;lr>: the configured URI goes in without its own ;lr.
        let route = trunk(for: target).map { $0.replacingOccurrences(of: ";lr", with: "", options: .caseInsensitive) }
        let authContext = target.trunk.flatMap { t in
            t.username.map { TrunkAuth(username: $0, password: t.password ?? "", logger: board.logger, trunk: t.name) }
        }
        self.authContext = authContext
        let authHandler: (@convention(c) (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                          UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                          UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Int32)?
            = authContext == nil ? nil : { u, p, _, arg in
                guard let arg else { return EINVAL }
                return Unmanaged<TrunkAuth>.fromOpaque(arg).takeUnretainedValue().credentials(u, p)
            }
        // libre sends the INVITE from inside connect: its Max-Forwards is asked for by Call-ID, not yet known.
        board.pendingMaxForwards = maxForwards
        let err = withMBuf(offer.text) { mb in
            ct_sipsess_connect(
                &sess, board.sessionSocket, target.uri, callerName.isEmpty ? nil : DisplayName.quotedContent(callerName), fromURI,
                board.settings.contactUser, route, mb,
                authHandler,
                authContext.map { Unmanaged.passUnretained($0).toOpaque() },
                offerHandler, answerHandler, progressHandler, establishedHandler, infoHandler, closeHandler, ctx,
                "X-CallTrack-Hops: \(hops)\r\n" + SwitchBoard.capabilityHeaders)
        }
        board.pendingMaxForwards = nil
        guard err == 0, let sess else {
            board.logger.error("cannot call forwarding target", metadata: ["uri": "\(target.uri)", "error": "\(err)"])
            reject(caller, code: 502, reason: "Bad Gateway")
            finish(status: .missed, reason: .failed, code: 502, by: .calltrack, endReason: "forward_failed")
            return
        }
        callee.session = sess
        if let dialog = sipsess_dialog(sess), let id = sip_dialog_callid(dialog) {
            let callID = String(cString: id)
            board.register(callee, callID: callID)
            board.outboundMaxForwards[callID] = maxForwards
        }
        state = .early
        ringTimer.start(milliseconds: UInt64(target.ringTimeoutSeconds) * 1000) { [weak self] in self?.ringTimeout() }
    }

    private var authContext: TrunkAuth?

    /// Whether media may go where `description` says (see `MediaAddressPolicy`).
    private func acceptable(_ description: SessionDescription) -> Bool {
        guard let ep = description.audioEndpoint else { return true }
        return board.mediaPolicy.refusal(address: ep.address, port: ep.port) == nil
    }

    private func trunk(for target: ForwardingTarget) -> String? { target.trunk?.proxy }

    // MARK: Events from the legs

    fileprivate func progress(_ msg: UnsafePointer<sip_msg>) {
        guard state == .early else { return }
        let code = msg.pointee.scode
        if !ringing && (code == 180 || code == 183 || code == 181 || code == 182) {
            ringing = true
            board.events.publish(.ringing(callID: id, at: Date()))
        }
        var sdp: SessionDescription?
        if let body = msg.body, let d = SessionDescription(body), acceptable(d) {
            callee.lastReceived = d
            relay.setRemote(.callee, description: d)
            // Early media can be passed on only as an answer to the caller's own offer.
            if !delayedOffer {
                sdp = d.relayed(through: address, port: relay.callerPort, origin: &caller.origin)
                caller.lastSent = sdp
            }
        }
        if sdp == nil && code == 183 { return }  // the caller already has a 183 without SDP
        let reason = code == 180 ? "Ringing" : msg.pointee.reason.string
        if sdp != nil { relay.openLearningWindow(.caller) }
        _ = withMBuf(sdp?.text) { mb in ct_sipsess_progress(caller.session, code, reason, mb, nil) }
    }

    fileprivate func offer(from leg: Leg, _ msg: UnsafePointer<sip_msg>,
                           _ answer: UnsafeMutablePointer<UnsafeMutablePointer<mbuf>?>?) -> Int32 {
        let other = leg.side == .caller ? callee : caller
        let ourPort = leg.side == .caller ? relay.callerPort : relay.calleePort
        guard let answer else { return EINVAL }
        guard let body = msg.body, let offer = SessionDescription(body) else {
            // A re-INVITE without SDP asks for an offer: ours, from the current state, sendrecv.
            guard let current = leg.lastSent else { return EPROTO }
            let mine = current.with(direction: .sendrecv).relayed(through: address, port: ourPort, origin: &leg.origin)
            leg.lastSent = mine
            answer.pointee = makeMBuf(mine.text)
            return 0
        }
        // Media aimed at CallTrack itself, a group or a name: 488, and the call keeps its media.
        guard acceptable(offer) else { return EADDRNOTAVAIL }
        // Answer at once from the relay's state (a B2BUA cannot wait here for the other leg),
        // then carry the change across with a re-INVITE of our own. The answer starts from what the
        // other side said when the call was answered (the relay passes any codec through), so a
        // codec one re-offer dropped comes back with the next.
        leg.lastReceived = offer
        relay.setRemote(leg.side, description: offer)
        guard let base = other.atAnswer ?? other.firstReceived ?? leg.lastSent else { return EPROTO }
        var local = base.restricted(toPayloadTypesOf: offer)
        var toOther = offer
        // Both legs must end on one codec: the one the other side sends now if the offer has it,
        // else the first this answer would name. The local answer and the offer carried across
        // both name only it, so the other side cannot answer with another.
        if let codec = [other.lastReceived?.firstAudioCodec, local.firstAudioCodec].compactMap({ $0 })
            .first(where: { offer.narrowed(toCodec: $0) != nil && local.narrowed(toCodec: $0) != nil }),
           let narrowedLocal = local.narrowed(toCodec: codec), let narrowedOffer = offer.narrowed(toCodec: codec) {
            local = narrowedLocal
            toOther = narrowedOffer
        }
        let reply = local.with(direction: offer.direction.answer).relayed(through: address, port: ourPort, origin: &leg.origin)
        leg.lastSent = reply
        answer.pointee = makeMBuf(reply.text)
        onHold = offer.direction != .sendrecv
        relay.touch()
        if state == .answered, let otherSession = other.session {
            let otherPort = other.side == .caller ? relay.callerPort : relay.calleePort
            let forwarded = toOther.relayed(through: address, port: otherPort, origin: &other.origin)
            other.lastSent = forwarded
            _ = withMBuf(forwarded.text) { mb in sipsess_modify(otherSession, mb) }
        }
        return 0
    }

    fileprivate func answer(from leg: Leg, _ msg: UnsafePointer<sip_msg>) -> Int32 {
        // An answer cannot be refused: one CallTrack may not use leaves the media as it was.
        guard let body = msg.body, let d = SessionDescription(body), acceptable(d) else { return 0 }
        leg.lastReceived = d
        relay.setRemote(leg.side, description: d)
        return 0
    }

    fileprivate func established(_ leg: Leg, _ msg: UnsafePointer<sip_msg>) {
        guard leg.side == .callee, state == .early else { return }
        ringTimer.cancel()
        if let body = msg.body, let d = SessionDescription(body) {
            guard acceptable(d) else {
                reject(caller, code: 502, reason: "Bad Gateway")
                hangUp(by: .calltrack, endReason: "callee_bad_sdp", status: .missed, reason: .failed, code: 502)
                return
            }
            callee.lastReceived = d
            relay.setRemote(.callee, description: d)
        }
        guard let calleeSDP = callee.lastReceived else {
            hangUp(by: .calltrack, endReason: "callee_no_sdp", status: .missed, reason: .failed, code: 502)
            return
        }
        // To the caller this is the answer to its offer, or (delayed offer) CallTrack's offer.
        let toCaller = calleeSDP.relayed(through: address, port: relay.callerPort, origin: &caller.origin)
        caller.lastSent = toCaller
        relay.openLearningWindow(.caller)
        let err = withMBuf(toCaller.text) { mb in ct_sipsess_answer(caller.session, 200, "OK", mb, SwitchBoard.capabilityHeaders) }
        guard err == 0 else {
            hangUp(by: .calltrack, endReason: "answer_failed", status: .missed, reason: .failed, code: 500)
            return
        }
        state = .answered
        caller.atAnswer = caller.lastReceived
        callee.atAnswer = callee.lastReceived
        answeredAt = nowMilliseconds()
        relay.touch()
        let now = Date()
        board.events.publish(.answered(callID: id, at: now))
        startRecording(at: now)
    }

    fileprivate func info(from leg: Leg, _ msg: UnsafePointer<sip_msg>) {
        _ = sip_reply(board.sip, msg, 200, "OK")
        let other = leg.side == .caller ? callee : caller
        guard let session = other.session else { return }
        let ctype = "\(msg.pointee.ctyp.type.string)/\(msg.pointee.ctyp.subtype.string)"
        _ = withMBuf(msg.body ?? "") { mb in sipsess_info(session, ctype, mb, nil, nil) }
    }

    fileprivate func closed(_ leg: Leg, err: Int32, _ msg: UnsafePointer<sip_msg>?) {
        leg.closed = true
        guard state != .ended else { return }
        switch (leg.side, state) {
        case (.caller, .answered):
            hangUp(by: .caller, endReason: err == ECONNRESET ? "caller_bye" : "caller_error", status: .answered)
        case (.caller, _):
            let cancelled = err == ECONNRESET
            hangUp(by: .caller, endReason: cancelled ? "caller_cancel" : "caller_error", status: .missed,
                   reason: cancelled ? .cancelled : .failed, code: 487)
        case (.callee, .answered):
            hangUp(by: .callee, endReason: err == ECONNRESET ? "callee_bye" : "callee_error", status: .answered)
        case (.callee, _):
            let failure = CalleeFailure(err: err, code: msg?.pointee.scode ?? 0, reason: msg?.pointee.reason.string ?? "")
            reject(caller, code: failure.callerCode, reason: failure.callerReason)
            hangUp(by: .callee, endReason: failure.endReason, status: .missed, reason: failure.missedReason,
                   code: Int(failure.callerCode))
        }
    }

    // MARK: Recording

    private func startRecording(at date: Date) {
        guard let recorder = board.recorder else { return }
        guard target.record else {
            recorder.disabled(callID: id)
            return
        }
        let callerSDP = caller.lastReceived?.text ?? "", calleeSDP = callee.lastReceived?.text ?? ""
        recorder.begin(callID: id, answeredAt: date, callerSDP: callerSDP, calleeSDP: calleeSDP)
        relay.tap = RecordingTap(callID: id, answeredAt: answeredAt)
    }

    /// Hands collected packets to the recorder; called by the board's timer.
    func flushRecording(now: UInt64) {
        guard let tap = relay.tap, let recorder = board.recorder, !tap.pending.isEmpty else { return }
        tap.flush(to: recorder, now: now)
    }

    var isRecording: Bool { relay.tap != nil }

    // MARK: Ending

    private func ringTimeout() {
        guard state == .early else { return }
        reject(caller, code: 480, reason: "Temporarily Unavailable")
        hangUp(by: .calltrack, endReason: "ring_timeout", status: .missed, reason: .noAnswer, code: 480)
    }

    func checkMedia(now: UInt64, timeoutMilliseconds: UInt64) {
        guard state == .answered, !onHold, now > relay.lastMediaAt, now - relay.lastMediaAt > timeoutMilliseconds else { return }
        hangUp(by: .calltrack, endReason: "rtp_timeout", status: .answered)
    }

    func hangUpForShutdown() {
        switch state {
        case .answered: hangUp(by: .calltrack, endReason: "shutdown", status: .answered)
        case .ended: return
        default:
            reject(caller, code: 503, reason: "Service Unavailable")
            hangUp(by: .calltrack, endReason: "shutdown", status: .missed, reason: .failed, code: 503)
        }
    }

    /// Sends a final error to an unanswered inbound leg.
    private func reject(_ leg: Leg, code: UInt16, reason: String) {
        guard leg.side == .caller, !leg.closed, let s = leg.session, state != .answered else { return }
        _ = ct_sipsess_reject(s, code, reason)
        leg.closed = true
    }

    /// Ends the call: the legs still up get BYE (or CANCEL), the record is finalised.
    private func hangUp(by party: HangupParty, endReason: String, status: CallStatus,
                        reason: MissedReason? = nil, code: Int = 200) {
        finish(status: status, reason: reason, code: status == .answered ? 200 : code, by: party, endReason: endReason)
    }

    private func finish(status: CallStatus, reason: MissedReason?, code: Int, by party: HangupParty, endReason: String) {
        guard state != .ended else { return }
        state = .ended
        ringTimer.cancel()
        // The visitor has called: their dynamic number can serve someone else now.
        if let a = attribution, a.kind == .dynamic, let reservation = a.reservationID {
            board.numbers?.release(reservationID: reservation, number: target.did)
        }
        if let tap = relay.tap, let recorder = board.recorder {
            let now = nowMilliseconds()
            tap.flush(to: recorder, now: now)
            recorder.end(callID: id, talkMilliseconds: Int(now &- answeredAt))
            relay.tap = nil
        }
        board.logger.debug("call ended", metadata: [
            "call": "\(id)", "status": "\(status.rawValue)", "reason": "\(endReason)", "code": "\(code)",
        ])
        board.statistics.record(status: status)
        board.events.publish(.ended(CallEnd(
            id: id, endedAt: Date(), status: status, missedReason: status == .missed ? reason : nil, sipCode: code,
            hangupBy: party, endReason: endReason,
            callerToCallee: relay.callerToCallee, calleeToCaller: relay.calleeToCaller)))
        board.callEnded(self)
    }

    /// Frees the libre sessions (sending BYE or CANCEL where still needed) and the relay's sockets.
    /// Runs outside libre's callbacks.
    func releaseResources() {
        for leg in [caller, callee] {
            if let s = leg.session { _ = mem_deref(UnsafeMutableRawPointer(s)) }
            leg.session = nil
            board.unregister(leg)
        }
        relay.close()
        authContext = nil
    }
}

/// How a callee's failure is passed to the caller and recorded.
struct CalleeFailure {
    let callerCode: UInt16
    let callerReason: String
    let missedReason: MissedReason
    let endReason: String

    init(err: Int32, code: UInt16, reason: String) {
        if err != 0 || code == 0 {
            let timedOut = err == ETIMEDOUT
            callerCode = timedOut ? 504 : 502
            callerReason = timedOut ? "Server Time-out" : "Bad Gateway"
            missedReason = .failed
            endReason = timedOut ? "callee_timeout" : "callee_unreachable"
            return
        }
        switch code {
        case 486, 600:
            (callerCode, callerReason, missedReason, endReason) = (486, "Busy Here", .busy, "callee_busy")
        case 603, 403:
            (callerCode, callerReason, missedReason, endReason) = (code, reason.isEmpty ? "Decline" : reason, .rejected, "callee_rejected")
        case 408, 480:
            (callerCode, callerReason, missedReason, endReason) = (480, "Temporarily Unavailable", .noAnswer, "callee_no_answer")
        case 401, 407:
            // Never pass a trunk's challenge to the caller: it would invite the caller's credentials.
            (callerCode, callerReason, missedReason, endReason) = (502, "Bad Gateway", .failed, "trunk_auth_failed")
        default:
            (callerCode, callerReason, missedReason, endReason) = (code, reason.isEmpty ? "Call Failed" : reason, .failed, "callee_\(code)")
        }
    }
}

// MARK: libre callbacks (free functions: C cannot call methods)

private func leg(_ arg: UnsafeMutableRawPointer?) -> Call.Leg? {
    guard let arg else { return nil }
    return Unmanaged<Call.Leg>.fromOpaque(arg).takeUnretainedValue()
}

private let offerHandler: @convention(c) (UnsafeMutablePointer<UnsafeMutablePointer<mbuf>?>?, UnsafePointer<sip_msg>?, UnsafeMutableRawPointer?) -> Int32 = { desc, msg, arg in
    guard let msg, let leg = leg(arg) else { return EINVAL }
    return leg.call.offer(from: leg, msg, desc)
}

private let answerHandler: @convention(c) (UnsafePointer<sip_msg>?, UnsafeMutableRawPointer?) -> Int32 = { msg, arg in
    guard let msg, let leg = leg(arg) else { return 0 }
    return leg.call.answer(from: leg, msg)
}

private let progressHandler: @convention(c) (UnsafePointer<sip_msg>?, UnsafeMutableRawPointer?) -> Void = { msg, arg in
    guard let msg, let leg = leg(arg) else { return }
    leg.call.progress(msg)
}

private let establishedHandler: @convention(c) (UnsafePointer<sip_msg>?, UnsafeMutableRawPointer?) -> Void = { msg, arg in
    guard let msg, let leg = leg(arg) else { return }
    leg.call.established(leg, msg)
}

private let infoHandler: @convention(c) (OpaquePointer?, UnsafePointer<sip_msg>?, UnsafeMutableRawPointer?) -> Void = { _, msg, arg in
    guard let msg, let leg = leg(arg) else { return }
    leg.call.info(from: leg, msg)
}

private let closeHandler: @convention(c) (Int32, UnsafePointer<sip_msg>?, UnsafeMutableRawPointer?) -> Void = { err, msg, arg in
    guard let leg = leg(arg) else { return }
    leg.call.closed(leg, err: err, msg)
}
