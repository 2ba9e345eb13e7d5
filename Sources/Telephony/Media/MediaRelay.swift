import CLibre
import CallTrackCore
import Recording

/// Which side of a bridged call: the caller (inbound leg) or the callee (outbound leg).
enum LegSide { case caller, callee }

/// Relays one call's RTP and RTCP between the caller and the callee, packet for packet.
///
/// Each side has its own pair of sockets, so each peer sees only CallTrack. Packets go out
/// unchanged (sequence numbers, SSRC, timestamps). The relay sends to the address the peer
/// announced in SDP until a packet arrives, then latches to where that packet came from
/// (symmetric RTP), so peers behind NAT work. Lives on libre's thread.
final class MediaRelay {
    final class Socket {
        unowned let relay: MediaRelay
        let side: LegSide
        let isRTCP: Bool
        var handle: OpaquePointer?
        var remote: sa?
        var latched = false
        let port: UInt16

        init(relay: MediaRelay, side: LegSide, isRTCP: Bool, port: UInt16) {
            self.relay = relay; self.side = side; self.isRTCP = isRTCP; self.port = port
        }
    }

    let callerPort: UInt16
    let calleePort: UInt16
    private var sockets: [Socket] = []
    private(set) var callerToCallee = MediaCounters()
    private(set) var calleeToCaller = MediaCounters()
    /// libre milliseconds of the last RTP packet from either side.
    private(set) var lastMediaAt: UInt64
    private let portPool: RTPPortPool
    /// Copies of the RTP packets for the recorder, while the call is recorded.
    var tap: RecordingTap?

    /// Binds four sockets on `bindAddress`; nil when no ports are left or none can be bound.
    init?(bindAddress: String, portPool: RTPPortPool) {
        guard let a = Self.bindPair(bindAddress, pool: portPool) else { return nil }
        guard let b = Self.bindPair(bindAddress, pool: portPool) else {
            _ = mem_deref(UnsafeMutableRawPointer(a.rtp)); _ = mem_deref(UnsafeMutableRawPointer(a.rtcp))
            portPool.release(a.port)
            return nil
        }
        self.portPool = portPool
        lastMediaAt = nowMilliseconds()
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
                let socket = Unmanaged<Socket>.fromOpaque(arg).takeUnretainedValue()
                socket.relay.received(on: socket, from: src.pointee, packet: mb)
            }, Unmanaged.passUnretained(socket).toOpaque())
        }
    }

    private static func bindPair(_ address: String, pool: RTPPortPool)
        -> (port: UInt16, rtp: OpaquePointer, rtcp: OpaquePointer)? {
        // Ports another program holds are skipped (and returned later), not fatal.
        var skipped: [UInt16] = []
        defer { skipped.forEach(pool.release) }
        for _ in 0..<64 {
            guard let port = pool.take() else { return nil }
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
            portPool.release(callerPort)
            portPool.release(calleePort)
        }
        sockets.removeAll()
    }

    deinit { close() }

    /// Sets where one side wants media, from its SDP; a new address un-latches.
    func setRemote(_ side: LegSide, description: SessionDescription) {
        guard let ep = description.audioEndpoint, ep.address != "0.0.0.0" else { return }
        for s in sockets where s.side == side {
            let port = s.isRTCP ? (description.rtcpPort ?? ep.port &+ 1) : ep.port
            guard let addr = sa.make(ep.address, port: port) else { continue }
            if let old = s.remote, old.sameEndpoint(as: addr), s.latched { continue }
            s.remote = addr
            s.latched = false
        }
        lastMediaAt = nowMilliseconds()
    }

    /// Treats now as the last media time (used after answer and on resume from hold).
    func touch() { lastMediaAt = nowMilliseconds() }

    private func received(on socket: Socket, from src: sa, packet: UnsafeMutablePointer<mbuf>) {
        if !socket.latched || socket.remote == nil {
            socket.remote = src
            socket.latched = true
        }
        let size = mbuf_get_left(packet)
        if !socket.isRTCP {
            let now = nowMilliseconds()
            lastMediaAt = now
            if let tap, let start = mbuf_buf(packet) {
                tap.append(side: socket.side == .caller ? .caller : .callee,
                           bytes: Array(UnsafeBufferPointer(start: start, count: size)), at: now)
            }
        }
        let outIndex = (socket.side == .caller ? 2 : 0) + (socket.isRTCP ? 1 : 0)
        guard outIndex < sockets.count else { return }
        let out = sockets[outIndex]
        guard let handle = out.handle, var dst = out.remote else { return }
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
    func flush(to recorder: Recorder, now: UInt64) {
        let batch = pending
        pending = []
        pending.reserveCapacity(batch.count)
        recorder.ingest(callID: callID, packets: batch, nowMilliseconds: Int(now &- answeredAt))
    }
}
