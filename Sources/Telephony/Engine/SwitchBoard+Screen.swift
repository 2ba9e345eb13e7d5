import CLibre
import CallTrackCore
import Foundation

// The front door: every SIP request and response reaches these listeners before libre's
// transactions, sessions or any call code (see `ct_sip_listen_first`).

/// What the front door read of a new INVITE it admitted, handed to `incomingInvite` so nothing is read twice.
struct AdmittedInvite {
    let callID: String
    let target: ForwardingTarget
    let trunk: Trunk
    /// The number as the carrier sent it.
    let dialled: String
    /// The caller's `X-CallTrack-Hops`, and its `Max-Forwards` (70 when absent).
    let hops, maxForwards: Int
    /// The caller's SDP offer; nil for a delayed offer.
    let offer: SessionDescription?
    /// Who sent it: the source address, or the sender a front proxy named.
    let peer: IPAddress
}

/// The parts of a new INVITE the rules read that the call needs too.
private struct InviteReading {
    var dialled = ""
    var hops = 0
    var offer: SessionDescription?
}

extension SwitchBoard {
    /// Decides what a request gets (see `Admission`); true when it was answered or dropped here.
    func screen(_ msg: UnsafePointer<sip_msg>) -> Bool {
        guard let hop = IPAddress(msg.pointee.src.addressText) else { return true }
        // Through a front proxy the rules apply to the sender it names; its own OPTIONS (probes) are its own.
        let viaProxy = isFrontProxy(hop)
        var source = hop
        if viaProxy {
            switch proxiedPeer(msg) {
            case .some(let peer): source = peer
            case .none where msg.method == "OPTIONS": break
            case .none:
                if msg.method != "ACK" {
                    _ = ct_sip_reply_headers(sip, msg, 403, "Forbidden (no X-CallTrack-Peer from the front proxy)", "")
                }
                refused(.untrustedSource, source: hop.text, msg: msg, trusted: true)
                return true
            }
        }
        let sourceText = source.text
        let now = nowMilliseconds()
        let trunk = router.trunk(admitting: source)
        let overRate = trunk == nil && !rateLimiter.allow(source.limitBytes, nowMilliseconds: now)
        var facts = Admission.Request(
            method: msg.method, trunkAdmits: trunk != nil || (viaProxy && msg.method == "OPTIONS"), overRate: overRate)
        var invite = InviteReading()
        if !overRate { gatherFacts(msg, source: source, into: &facts, invite: &invite) }
        let verdict = Admission.decide(facts, untrusted: settings.untrusted)
        switch verdict {
        case .pass:
            // Re-INVITEs may move the dialog target: keep it at the address they come from.
            if facts.inDialog, facts.method == "INVITE", let leg = legs[msg.callID],
                ct_sip_msg_target_source(msg, viaProxy || leg.side == .callee) != 0
            {
                return refuseTarget(msg, source: sourceText)
            }
            return false
        case .route(let target):
            // The caller is reached where its INVITE came from (NAT), never through a hostname it names;
            // through a front proxy, by its Contact and the proxy's Record-Route as received (IP literals: a
            // name there is replaced by the proxy's address, never resolved).
            guard let trunk else { preconditionFailure("Admission routes only INVITEs a trunk admits") }
            guard ct_sip_msg_target_source(msg, viaProxy) == 0 else { return refuseTarget(msg, source: sourceText) }
            admitted = AdmittedInvite(
                callID: msg.callID, target: target, trunk: trunk, dialled: invite.dialled, hops: invite.hops,
                maxForwards: facts.maxForwards ?? 70, offer: invite.offer, peer: source)
            return false
        case .reply(let code, let reason, let headers, let refusal):
            _ = ct_sip_reply_headers(sip, msg, code, reason, headers)
            refused(refusal, source: sourceText, msg: msg, trusted: facts.trunkAdmits || facts.dialogPeer)
            return true
        case .drop(let refusal):
            refused(refusal, source: sourceText, msg: msg, trusted: facts.trunkAdmits || facts.dialogPeer)
            return true
        }
    }

    private func gatherFacts(
        _ msg: UnsafePointer<sip_msg>, source: IPAddress, into facts: inout Admission.Request,
        invite: inout InviteReading
    ) {
        let m = msg.pointee
        let body = msg.bodyBytes
        let check = MessageCheck(
            method: facts.method, callID: m.callid.string, fromURI: m.from.auri.string, toURI: m.to.auri.string,
            cseqMethod: m.cseq.met.string, viaSentBy: m.via.sentby.string, viaParams: m.via.params.string,
            contentLength: m.clen.p == nil ? nil : m.clen.string.trimmingCharacters(in: .whitespaces),
            maxForwards: m.maxfwd.p == nil ? nil : m.maxfwd.string.trimmingCharacters(in: .whitespaces),
            bodyBytes: body.count, trailingBlankBytes: body.trailingBlank, datagram: m.tp == SIP_TRANSP_UDP)
        facts.malformed = check.malformation()
        guard facts.malformed == nil else { return }
        facts.maxForwards = check.maxForwardsValue
        facts.unsupported = MessageCheck.requiredOptions(headerValue(msg, name: "Require", id: SIP_HDR_REQUIRE))

        let callID = m.callid.string
        let leg = legs[callID]
        facts.dialogPeer = leg.map { $0.peer == source } ?? false
        let hasToTag = m.to.tag.l > 0
        // An INVITE with a caller's Call-ID is that caller's retransmission, not a new call; one
        // with the Call-ID of an outbound leg is CallTrack's own INVITE coming back (a loop).
        let returning = facts.method == "INVITE" && !hasToTag && leg?.side == .callee
        facts.inDialog =
            hasToTag || facts.method == "ACK" || facts.method == "CANCEL"
            || (facts.method == "INVITE" && leg?.side == .caller)
        if returning { facts.dialogPeer = false }
        guard facts.method == "INVITE", !facts.inDialog, facts.trunkAdmits else { return }

        facts.draining = draining
        var dialled = m.uri.user.string
        if dialled.isEmpty { dialled = m.to.uri.user.string }
        invite.dialled = dialled.removingPercentEncoding ?? dialled
        facts.target = router.target(forDialled: invite.dialled)
        guard !facts.draining, facts.target != nil else { return }
        invite.hops = headerValue(msg, name: "X-CallTrack-Hops").flatMap { Int($0) } ?? 0
        // One of CallTrack's own outbound legs coming back: a proxy keeps the Call-ID even when it
        // strips CallTrack's headers. (Equipment that renews the Call-ID but passes SDP through
        // offers CallTrack's own relay port and gets 488; Max-Forwards ends any other loop.)
        facts.loop = invite.hops >= 3 || returning
        if let text = msg.body {
            invite.offer = SessionDescription(text)
            if let offer = invite.offer {
                facts.badOffer = offer.audioEndpoint.flatMap { mediaPolicy.refusal(address: $0.address, port: $0.port) }
            } else {
                facts.badOffer = "the body is not an SDP offer with an m= line"
            }
        }
    }

    /// Whether `hop` is one of `sip.front_proxies`.
    private func isFrontProxy(_ hop: IPAddress) -> Bool { settings.frontProxies.contains { $0.contains(hop) } }

    /// The sender a front proxy names: nil when the header is absent, unreadable or given more than once.
    private func proxiedPeer(_ msg: UnsafePointer<sip_msg>) -> IPAddress? {
        guard sip_msg_xhdr_count(msg, ProxiedPeer.header) == 1 else { return nil }
        return headerValue(msg, name: ProxiedPeer.header).flatMap(ProxiedPeer.init)?.address
    }

    /// A Contact or Record-Route that cannot be rewritten to the source (unreadable, or too long)
    /// is never used as it is: 400.
    private func refuseTarget(_ msg: UnsafePointer<sip_msg>, source: String) -> Bool {
        _ = ct_sip_reply_headers(sip, msg, 400, "Bad Contact or Record-Route", "")
        refused(.malformed, source: source, msg: msg, trusted: true)
        return true
    }

    private func refused(_ refusal: CallStatistics.Refusal, source: String, msg: UnsafePointer<sip_msg>, trusted: Bool)
    {
        // The ACK that completes a refused INVITE is expected, not a refusal of its own.
        if msg.method != "ACK" {
            statistics.record(refusal)
            refusalLog.add(refusal, source: source)
        }
        // A stranger on a TCP connection is disconnected after its first refused request.
        if !trusted, msg.pointee.tp != SIP_TRANSP_UDP, let conn = sip_msg_tcpconn(msg) {
            let fd = tcp_conn_fd(conn)
            if fd >= 0 { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    /// Responses to CallTrack's INVITEs and re-INVITEs: the callee leg's peer is where its answers
    /// come from (its 2xx has the last word, after a redirect or failover); the dialog target a
    /// response sets is the address it came from (the caller's side, as for its INVITE), or for the
    /// callee any target naming a host. A response whose target cannot be rewritten is dropped.
    func screenResponse(_ msg: UnsafePointer<sip_msg>) -> Bool {
        guard msg.pointee.cseq.met.string == "INVITE", let leg = legs[msg.callID] else { return false }
        let code = msg.pointee.scode
        if leg.side == .callee, leg.peer == nil || (200..<300).contains(code) {
            leg.peer = IPAddress(msg.pointee.src.addressText)
            leg.call.relay.setSignallingPeer(.callee, leg.peer)
        }
        guard code < 300 else { return false }
        // Dropped rather than leave libre a target it would have to resolve. A caller's answer relayed by a front
        // proxy keeps its Contact (rewritten to the source it would aim the dialog at the proxy itself).
        let viaProxy = IPAddress(msg.pointee.src.addressText).map(isFrontProxy) ?? false
        return ct_sip_msg_target_source(msg, leg.side == .callee || viaProxy) != 0
    }

    /// Writes the refusals counted since the last line as one line, at most every ten seconds.
    func logRefusals(now: UInt64) {
        guard now &- refusalsLoggedAt >= 10_000, let line = refusalLog.take() else { return }
        refusalsLoggedAt = now
        logger.notice(
            "SIP requests refused (source not allowed, malformed, over rate, ...)",
            metadata: ["refused": "\(line.total)", "by_reason": "\(line.byReason)", "sources": "\(line.topSources)"])
    }

    /// libre asks for the Max-Forwards of each outgoing INVITE: one less than the caller's.
    func maxForwards(forOutboundCallID callID: String) -> Int32 {
        if let value = outboundMaxForwards[callID] { return Int32(value) }
        if let pending = pendingMaxForwards {
            outboundMaxForwards[callID] = pending
            return Int32(pending)
        }
        return -1
    }
}

extension UnsafePointer where Pointee == sip_msg {
    /// Bytes after the header block, and how many at the end are blank.
    var bodyBytes: (count: Int, trailingBlank: Int) {
        guard let mb = pointee.mb else { return (0, 0) }
        let left = mbuf_get_left(mb)
        guard left > 0, let start = mbuf_buf(mb) else { return (0, 0) }
        var blank = 0
        while blank < left {
            let b = start[left - 1 - blank]
            guard b == 0x0d || b == 0x0a || b == 0x20 || b == 0x09 else { break }
            blank += 1
        }
        return (left, blank)
    }
}
