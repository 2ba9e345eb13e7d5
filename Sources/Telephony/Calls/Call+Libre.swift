import CLibre
import CallTrackCore
import Foundation

/// The libre side of a call: the session calls CallTrack makes, and the C callbacks that bring
/// libre's events back to `Call` (each leg's address is their context pointer).
extension Call {
    /// Answers the caller's INVITE `100 Trying` at once, through a server transaction of CallTrack's
    /// own, and holds the INVITE until the callee says something the caller should hear: a CANCEL
    /// meanwhile reaches `cancelledBeforeProgress` (libre's sessions have no transaction before they
    /// accept, and accept only with 101–299). False if libre cannot.
    func answerTrying(_ msg: UnsafePointer<sip_msg>) -> Bool {
        var st: OpaquePointer?
        guard sip_strans_alloc(&st, host.sip, msg, tryingCancelHandler, context(caller)) == 0, st != nil else {
            return false
        }
        guard sip_treply(&st, host.sip, msg, 100, "Trying") == 0 else {
            _ = mem_deref(UnsafeMutableRawPointer(st))
            return false
        }
        trying = st
        heldInvite = UnsafePointer(
            mem_ref(UnsafeMutableRawPointer(mutating: msg))?.assumingMemoryBound(to: sip_msg.self))
        return true
    }

    /// Accepts the held INVITE with what the callee said (a provisional response, or 200 with the
    /// answer): libre's session takes the transaction over. False if libre cannot.
    private func acceptCaller(_ code: UInt16, _ reason: String, sdp: SessionDescription?) -> Bool {
        guard (101...299).contains(code), let msg = heldInvite else { return false }
        if let st = trying { _ = mem_deref(UnsafeMutableRawPointer(st)) }
        trying = nil
        defer { releaseHeldInvite() }
        var sess: OpaquePointer?
        let err = withMBuf(sdp?.text) { mb in
            ct_sipsess_accept(
                &sess, host.sessionSocket, msg, code, reason, services.settings.contactUser, mb, offerHandler,
                answerHandler, establishedHandler, infoHandler, closeHandler, context(caller),
                SwitchBoard.capabilityHeaders)
        }
        guard err == 0, let sess else { return false }
        caller.session = sess
        return true
    }

    /// The caller cancelled while it had only heard 100 Trying: its INVITE gets 487, and the call ends.
    func cancelledBeforeProgress() {
        guard let msg = heldInvite, !caller.closed else { return }
        _ = sip_treply(&trying, host.sip, msg, 487, "Request Terminated")
        caller.closed = true
        closed(caller, err: ECONNRESET, code: 0, text: "")
    }

    /// Frees the held INVITE and CallTrack's own transaction (one that sent a final response lives on
    /// in libre until its timers end).
    func releaseHeldInvite() {
        if let st = trying { _ = mem_deref(UnsafeMutableRawPointer(st)) }
        trying = nil
        if let msg = heldInvite { _ = mem_deref(UnsafeMutableRawPointer(mutating: msg)) }
        heldInvite = nil
    }

    /// Sends the forwarded INVITE with `offer` to the project's target; false if it cannot be sent.
    func connect(offer: SessionDescription) -> Bool {
        let fromURI = "sip:\(callerNumber.isEmpty ? "anonymous" : callerNumber)@\(address)"
        // libre writes the Route as <proxy;lr>: the configured URI goes in without its own ;lr.
        let route = target.trunk?.proxy.map { $0.replacingOccurrences(of: ";lr", with: "", options: .caseInsensitive) }
        authContext = target.trunk.flatMap { t in t.username.map { TrunkAuth(username: $0, trunk: t, logger: logger) } }
        let shownName =
            target.callerNamePrefix ? SourceHeaders.displayName(callerName, attribution: attribution) : callerName
        var sess: OpaquePointer?
        // libre sends the INVITE from inside connect: its Max-Forwards is asked for by Call-ID, not yet known.
        host.sending(maxForwards: maxForwards)
        let err = withMBuf(offer.text) { mb in
            ct_sipsess_connect(
                &sess, host.sessionSocket, target.uri, shownName.isEmpty ? nil : DisplayName.quotedContent(shownName),
                fromURI, services.settings.contactUser, route, mb,
                authContext == nil ? nil : TrunkAuth.credentialsHandler,
                authContext.map { Unmanaged.passUnretained($0).toOpaque() }, offerHandler, answerHandler,
                progressHandler, establishedHandler, infoHandler, closeHandler, context(callee),
                "X-CallTrack-Hops: \(hops)\r\n"
                    + SourceHeaders.lines(callID: id, attribution: attribution, firstTime: firstTimeCaller)
                    + SwitchBoard.capabilityHeaders)
        }
        host.sending(maxForwards: nil)
        guard err == 0, let sess else {
            logger.error("cannot call forwarding target", metadata: ["uri": "\(target.uri)", "error": "\(err)"])
            return false
        }
        callee.session = sess
        if let dialog = sipsess_dialog(sess), let id = sip_dialog_callid(dialog) {
            let callID = String(cString: id)
            host.register(callee, callID: callID)
            host.sent(callID: callID, maxForwards: maxForwards)
        }
        return true
    }

    /// A provisional response to the caller, with early media when `sdp` is given.
    func sendProgress(code: UInt16, reason: String, sdp: SessionDescription?) {
        guard caller.session != nil else {
            _ = acceptCaller(code, reason, sdp: sdp)
            return
        }
        _ = withMBuf(sdp?.text) { mb in ct_sipsess_progress(caller.session, code, reason, mb, nil) }
    }

    /// The caller's 200 OK; false if libre cannot send it.
    func answerCaller(sdp: SessionDescription) -> Bool {
        guard caller.session != nil else { return acceptCaller(200, "OK", sdp: sdp) }
        return withMBuf(sdp.text) { mb in
            ct_sipsess_answer(caller.session, 200, "OK", mb, SwitchBoard.capabilityHeaders)
        } == 0
    }

    /// A re-INVITE of CallTrack's own on `leg`.
    func modify(_ leg: Leg, sdp: SessionDescription) {
        guard let session = leg.session else { return }
        _ = withMBuf(sdp.text) { mb in sipsess_modify(session, mb) }
    }

    /// A final error response to the caller's INVITE, unless the caller's leg is over.
    func reject(_ leg: Leg, _ response: CallOutcome.Response) {
        guard leg.side == .caller, !leg.closed else { return }
        if let s = leg.session {
            _ = ct_sipsess_reject(s, response.code, response.reason)
        } else if let msg = heldInvite {
            // Still on CallTrack's own transaction, which retransmits the answer until the ACK.
            _ = sip_treply(&trying, host.sip, msg, response.code, response.reason)
        }
        leg.closed = true
    }

    /// INFO (DTMF, say) from one leg goes to the other as it came.
    func info(from leg: Leg, _ msg: UnsafePointer<sip_msg>) {
        _ = sip_reply(host.sip, msg, 200, "OK")
        guard let session = (leg.side == .caller ? callee : caller).session else { return }
        let ctype = "\(msg.pointee.ctyp.type.string)/\(msg.pointee.ctyp.subtype.string)"
        _ = withMBuf(msg.body ?? "") { mb in sipsess_info(session, ctype, mb, nil, nil) }
    }

    private func context(_ leg: Leg) -> UnsafeMutableRawPointer { Unmanaged.passUnretained(leg).toOpaque() }
}

// MARK: libre callbacks (free functions: C cannot call methods)

/// The leg behind a callback's context pointer, on its call's loop.
private func leg(_ arg: UnsafeMutableRawPointer?) -> Call.Leg? {
    guard let leg = arg.map({ Unmanaged<Call.Leg>.fromOpaque($0).takeUnretainedValue() }) else { return nil }
    leg.call.services.loop.precondition()
    return leg
}

/// A CANCEL for the caller's INVITE while only 100 Trying had answered it (libre has replied 200 to it).
private let tryingCancelHandler: @convention(c) (UnsafeMutableRawPointer?) -> Void = { arg in
    guard let leg = leg(arg) else { return }
    leg.call.cancelledBeforeProgress()
}

private let offerHandler:
    @convention(c) (
        UnsafeMutablePointer<UnsafeMutablePointer<mbuf>?>?, UnsafePointer<sip_msg>?, UnsafeMutableRawPointer?
    ) -> Int32 = { desc, msg, arg in
        guard let desc, let msg, let leg = leg(arg) else { return EINVAL }
        switch leg.call.offer(from: leg, body: msg.body) {
        case .success(let answer):
            desc.pointee = makeMBuf(answer.text)
            return 0
        case .failure(.unacceptableAddress): return EADDRNOTAVAIL  // libre answers 488
        case .failure(.noState): return EPROTO
        }
    }

private let answerHandler: @convention(c) (UnsafePointer<sip_msg>?, UnsafeMutableRawPointer?) -> Int32 = { msg, arg in
    guard let msg, let leg = leg(arg) else { return 0 }
    leg.call.answer(from: leg, body: msg.body)
    return 0
}

private let progressHandler: @convention(c) (UnsafePointer<sip_msg>?, UnsafeMutableRawPointer?) -> Void = { msg, arg in
    guard let msg, let leg = leg(arg) else { return }
    leg.call.progress(msg)
}

private let establishedHandler: @convention(c) (UnsafePointer<sip_msg>?, UnsafeMutableRawPointer?) -> Void = {
    msg, arg in
    guard let msg, let leg = leg(arg) else { return }
    leg.call.established(leg, body: msg.body)
}

private let infoHandler: @convention(c) (OpaquePointer?, UnsafePointer<sip_msg>?, UnsafeMutableRawPointer?) -> Void = {
    _, msg, arg in
    guard let msg, let leg = leg(arg) else { return }
    leg.call.info(from: leg, msg)
}

private let closeHandler: @convention(c) (Int32, UnsafePointer<sip_msg>?, UnsafeMutableRawPointer?) -> Void = {
    err, msg, arg in
    guard let leg = leg(arg) else { return }
    leg.call.closed(leg, err: err, code: msg?.pointee.scode ?? 0, text: msg?.pointee.reason.string ?? "")
}
