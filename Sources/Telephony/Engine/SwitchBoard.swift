import CLibre
import CallTrackCore
import Foundation
import Logging

/// The B2BUA's libre side: the SIP stack, its listeners and every active call.
///
/// Lives on libre's SIP thread: `LibreLoop` builds it there and hands it only to closures it runs
/// there; every C callback into it checks that it runs on that loop (`LoopIdentity`). Every request
/// first meets the front door (`screen`, rules in `Admission`); a new INVITE it admits becomes a
/// bridged `Call`.
final class SwitchBoard: CallHost {
    struct Settings: Sendable {
        var listen: [SIPListenAddress]
        var advertisedAddress, rtpBindAddress: String
        var rtpPorts: PortRange
        var rtpTimeoutSeconds: Int
        var userAgent: String
        /// Contact for both legs: a full URI when the advertised address differs from the bound one.
        var contactUser: String
        var untrusted: UntrustedSourcePolicy = .reject
        var maxRequestsPerSecondPerSource = 20
        var mediaLatching: MediaLatching = .signalling
        /// Proxies whose requests name the real sender in `X-CallTrack-Peer`.
        var frontProxies: [CIDR] = []
    }

    let router: CallRouter
    /// What the board and each call it makes are given: settings, events, recorder, attributor,
    /// statistics, media policy, logger, and the SIP loop every callback into the board checks.
    let services: CallServices
    /// The threads the calls' media goes through.
    let relayThreads: RelayThreads
    /// How many calls are up, for `/healthz` and for shutdown to wait on.
    let callCount: CallCount
    var settings: Settings { services.settings }
    var logger: Logger { services.logger }
    var statistics: CallStatistics { services.statistics }
    var mediaPolicy: MediaAddressPolicy { services.mediaPolicy }
    var loop: LoopIdentity { services.loop }

    private(set) var sip, sessionSocket: OpaquePointer?
    /// Where libre keeps each listener of ours (it clears the slot when the listener goes).
    private var listeners: [UnsafeMutablePointer<OpaquePointer?>] = []
    private var dnsClient: OpaquePointer?
    private var registrations: [OpaquePointer] = []
    private var registrationContexts: [TrunkAuth] = []
    let portPool: RTPPortPool
    private var calls: [ObjectIdentifier: Call] = [:]
    private(set) var draining = false

    // Front-door state (see SwitchBoard+Screen.swift).
    var rateLimiter: SourceRateLimiter
    var refusalLog = RefusalLog()
    var refusalsLoggedAt: UInt64 = 0
    /// Every live call leg by its SIP Call-ID: in-dialog requests must come from its peer.
    var legs: [String: Call.Leg] = [:]
    /// What the front door admitted of the INVITE that libre hands to `incomingInvite` next.
    var admitted: AdmittedInvite?
    /// Max-Forwards of each outbound INVITE by Call-ID; also how a leg of ours is recognised coming back.
    var outboundMaxForwards: [String: Int] = [:]
    /// The value for an outbound INVITE being built now, before its Call-ID is known.
    var pendingMaxForwards: Int?
    private let sweepTimer = LibreTimer()
    private let releaseTimer = LibreTimer()
    private var pendingRelease: [() -> Void] = []

    /// Made on the SIP loop, whose identity `services` carries.
    init(router: CallRouter, services: CallServices, relayThreads: RelayThreads, callCount: CallCount) {
        self.router = router
        self.services = services
        self.relayThreads = relayThreads
        self.callCount = callCount
        portPool = RTPPortPool(min: services.settings.rtpPorts.min, max: services.settings.rtpPorts.max)
        rateLimiter = SourceRateLimiter(perSecond: services.settings.maxRequestsPerSecondPerSource)
    }

    /// Opens the SIP stack and listeners; runs on libre's thread before `re_main`.
    func open() throws {
        var dnsServers = [sa](repeating: sa(), count: 4)
        var count: UInt32 = 4
        var domain = [CChar](repeating: 0, count: 64)
        if dns_srv_get(&domain, domain.count, &dnsServers, &count) != 0 || count == 0 {
            dnsServers[0] = sa.make("127.0.0.1", port: 53) ?? sa()
            count = 1
        }
        var dnsc: OpaquePointer?
        var err = dnsc_alloc(&dnsc, nil, &dnsServers, count)
        guard err == 0 else { throw TelephonyError.libre("DNS client", err) }
        dnsClient = dnsc

        var sip: OpaquePointer?
        err = sip_alloc(&sip, dnsc, 1024, 1024, 1024, settings.userAgent, nil, nil)
        guard err == 0, let sip else { throw TelephonyError.libre("SIP stack", err) }
        self.sip = sip

        for entry in settings.listen {
            guard var local = sa.make(entry.address.host, port: UInt16(entry.address.port)) else {
                throw TelephonyError.bind(
                    "\(entry.transport.rawValue):\(entry.address.host):\(entry.address.port)", EINVAL)
            }
            err = ct_sip_transp_add(sip, entry.transport == .udp ? SIP_TRANSP_UDP : SIP_TRANSP_TCP, &local)
            guard err == 0 else {
                throw TelephonyError.bind(
                    "\(entry.transport.rawValue):\(entry.address.host):\(entry.address.port)", err)
            }
        }

        let me = Unmanaged.passUnretained(self).toOpaque()
        // The front door sees every request and response before libre's transactions do.
        try listen(first: true, requests: true, me) { msg, arg in
            board(arg).map { b in msg.map(b.screen) ?? true } ?? true
        }
        try listen(first: true, requests: false, me) { msg, arg in
            board(arg).map { b in msg.map(b.screenResponse) ?? true } ?? true
        }
        var sock: OpaquePointer?
        err = sipsess_listen(
            &sock, sip, 1024,
            { msg, arg in
                guard let msg, let board = board(arg) else { return }
                board.incomingInvite(msg)
            }, me)
        guard err == 0 else { throw TelephonyError.libre("SIP session listener", err) }
        sessionSocket = sock
        // After the session listener: only what sessions do not handle.
        try listen(first: false, requests: true, me) { msg, arg in
            board(arg).map { b in msg.map(b.otherRequest) ?? true } ?? true
        }
        // Responses nothing was waiting for (late retransmissions, strangers) end here, quietly.
        try listen(first: false, requests: false, me) { _, _ in true }
        ct_sip_set_max_forwards_hook(
            sip,
            { callID, length, arg in
                guard let callID, let board = board(arg) else { return -1 }
                let id = String(decoding: UnsafeRawBufferPointer(start: callID, count: length), as: UTF8.self)
                return board.maxForwards(forOutboundCallID: id)
            }, me)
        for entry in settings.listen where entry.transport == .tcp {
            // libre listens with a backlog of 5; a burst of trunk connections needs more.
            if ct_tune_tcp_listeners(UInt16(entry.address.port), 1024, 5) < 1 {
                logger.warning(
                    "SIP over TCP keeps libre's accept backlog of 5", metadata: ["port": "\(entry.address.port)"])
            }
        }

        registerTrunks()
        scheduleSweep()
        logger.info(
            "SIP listening",
            metadata: [
                "listen": "\(settings.listen.map { "\($0.transport.rawValue):\($0.address.host):\($0.address.port)" })",
                "rtp_ports": "\(settings.rtpPorts.min)-\(settings.rtpPorts.max)",
                "tracking_numbers": "\(router.trackingNumberCount)",
            ])
    }

    private func listen(
        first: Bool, requests: Bool, _ me: UnsafeMutableRawPointer,
        _ handler: @convention(c) (UnsafePointer<sip_msg>?, UnsafeMutableRawPointer?) -> Bool
    ) throws {
        // libre keeps the address it is given and writes NULL there when the listener goes:
        // it must outlive the SIP stack, so it is allocated once and never freed.
        let slot = UnsafeMutablePointer<OpaquePointer?>.allocate(capacity: 1)
        slot.initialize(to: nil)
        let err =
            first ? ct_sip_listen_first(slot, sip, requests, handler, me) : sip_listen(slot, sip, requests, handler, me)
        guard err == 0, slot.pointee != nil else { throw TelephonyError.libre("SIP listener", err) }
        listeners.append(slot)
    }

    // MARK: Requests outside sessions

    /// A new INVITE the front door admitted (libre hands every INVITE without a To tag here).
    private func incomingInvite(_ msg: UnsafePointer<sip_msg>) {
        let admission = admitted
        admitted = nil
        guard let admission, admission.callID == msg.callID else {
            // Not through the front door: cannot happen, but never route what it did not admit.
            _ = sip_reply(sip, msg, 500, "Server Internal Error")
            return
        }
        guard
            let relay = MediaRelay(
                threads: relayThreads, bindAddress: settings.rtpBindAddress, portPool: portPool, statistics: statistics,
                latching: settings.mediaLatching, policy: mediaPolicy)
        else {
            statistics.record(.noRTPPorts)
            logger.error("no free RTP ports", metadata: ["available": "\(portPool.available)"])
            _ = ct_sip_reply_headers(sip, msg, 503, "Service Unavailable", "Retry-After: 5\r\n")
            return
        }
        // Attribution reads in-memory indexes here; what must be read from storage is read off this thread.
        let attribution = services.attributor.attributeNow(admission.target.did)
        let call = Call(host: self, services: services, admission: admission, relay: relay, attribution: attribution)
        calls[ObjectIdentifier(call)] = call
        callCount.set(calls.count)
        call.start(invite: msg)
    }

    /// Requests no session took, from sources the front door admitted: OPTIONS keep-alives get
    /// 200, a CANCEL for nothing 481, anything else 405 with what CallTrack does accept.
    private func otherRequest(_ msg: UnsafePointer<sip_msg>) -> Bool {
        switch msg.method {
        case "OPTIONS":
            _ = ct_sip_reply_headers(
                sip, msg, draining ? 503 : 200, draining ? "Service Unavailable" : "OK",
                Self.allowHeader + "Accept: application/sdp\r\n")
        case "CANCEL", "BYE", "INFO", "ACK":
            if msg.method != "ACK" { _ = sip_reply(sip, msg, 481, "Call/Transaction Does Not Exist") }
        default: _ = ct_sip_reply_headers(sip, msg, 405, "Method Not Allowed", Self.allowHeader)
        }
        return true
    }

    /// What CallTrack accepts and supports, on OPTIONS answers, INVITEs and 2xx (no extensions: no 100rel).
    static let allowHeader = "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO\r\n"
    static let capabilityHeaders = allowHeader + "Supported: \r\n"

    /// Registers a call leg by its SIP Call-ID (the front door checks in-dialog requests against it).
    func register(_ leg: Call.Leg, callID: String) {
        leg.callID = callID
        legs[callID] = leg
    }

    func unregister(_ leg: Call.Leg) {
        guard let id = leg.callID else { return }
        if legs[id] === leg { legs.removeValue(forKey: id) }
        outboundMaxForwards.removeValue(forKey: id)
    }

    func sending(maxForwards: Int?) { pendingMaxForwards = maxForwards }

    func sent(callID: String, maxForwards: Int) { outboundMaxForwards[callID] = maxForwards }

    /// A header's value: by libre's id for the headers it knows, else by name.
    func headerValue(_ msg: UnsafePointer<sip_msg>, name: String, id: sip_hdrid? = nil) -> String? {
        guard let hdr = id.map({ sip_msg_hdr(msg, $0) }) ?? sip_msg_xhdr(msg, name) else { return nil }
        return hdr.pointee.val.string
    }

    // MARK: Call bookkeeping

    /// The live call with this id (a few hundred at most: a scan is cheap).
    func call(id: CallID) -> Call? { calls.values.first { $0.id == id } }

    /// Called by a call once both legs are over; frees it on the next loop turn, outside libre's callbacks.
    func callEnded(_ call: Call) {
        deferRelease { [self] in
            call.releaseResources()
            calls.removeValue(forKey: ObjectIdentifier(call))
            callCount.set(calls.count)
        }
    }

    /// Runs `work` on the next loop turn, so that libre objects are never freed inside their own callbacks.
    func deferRelease(_ work: @escaping () -> Void) {
        pendingRelease.append(work)
        releaseTimer.start(milliseconds: 0) { [self] in
            let work = pendingRelease
            pendingRelease.removeAll()
            work.forEach { $0() }
        }
    }

    private func scheduleSweep() {
        sweepTimer.start(milliseconds: 1000) { [self] in
            let now = nowMilliseconds()
            let limit = UInt64(settings.rtpTimeoutSeconds) * 1000
            for call in calls.values { call.checkMedia(now: now, timeoutMilliseconds: limit) }
            logRefusals(now: now)
            scheduleSweep()
        }
    }

    // MARK: Shutdown

    func startDraining() {
        draining = true
        logger.info("draining: new calls get 503", metadata: ["active_calls": "\(calls.count)"])
    }

    func hangUpAll() { for call in calls.values { call.hangUpForShutdown() } }

    func close() {
        sweepTimer.cancel()
        for r in registrations { _ = mem_deref(UnsafeMutableRawPointer(r)) }
        registrations.removeAll()
        if let s = sessionSocket { sipsess_close_all(s) }
        let work = pendingRelease
        pendingRelease.removeAll()
        work.forEach { $0() }
        for slot in listeners { if let l = slot.pointee { _ = mem_deref(UnsafeMutableRawPointer(l)) } }
        listeners.removeAll()
        if let s = sessionSocket { _ = mem_deref(UnsafeMutableRawPointer(s)) }
        if let sip { sip_close(sip, false) }
    }

    // MARK: Trunk registration

    private func registerTrunks() {
        guard let sip else { return }
        for trunk in router.trunks where trunk.register {
            guard let proxy = trunk.proxy, let user = trunk.username, let uri = SIPURI(proxy) else { continue }
            let hostPort = uri.port.map { "\(uri.host):\($0)" } ?? uri.host
            let aor = "sip:\(user)@\(hostPort)"
            let auth = TrunkAuth(username: user, trunk: trunk, logger: logger)
            registrationContexts.append(auth)
            var reg: OpaquePointer?
            let err = ct_sipreg_register(
                &reg, sip, proxy, aor, settings.contactUser, 600, TrunkAuth.credentialsHandler,
                Unmanaged.passUnretained(auth).toOpaque(),
                { err, msg, arg in TrunkAuth.from(arg)?.registered(err: err, msg: msg) },
                Unmanaged.passUnretained(auth).toOpaque())
            if err == 0, let reg {
                registrations.append(reg)
            } else {
                logger.error(
                    "trunk registration failed to start", metadata: ["trunk": "\(trunk.name)", "error": "\(err)"])
            }
        }
    }
}

/// The board behind a C callback's context pointer, on its loop.
private func board(_ arg: UnsafeMutableRawPointer?) -> SwitchBoard? {
    guard let board = arg.map({ Unmanaged<SwitchBoard>.fromOpaque($0).takeUnretainedValue() }) else { return nil }
    board.loop.precondition()
    return board
}

/// Digest credentials for one trunk, handed to libre's auth callbacks (on libre's thread).
final class TrunkAuth {
    /// libre's auth callback: the context is a `TrunkAuth`.
    static let credentialsHandler:
        @convention(c) (
            UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
            UnsafePointer<CChar>?, UnsafeMutableRawPointer?
        ) -> Int32 = { u, p, _, arg in from(arg)?.credentials(u, p) ?? EINVAL }

    static func from(_ arg: UnsafeMutableRawPointer?) -> TrunkAuth? {
        guard let auth = arg.map({ Unmanaged<TrunkAuth>.fromOpaque($0).takeUnretainedValue() }) else { return nil }
        auth.loop.precondition()
        return auth
    }

    /// The SIP loop, where libre asks for the credentials.
    let loop = LoopIdentity.current()
    let username, password, trunk: String
    let logger: Logger

    /// `username` (the trunk's) and the trunk's password, empty when it has none.
    init(username: String, trunk: Trunk, logger: Logger) {
        self.username = username
        password = trunk.password ?? ""
        self.trunk = trunk.name
        self.logger = logger
    }

    func credentials(
        _ user: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
        _ pass: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
    ) -> Int32 {
        guard let user, let pass else { return EINVAL }
        var err = str_dup(user, username)
        if err == 0 { err = str_dup(pass, password) }
        return err
    }

    func registered(err: Int32, msg: UnsafePointer<sip_msg>?) {
        if err != 0 {
            logger.warning("trunk registration error", metadata: ["trunk": "\(trunk)", "error": "\(err)"])
        } else if let msg, msg.pointee.scode >= 300 {
            logger.warning(
                "trunk registration refused", metadata: ["trunk": "\(trunk)", "code": "\(msg.pointee.scode)"])
        } else {
            logger.debug("trunk registered", metadata: ["trunk": "\(trunk)"])
        }
    }
}
