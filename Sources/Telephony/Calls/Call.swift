import CLibre
import CallTrackCore
import Foundation
import Logging

/// One tracked call: the caller's inbound leg bridged to the callee's outbound leg.
///
/// Lives on libre's thread. The inbound INVITE is answered `100 Trying` at once, through a server
/// transaction of CallTrack's own (so a CANCEL is answered), then an INVITE goes to the project's
/// forwarding target; the caller's INVITE is accepted with the callee's first provisional response
/// (or its answer), so the caller hears only what the callee said. Progress, answer, hang-up, re-INVITEs and
/// INFO are carried across; the media goes through `MediaRelay`. What to answer is decided by
/// `OfferAnswer`, how the call ended by `CallOutcome`; the libre calls are in `Call+Libre.swift`.
final class Call {
    /// Where a call is; each case carries what only it needs.
    enum State: Equatable {
        /// The forwarded INVITE is being sent.
        case routing
        /// The callee is being called; `ringing` once it said so (180–183).
        case early(ringing: Bool)
        /// Both legs talk. `at`: libre's clock at the answer, the recording's time zero.
        case answered(at: UInt64, onHold: Bool)
        case ended

        var isAnswered: Bool { if case .answered = self { true } else { false } }
    }

    let id: CallID
    /// The switchboard's handles and leg bookkeeping.
    unowned let host: any CallHost
    let services: CallServices
    /// What the front door read of the caller's INVITE: trunk, target, dialled number, hops, offer.
    let invite: AdmittedInvite
    let relay: MediaRelay
    /// Who the call belongs to; while `attributionPending`, being read from storage (`CallerLookup`).
    private(set) var attribution: Attribution?
    let attributionPending: Bool
    /// Whether `.started` is out: before the 100 Trying when attribution is known at once, else with the
    /// forwarded INVITE (or the end, if the call ends before it).
    private var startPublished = false
    let started = Date()
    private(set) var state = State.routing
    private(set) lazy var caller = Leg(call: self, side: .caller)
    private(set) lazy var callee = Leg(call: self, side: .callee)
    let ringTimer = LibreTimer()
    /// How long the forwarded INVITE waits for the lookup (`CallerLookup`).
    let lookupTimer = LibreTimer()
    /// Whether the caller never called this project before; nil when not known.
    var firstTimeCaller: Bool?
    /// The trunk's credentials while the forwarded INVITE may be challenged.
    var authContext: TrunkAuth?
    /// The caller's INVITE (held: `mem_ref`) until the callee's first word accepts it, and the server
    /// transaction of CallTrack's own that answered it 100 Trying (`Call+Libre.swift`).
    var heldInvite: UnsafePointer<sip_msg>?
    var trying: OpaquePointer?
    /// The node's logger with the call's id, project and SIP Call-ID on every line.
    let logger: Logger

    init(
        host: any CallHost, services: CallServices, admission: AdmittedInvite, relay: MediaRelay,
        attribution: AttributionAnswer
    ) {
        id = CallID.next()
        self.host = host
        self.services = services
        invite = admission
        self.relay = relay
        if case .now(let known) = attribution { self.attribution = known }
        attributionPending = attribution == .later
        var logger = services.logger
        logger[metadataKey: "call"] = "\(id)"
        logger[metadataKey: "project"] = "\(admission.target.projectKey)"
        logger[metadataKey: "sip_call_id"] = "\(admission.callID)"
        self.logger = logger
        Telemetry.callStarted(project: admission.target.projectKey)
    }

    var target: ForwardingTarget { invite.target }
    /// The caller's offer; nil for a delayed offer (CallTrack then offers to the callee itself).
    var callerOffer: SessionDescription? { invite.offer }
    /// `X-CallTrack-Hops` of the forwarded INVITE: one more than the caller's.
    var hops: Int { invite.hops + 1 }
    /// Max-Forwards of the forwarded INVITE: the caller's, less one.
    var maxForwards: Int { max(0, min(invite.maxForwards, 70) - 1) }
    var address: String { services.settings.advertisedAddress }
    private var delayedOffer: Bool { callerOffer == nil }

    // MARK: Setup

    func start(invite msg: UnsafePointer<sip_msg>) {
        callerNumber = msg.pointee.from.uri.user.string
        callerName = DisplayName.parse(msg.pointee.from.val.string) ?? ""
        host.register(caller, callID: msg.callID)
        caller.peer = invite.peer
        relay.setSignallingPeer(.caller, caller.peer)
        logger.debug(
            "call started",
            metadata: ["did": "\(target.did)", "caller": "\(callerNumber)", "trunk": "\(invite.trunk.name)"])
        if !attributionPending { publishStart() }

        // The front door refused offers CallTrack cannot use (488) before any call existed.
        if let offer = callerOffer {
            caller.lastReceived = offer
            relay.setRemote(.caller, description: offer)
        }
        guard answerTrying(msg) else {
            _ = sip_treply(nil, host.sip, msg, 500, "Server Internal Error")
            end(.failed(.acceptFailed, code: 500, "Server Internal Error", tellCaller: false))
            return
        }
        let offer =
            callerOffer?.relayed(through: address, port: relay.calleePort, origin: &callee.origin)
            ?? SessionDescription.defaultOffer(address: address, port: relay.calleePort, origin: &callee.origin)
        callee.lastSent = offer
        let lookup = services.callerLookup
        guard lookup.asks(caller: callerNumber, attribution: attributionPending) else {
            forward(offer)
            return
        }
        // Whether the caller is new (and who the number belongs to, when storage must say) go in the
        // forwarded INVITE if storage answers in time.
        let id = self.id, pending = attributionPending
        let asked = LateAttribution.Waiting(callID: id, number: target.did, at: started)
        lookupTimer.start(milliseconds: CallerLookup.patienceMilliseconds) { [weak self] in self?.forward(offer) }
        lookup.lookUp(projectKey: target.projectKey, caller: callerNumber, attributing: pending ? target.did : nil) {
            board, found in
            if pending && found.attributionUnknown { lookup.late.retry(asked) }
            guard let call = board.call(id: id), call.state == .routing else {
                // The call went on without the answer: what storage said is added to its record.
                if pending { lookup.late.settled(asked, found.attribution) }
                return
            }
            call.firstTimeCaller = found.calledBefore.map { !$0 }
            // Still routing: the start is not out yet, so what storage said goes in it.
            if pending { call.attribution = found.attribution }
            call.forward(offer)
        }
    }

    /// The caller's number and display name from the INVITE's From, for the record and the forwarded INVITE.
    private(set) var callerNumber = "", callerName = ""

    /// Publishes the call's start, once: the record every later event of the call updates.
    private func publishStart() {
        guard !startPublished else { return }
        startPublished = true
        services.events.publish(
            .started(
                CallStart(
                    id: id, projectKey: target.projectKey, trunk: invite.trunk.name, didDialled: invite.dialled,
                    did: target.did.e164, caller: callerNumber, callerName: callerName.isEmpty ? nil : callerName,
                    forwardTo: target.uri, sipCallID: invite.callID, startedAt: started, attribution: attribution)))
    }

    /// Sends the forwarded INVITE (once: the lookup's answer or its timer, whichever comes first).
    private func forward(_ offer: SessionDescription) {
        guard state == .routing else { return }
        lookupTimer.cancel()
        // On record before the forwarded INVITE leaves (docs/reliability.md).
        publishStart()
        guard connect(offer: offer) else {
            end(.failed(.forwardFailed))
            return
        }
        state = .early(ringing: false)
        ringTimer.start(milliseconds: UInt64(target.ringTimeoutSeconds) * 1000) { [weak self] in
            guard let self, case .early = state else { return }
            end(.ringTimeout)
        }
    }

    /// Whether media may go where `description` says (see `MediaAddressPolicy`).
    func acceptable(_ description: SessionDescription) -> Bool {
        guard let ep = description.audioEndpoint else { return true }
        return services.mediaPolicy.refusal(address: ep.address, port: ep.port) == nil
    }

    private func port(_ side: LegSide) -> UInt16 { side == .caller ? relay.callerPort : relay.calleePort }
    private func other(_ leg: Leg) -> Leg { leg.side == .caller ? callee : caller }

    // MARK: Events from the legs

    func progress(_ msg: UnsafePointer<sip_msg>) {
        guard case .early(let ringing) = state else { return }
        let code = msg.pointee.scode
        // 100 Trying is hop by hop: the caller had CallTrack's own.
        guard code > 100 else { return }
        if !ringing && (180...183).contains(code) {
            Telemetry.callSetup(.ringing, seconds: Date().timeIntervalSince(started))
            state = .early(ringing: true)
            services.events.publish(.ringing(callID: id, at: Date()))
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
        if sdp != nil { relay.openLearningWindow(.caller) }
        sendProgress(code: code, reason: code == 180 ? "Ringing" : msg.pointee.reason.string, sdp: sdp)
    }

    /// A re-INVITE from one leg: the answer CallTrack gives it (an offer, when the request had no SDP).
    func offer(from leg: Leg, body: String?) -> Result<SessionDescription, ReofferRefusal> {
        guard let body, let offer = SessionDescription(body) else {
            guard let current = leg.lastSent else { return .failure(.noState) }
            let mine = OfferAnswer.offerOnRequest(current: current).relayed(
                through: address, port: port(leg.side), origin: &leg.origin)
            leg.lastSent = mine
            return .success(mine)
        }
        // Media aimed at CallTrack itself, a group or a name: 488, and the call keeps its media.
        guard acceptable(offer) else { return .failure(.unacceptableAddress) }
        let other = other(leg)
        leg.lastReceived = offer
        relay.setRemote(leg.side, description: offer)
        guard let capabilities = other.capabilities ?? leg.lastSent else { return .failure(.noState) }
        let (answer, toOther) = OfferAnswer.reoffer(
            offer, otherCapabilities: capabilities, otherSends: other.lastReceived?.firstAudioCodec)
        let reply = answer.relayed(through: address, port: port(leg.side), origin: &leg.origin)
        leg.lastSent = reply
        if case .answered(let at, _) = state { state = .answered(at: at, onHold: offer.direction != .sendrecv) }
        relay.touch()
        if state.isAnswered, other.session != nil {
            let forwarded = toOther.relayed(through: address, port: port(other.side), origin: &other.origin)
            other.lastSent = forwarded
            modify(other, sdp: forwarded)
        }
        return .success(reply)
    }

    enum ReofferRefusal: Error { case noState, unacceptableAddress }

    func answer(from leg: Leg, body: String?) {
        // An answer cannot be refused: one CallTrack may not use leaves the media as it was.
        guard let body, let d = SessionDescription(body), acceptable(d) else { return }
        leg.lastReceived = d
        relay.setRemote(leg.side, description: d)
    }

    func established(_ leg: Leg, body: String?) {
        guard leg.side == .callee, case .early = state else { return }
        ringTimer.cancel()
        if let body, let d = SessionDescription(body) {
            guard acceptable(d) else { return end(.failed(.calleeBadSDP)) }
            callee.lastReceived = d
            relay.setRemote(.callee, description: d)
        }
        guard let calleeSDP = callee.lastReceived else { return end(.failed(.calleeNoSDP)) }
        // To the caller this is the answer to its offer, or (delayed offer) CallTrack's offer.
        let toCaller = calleeSDP.relayed(through: address, port: relay.callerPort, origin: &caller.origin)
        caller.lastSent = toCaller
        relay.openLearningWindow(.caller)
        guard answerCaller(sdp: toCaller) else {
            return end(.failed(.answerFailed, code: 500, "Server Internal Error", tellCaller: false))
        }
        let answeredAt = nowMilliseconds()
        state = .answered(at: answeredAt, onHold: false)
        caller.atAnswer = caller.lastReceived
        callee.atAnswer = callee.lastReceived
        relay.touch()
        let now = Date()
        Telemetry.callSetup(.answer, seconds: now.timeIntervalSince(started))
        services.events.publish(.answered(callID: id, at: now))
        startRecording(at: now, answeredAt: answeredAt)
    }

    func closed(_ leg: Leg, err: Int32, code: UInt16, text: String) {
        leg.closed = true
        guard state != .ended else { return }
        end(.legClosed(side: leg.side, answered: state.isAnswered, err: err, code: code, text: text))
    }

    // MARK: Recording

    private func startRecording(at date: Date, answeredAt: UInt64) {
        guard target.record else { return services.recorder.disabled(callID: id) }
        services.recorder.begin(
            callID: id, answeredAt: date, caller: caller.lastReceived?.payloadTypes ?? PayloadTypes(order: []),
            callee: callee.lastReceived?.payloadTypes ?? PayloadTypes(order: []))
        relay.startRecording(callID: id, answeredAt: answeredAt)
    }

    // MARK: Ending

    func checkMedia(now: UInt64, timeoutMilliseconds: UInt64) {
        // Read once: the relay thread moves it forward meanwhile, past `now` even. Either side silent for the
        // limit ends the call, as a B2BUA's per-leg timeout does: a frozen callee must not leave the caller
        // talking to nobody until they give up.
        let quiet = relay.quietSince
        guard case .answered(_, let onHold) = state, !onHold, now > quiet, now - quiet > timeoutMilliseconds else {
            return
        }
        Telemetry.mediaTimeout()
        end(.answered(by: .calltrack, .rtpTimeout))
    }

    func hangUpForShutdown() {
        guard state != .ended else { return }
        end(.shutdown(answered: state.isAnswered))
    }

    /// The one way a call ends: a caller still waiting gets its final response, the record is
    /// finalised, and on the next loop turn the legs still up get BYE (or CANCEL) as their
    /// sessions are freed (`releaseResources`).
    func end(_ outcome: CallOutcome) {
        guard state != .ended else { return }
        publishStart()
        if let response = outcome.toCaller, !state.isAnswered { reject(caller, response) }
        let answeredAt: UInt64? = if case .answered(let at, _) = state { at } else { nil }
        state = .ended
        ringTimer.cancel()
        lookupTimer.cancel()
        if let attribution { services.attributor.callEnded(attribution, number: target.did) }
        if relay.isRecording {
            let now = nowMilliseconds()
            relay.finishRecording(talkMilliseconds: Int(now &- (answeredAt ?? now)))
        }
        logger.debug(
            "call ended",
            metadata: [
                "status": "\(outcome.status.rawValue)", "reason": "\(outcome.reason.name)", "code": "\(outcome.code)",
            ])
        services.statistics.record(status: outcome.status)
        Telemetry.callEnded(project: target.projectKey, status: outcome.status)
        services.events.publish(
            .ended(
                CallEnd(
                    id: id, endedAt: Date(), status: outcome.status, missedReason: outcome.missedReason,
                    sipCode: outcome.code, hangupBy: outcome.by, endReason: outcome.reason,
                    callerToCallee: relay.callerToCallee, calleeToCaller: relay.calleeToCaller)))
        host.callEnded(self)
    }

    /// Frees the libre sessions (libre sends BYE or CANCEL where still needed) and the relay's
    /// sockets. Runs outside libre's callbacks.
    func releaseResources() {
        releaseHeldInvite()
        for leg in [caller, callee] {
            if let s = leg.session { _ = mem_deref(UnsafeMutableRawPointer(s)) }
            leg.session = nil
            host.unregister(leg)
        }
        relay.close()
        authContext = nil
    }
}
