import CLibre
import CallTrackCore

/// Which side of a bridged call: the caller (inbound leg) or the callee (outbound leg).
enum LegSide { case caller, callee }

/// Relays one call's RTP and RTCP between the caller and the callee, packet for packet.
///
/// Each side has its own pair of sockets, so each peer sees only CallTrack. Packets go out
/// unchanged (sequence numbers, SSRC, timestamps). A socket accepts packets only from its
/// leg's peer: the exact address the SDP announced, or the address it latched to (symmetric
/// RTP, for peers behind NAT). Latching happens only during a short learning window after each
/// offer/answer on that leg and only to a source consistent with the signalling; everything
/// else is dropped and counted. Media never goes to CallTrack's own sockets. Lives on libre's thread.
final class MediaRelay {
    final class Socket {
        unowned let relay: MediaRelay
        let side: LegSide
        let isRTCP: Bool
        var handle: OpaquePointer?
        /// Where the SDP says to send.
        var announced: sa?
        /// Where packets actually come from (symmetric RTP), once learned.
        var latched: sa?
        let port: UInt16

        init(relay: MediaRelay, side: LegSide, isRTCP: Bool, port: UInt16) {
            self.relay = relay; self.side = side; self.isRTCP = isRTCP; self.port = port
        }

        var destination: sa? { latched ?? announced }
    }

    /// How long after an offer/answer a leg's sockets may latch to a new source.
    static let learningMilliseconds: UInt64 = 5_000

    let callerPort: UInt16
    let calleePort: UInt16
    private var sockets: [Socket] = []
    private(set) var callerToCallee = MediaCounters()
    private(set) var calleeToCaller = MediaCounters()
    /// libre milliseconds of the last RTP packet from either side.
    private(set) var lastMediaAt: UInt64
    private let portPool: RTPPortPool
    private let statistics: CallStatistics
    private let latching: MediaLatching
    private let policy: MediaAddressPolicy
    /// Per side: until when latching is allowed, the SDP's IP and the SIP peer's IP.
    private var learningUntil: [LegSide: UInt64] = [:]
    private var announcedIP: [LegSide: IPAddress] = [:]
    private var signallingIP: [LegSide: IPAddress] = [:]
    /// Copies of the RTP packets for the recorder, while the call is recorded.
    var tap: RecordingTap?

    /// Binds four sockets on `bindAddress` at random ports; nil when no ports are left or none can be bound.
    init?(bindAddress: String, portPool: RTPPortPool, statistics: CallStatistics, latching: MediaLatching,
          policy: MediaAddressPolicy) {
        let now = nowMilliseconds()
        guard let a = Self.bindPair(bindAddress, pool: portPool, now: now) else { return nil }
        guard let b = Self.bindPair(bindAddress, pool: portPool, now: now) else {
            _ = mem_deref(UnsafeMutableRawPointer(a.rtp)); _ = mem_deref(UnsafeMutableRawPointer(a.rtcp))
            portPool.release(a.port, now: now)
            return nil
        }
        self.portPool = portPool
        self.statistics = statistics
        self.latching = latching
        self.policy = policy
        lastMediaAt = now
        callerPort = a.port
        calleePort = b.port
        sockets = [
            Socket(relay: self, side: .caller, isRTCP: false, port: a.port),
            Socket(relay: self, side: .caller, isRTCP: true, port: a.port + 1),
            Socket(relay: self, side: .callee, isRTCP: false, port: b.port),
            Socket(relay: self, side: .callee, isRTCP: true, port: b.port + 1),
        ]
        let handles = [a.rtp, a.rtcp, b.rtp, b.rtcp]
        for (socket, handle) in zip(sockets, handles) {
            socket.handle = handle
            udp_handler_set(handle, { src, mb, arg in
                guard let src, let mb, let arg else { return }
                preconditionOnLibreLoop()
                let socket = Unmanaged<Socket>.fromOpaque(arg).takeUnretainedValue()
                socket.relay.received(on: socket, from: src.pointee, packet: mb)
            }, Unmanaged.passUnretained(socket).toOpaque())
        }
    }

    private static func bindPair(_ address: String, pool: RTPPortPool, now: UInt64)
        -> (port: UInt16, rtp: OpaquePointer, rtcp: OpaquePointer)? {
        // Ports another program holds are skipped (and returned later), not fatal.
        var skipped: [UInt16] = []
        defer { skipped.forEach { pool.release($0, now: now) } }
        for _ in 0..<64 {
            guard let port = pool.take(now: now) else { return nil }
            if let rtp = bind(address, port), let rtcp = bind(address, port + 1) ?? { _ = mem_deref(UnsafeMutableRawPointer(rtp)); return nil }() {
                return (port, rtp, rtcp)
            }
            skipped.append(port)
        }
        return nil
    }

    private static func bind(_ address: String, _ port: UInt16) -> OpaquePointer? {
        guard var local = sa.make(address, port: port) else { return nil }
        var handle: OpaquePointer?
        guard udp_listen(&handle, &local, nil, nil) == 0, let handle else { return nil }
        // libre allocates 8 KiB per received packet by default; RTP fits in far less.
        udp_rxsz_set(handle, 2048)
        return handle
    }

    /// Closes the sockets and returns the ports to the pool.
    func close() {
        for s in sockets {
            if let h = s.handle { _ = mem_deref(UnsafeMutableRawPointer(h)) }
            s.handle = nil
        }
        if !sockets.isEmpty {
            let now = nowMilliseconds()
            portPool.release(callerPort, now: now)
            portPool.release(calleePort, now: now)
        }
        sockets.removeAll()
    }

    deinit { close() }

    /// The IP a leg's SIP comes from: a source with this IP may be latched to.
    func setSignallingPeer(_ side: LegSide, _ ip: IPAddress?) {
        if let ip { signallingIP[side] = ip }
    }

    /// Sets where one side wants media, from its SDP (already checked by `MediaAddressPolicy`),
    /// and opens that side's learning window. A new address forgets what was latched.
    func setRemote(_ side: LegSide, description: SessionDescription) {
        openLearningWindow(side)
        lastMediaAt = nowMilliseconds()
        guard let ep = description.audioEndpoint, !MediaAddressPolicy.hold.contains(ep.address),
              policy.refusal(address: ep.address, port: ep.port) == nil else { return }
        announcedIP[side] = IPAddress(ep.address)
        for s in sockets where s.side == side {
            let port = s.isRTCP ? (description.rtcpPort ?? ep.port &+ 1) : ep.port
            guard let addr = sa.make(ep.address, port: port) else { continue }
            if let old = s.announced, old.sameEndpoint(as: addr) { continue }
            s.announced = addr
            s.latched = nil
        }
    }

    /// After CallTrack sends SDP to a side, that side may start sending from a new address.
    func openLearningWindow(_ side: LegSide) {
        learningUntil[side] = nowMilliseconds() + Self.learningMilliseconds
    }

    /// Treats now as the last media time (used after answer and on resume from hold).
    func touch() { lastMediaAt = nowMilliseconds() }

    /// Why a packet from `src` on `socket` is not the leg's peer's (nil: it is); latches when the rules allow.
    private func refusal(of src: sa, on socket: Socket, now: UInt64) -> CallStatistics.MediaDrop? {
        if let latched = socket.latched, latched.sameEndpoint(as: src) { return nil }
        if let announced = socket.announced, announced.sameEndpoint(as: src) { return nil }
        guard let ip = IPAddress(src.addressText) else { return .stranger }
        if policy.isOwn(ip, port: Int(src.portNumber)) { return .loop }
        guard latching != .off, now <= learningUntil[socket.side] ?? 0 else { return .stranger }
        if latching == .signalling, ip != announcedIP[socket.side], ip != signallingIP[socket.side] { return .stranger }
        socket.latched = src
        return nil
    }

    private func received(on socket: Socket, from src: sa, packet: UnsafeMutablePointer<mbuf>) {
        let now = nowMilliseconds()
        if let drop = refusal(of: src, on: socket, now: now) {
            statistics.record(drop)
            return
        }
        let size = mbuf_get_left(packet)
        if !socket.isRTCP {
            lastMediaAt = now
            if let tap, let start = mbuf_buf(packet) {
                tap.append(side: socket.side == .caller ? .caller : .callee,
                           bytes: Array(UnsafeBufferPointer(start: start, count: size)), at: now)
            }
        }
        let outIndex = (socket.side == .caller ? 2 : 0) + (socket.isRTCP ? 1 : 0)
        guard outIndex < sockets.count else { return }
        let out = sockets[outIndex]
        guard let handle = out.handle, var dst = out.destination else {
            statistics.record(.noAddress)
            return
        }
        if udp_send(handle, &dst, packet) == 0, !socket.isRTCP {
            if socket.side == .caller {
                callerToCallee.packets += 1; callerToCallee.bytes += size
            } else {
                calleeToCaller.packets += 1; calleeToCaller.bytes += size
            }
        }
    }
}

/// The loop-side half of a recording: collects packet copies until the next hand-over to the recorder.
final class RecordingTap {
    let callID: CallID
    /// libre milliseconds at the answer: the recording's time zero.
    let answeredAt: UInt64
    private(set) var pending: [TappedPacket] = []

    init(callID: CallID, answeredAt: UInt64) {
        self.callID = callID
        self.answeredAt = answeredAt
        pending.reserveCapacity(64)
    }

    func append(side: RecordingSide, bytes: [UInt8], at now: UInt64) {
        pending.append(TappedPacket(side: side, bytes: bytes, arrivalMilliseconds: Int(now &- answeredAt)))
    }

    /// Hands the collected packets to the recorder (which writes on its own queue).
    func flush(to recorder: any CallRecorder, now: UInt64) {
        let batch = pending
        pending = []
        pending.reserveCapacity(batch.count)
        recorder.ingest(callID: callID, packets: batch, nowMilliseconds: Int(now &- answeredAt))
    }
}
