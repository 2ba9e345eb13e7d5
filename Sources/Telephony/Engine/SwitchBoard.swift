import CLibre
import CallTrackCore
import Foundation
import Logging
import Recording
import Synchronization
import Tracking

/// The B2BUA's libre side: the SIP stack, its listeners and every active call.
///
/// Confined to libre's thread (hence `@unchecked Sendable`: it is only handed to that thread).
/// It decides what each new INVITE gets: 403 for a source no trunk allows, 404 for an
/// unknown DID, 503 while draining, otherwise a bridged `Call`.
final class SwitchBoard: @unchecked Sendable {
    struct Settings {
        var listen: [SIPListenAddress]
        var advertisedAddress: String
        var rtpBindAddress: String
        var rtpPorts: PortRange
        var rtpTimeoutSeconds: Int
        var userAgent: String
        /// Contact for both legs: a full URI when the advertised address differs from the bound one.
        var contactUser: String
    }

    let settings: Settings
    let router: CallRouter
    let events: CallEventBus
    let logger: Logger
    /// Read from other threads (drain on shutdown); written only here.
    let activeCallCount = Atomic<Int>(0)
    let statistics: CallStatistics
    let recorder: Recorder?
    let numbers: NumberPoolBook?

    private(set) var sip: OpaquePointer?
    private(set) var sessionSocket: OpaquePointer?
    private var requestListener: OpaquePointer?
    private var dnsClient: OpaquePointer?
    private var registrations: [OpaquePointer] = []
    private var registrationContexts: [TrunkAuth] = []
    let portPool: RTPPortPool
    private var calls: [ObjectIdentifier: Call] = [:]
    private var draining = false
    private let sweepTimer = LibreTimer()
    private let releaseTimer = LibreTimer()
    private let recordingTimer = LibreTimer()
    private var pendingRelease: [() -> Void] = []

    init(settings: Settings, router: CallRouter, events: CallEventBus, statistics: CallStatistics, recorder: Recorder?,
         numbers: NumberPoolBook?, logger: Logger) {
        self.statistics = statistics
        self.numbers = numbers
        self.recorder = recorder
        self.settings = settings
        self.router = router
        self.events = events
        self.logger = logger
        portPool = RTPPortPool(min: settings.rtpPorts.min, max: settings.rtpPorts.max)
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
                throw TelephonyError.bind("\(entry.transport.rawValue):\(entry.address.host):\(entry.address.port)", EINVAL)
            }
            err = ct_sip_transp_add(sip, entry.transport == .udp ? SIP_TRANSP_UDP : SIP_TRANSP_TCP, &local)
            guard err == 0 else {
                throw TelephonyError.bind("\(entry.transport.rawValue):\(entry.address.host):\(entry.address.port)", err)
            }
        }

        let me = Unmanaged.passUnretained(self).toOpaque()
        var sock: OpaquePointer?
        err = sipsess_listen(&sock, sip, 1024, { msg, arg in
            guard let msg, let arg else { return }
            Unmanaged<SwitchBoard>.fromOpaque(arg).takeUnretainedValue().incomingInvite(msg)
        }, me)
        guard err == 0 else { throw TelephonyError.libre("SIP session listener", err) }
        sessionSocket = sock

        // Registered after the session listener, so it sees only what sessions do not handle.
        var lsnr: OpaquePointer?
        err = sip_listen(&lsnr, sip, true, { msg, arg in
            guard let msg, let arg else { return false }
            return Unmanaged<SwitchBoard>.fromOpaque(arg).takeUnretainedValue().otherRequest(msg)
        }, me)
        guard err == 0 else { throw TelephonyError.libre("SIP request listener", err) }
        requestListener = lsnr

        registerTrunks()
        scheduleSweep()
        scheduleRecordingFlush()
        logger.info("SIP listening", metadata: [
            "listen": "\(settings.listen.map { "\($0.transport.rawValue):\($0.address.host):\($0.address.port)" })",
            "rtp_ports": "\(settings.rtpPorts.min)-\(settings.rtpPorts.max)",
            "tracking_numbers": "\(router.trackingNumberCount)",
        ])
    }

    // MARK: Requests outside sessions

    private func incomingInvite(_ msg: UnsafePointer<sip_msg>) {
        let source = msg.pointee.src.addressText
        guard let address = IPAddress(source), let trunk = router.trunk(admitting: address) else {
            statistics.record(.untrustedSource)
            logger.notice("INVITE refused: source not allowed by any trunk", metadata: ["source": "\(source)"])
            _ = sip_treply(nil, sip, msg, 403, "Forbidden")
            return
        }
        if draining {
            statistics.record(.draining)
            _ = ct_sip_treply_headers(sip, msg, 503, "Service Unavailable", "Retry-After: 30\r\n")
            return
        }
        if let hops = headerValue(msg, name: "X-CallTrack-Hops").flatMap(Int.init), hops >= 3 {
            statistics.record(.loop)
            logger.warning("INVITE refused: forwarding loop", metadata: ["call_id": "\(msg.callID)"])
            _ = sip_treply(nil, sip, msg, 482, "Loop Detected")
            return
        }
        var dialled = msg.pointee.uri.user.string
        if dialled.isEmpty { dialled = msg.pointee.to.uri.user.string }
        dialled = dialled.removingPercentEncoding ?? dialled
        guard let target = router.target(forDialled: dialled) else {
            statistics.record(.unknownNumber)
            logger.info("INVITE for unknown number", metadata: ["did": "\(dialled)", "source": "\(source)"])
            _ = sip_treply(nil, sip, msg, 404, "Not Found")
            return
        }
        guard let relay = MediaRelay(bindAddress: settings.rtpBindAddress, portPool: portPool) else {
            statistics.record(.noRTPPorts)
            logger.error("no free RTP ports", metadata: ["available": "\(portPool.available)"])
            _ = ct_sip_treply_headers(sip, msg, 503, "Service Unavailable", "Retry-After: 5\r\n")
            return
        }
        let hops = (headerValue(msg, name: "X-CallTrack-Hops").flatMap(Int.init) ?? 0) + 1
        // Attribution reads in-memory indexes only: no database on the SIP path.
        let attribution = numbers?.attribute(target.did)
        let call = Call(board: self, trunk: trunk, target: target, dialled: dialled, relay: relay, hops: hops,
                        attribution: attribution)
        calls[ObjectIdentifier(call)] = call
        activeCallCount.store(calls.count, ordering: .relaxed)
        call.start(invite: msg)
    }

    private func otherRequest(_ msg: UnsafePointer<sip_msg>) -> Bool {
        guard msg.method == "OPTIONS" else { return false }
        let source = msg.pointee.src.addressText
        guard let address = IPAddress(source), router.trunk(admitting: address) != nil else {
            _ = sip_treply(nil, sip, msg, 403, "Forbidden")
            return true
        }
        _ = ct_sip_treply_headers(sip, msg, draining ? 503 : 200, draining ? "Service Unavailable" : "OK",
                                  "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO\r\nAccept: application/sdp\r\n")
        return true
    }

    func headerValue(_ msg: UnsafePointer<sip_msg>, name: String) -> String? {
        guard let hdr = sip_msg_xhdr(msg, name) else { return nil }
        return hdr.pointee.val.string
    }

    // MARK: Call bookkeeping

    /// Called by a call once both legs are over; frees it on the next loop turn, outside libre's callbacks.
    func callEnded(_ call: Call) {
        deferRelease { [self] in
            call.releaseResources()
            calls.removeValue(forKey: ObjectIdentifier(call))
            activeCallCount.store(calls.count, ordering: .relaxed)
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
            scheduleSweep()
        }
    }

    /// Every 250 ms the packets copied for recording go to the recorder's queue in one batch per call.
    private func scheduleRecordingFlush() {
        guard recorder != nil else { return }
        recordingTimer.start(milliseconds: 250) { [self] in
            let now = nowMilliseconds()
            for call in calls.values where call.isRecording { call.flushRecording(now: now) }
            scheduleRecordingFlush()
        }
    }

    // MARK: Shutdown

    func startDraining() {
        draining = true
        logger.info("draining: new calls get 503", metadata: ["active_calls": "\(calls.count)"])
    }

    func hangUpAll() {
        for call in calls.values { call.hangUpForShutdown() }
    }

    func close() {
        sweepTimer.cancel()
        recordingTimer.cancel()
        for r in registrations { _ = mem_deref(UnsafeMutableRawPointer(r)) }
        registrations.removeAll()
        if let s = sessionSocket { sipsess_close_all(s) }
        let work = pendingRelease
        pendingRelease.removeAll()
        work.forEach { $0() }
        if let l = requestListener { _ = mem_deref(UnsafeMutableRawPointer(l)) }
        if let s = sessionSocket { _ = mem_deref(UnsafeMutableRawPointer(s)) }
        if let sip { sip_close(sip, false) }
    }

    // MARK: Trunk registration

    private func registerTrunks() {
        guard let sip else { return }
        for trunk in router.trunks where trunk.register {
            guard let proxy = trunk.proxy, let user = trunk.username,
                  let uri = SIPURI(proxy) else { continue }
            let hostPort = uri.port.map { "\(uri.host):\($0)" } ?? uri.host
            let aor = "sip:\(user)@\(hostPort)"
            let auth = TrunkAuth(username: user, password: trunk.password ?? "", logger: logger, trunk: trunk.name)
            registrationContexts.append(auth)
            var reg: OpaquePointer?
            let err = ct_sipreg_register(&reg, sip, proxy, aor, settings.contactUser, 600, { u, p, realm, arg in
                guard let arg else { return EINVAL }
                return Unmanaged<TrunkAuth>.fromOpaque(arg).takeUnretainedValue().credentials(u, p)
            }, Unmanaged.passUnretained(auth).toOpaque(), { err, msg, arg in
                guard let arg else { return }
                Unmanaged<TrunkAuth>.fromOpaque(arg).takeUnretainedValue().registered(err: err, msg: msg)
            }, Unmanaged.passUnretained(auth).toOpaque())
            if err == 0, let reg { registrations.append(reg) } else {
                logger.error("trunk registration failed to start", metadata: ["trunk": "\(trunk.name)", "error": "\(err)"])
            }
        }
    }
}

/// Digest credentials for one trunk, handed to libre's auth callbacks.
final class TrunkAuth {
    let username: String
    let password: String
    let logger: Logger
    let trunk: String

    init(username: String, password: String, logger: Logger, trunk: String) {
        self.username = username; self.password = password; self.logger = logger; self.trunk = trunk
    }

    func credentials(_ user: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                     _ pass: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
        guard let user, let pass else { return EINVAL }
        var err = str_dup(user, username)
        if err == 0 { err = str_dup(pass, password) }
        return err
    }

    func registered(err: Int32, msg: UnsafePointer<sip_msg>?) {
        if err != 0 {
            logger.warning("trunk registration error", metadata: ["trunk": "\(trunk)", "error": "\(err)"])
        } else if let msg, msg.pointee.scode >= 300 {
            logger.warning("trunk registration refused", metadata: ["trunk": "\(trunk)", "code": "\(msg.pointee.scode)"])
        } else {
            logger.debug("trunk registered", metadata: ["trunk": "\(trunk)"])
        }
    }
}
