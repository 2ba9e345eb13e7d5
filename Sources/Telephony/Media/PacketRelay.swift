import CLibre
import CallTrackCore
import Metrics
import Synchronization

/// Relays one call's RTP and RTCP between the caller and the callee, packet for packet, on the
/// relay thread its sockets are attached to (`MediaRelay` is the SIP thread's handle on it).
///
/// Each side has its own pair of sockets, so each peer sees only CallTrack. Packets go out
/// unchanged (sequence numbers, SSRC, timestamps). A socket accepts packets only from its
/// leg's peer: the exact address the SDP announced, or the address it latched to (symmetric
/// RTP, for peers behind NAT). Latching happens only during a short learning window after each
/// offer/answer on that leg and only to a source consistent with the signalling; everything
/// else is dropped and counted. Media never goes to CallTrack's own sockets.
final class PacketRelay {
    final class Socket {
        /// The relay holds its sockets and closes them (ending their listening) before it goes.
        unowned(unsafe) let relay: PacketRelay
        let side: LegSide
        let isRTCP: Bool
        var handle: OpaquePointer?
        var fd: Int32 = -1
        /// Where the SDP says to send.
        var announced: sa?
        /// Where packets actually come from (symmetric RTP), once learned.
        var latched: sa?
        let port: UInt16

        init(relay: PacketRelay, side: LegSide, isRTCP: Bool, port: UInt16) {
            self.relay = relay
            self.side = side
            self.isRTCP = isRTCP
            self.port = port
        }

        var destination: sa? { latched ?? announced }
    }

    /// How long after an offer/answer a leg's sockets may latch to a new source.
    static let learningMilliseconds: UInt64 = 5_000

    let callerPort, calleePort: UInt16
    private var sockets: [Socket] = []
    /// Packets and bytes relayed, and the last media time, for the SIP thread to read.
    let counters: RelayCounters
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
    /// The relay thread's receive buffer, shared by its calls.
    private var buffer: ReceiveBuffer?
    /// The relay thread's count of packets relayed (all its calls, RTP and RTCP).
    private var relayed: Counter?
    /// The relay thread's loop, once the sockets are attached to it.
    private var loop: LoopIdentity?

    /// Takes over four bound sockets (caller RTP and RTCP, callee RTP and RTCP) that no loop listens on yet.
    init(
        sockets handles: RelaySockets, portPool: RTPPortPool, statistics: CallStatistics, latching: MediaLatching,
        policy: MediaAddressPolicy, counters: RelayCounters
    ) {
        self.portPool = portPool
        self.statistics = statistics
        self.latching = latching
        self.policy = policy
        self.counters = counters
        callerPort = handles.callerPort
        calleePort = handles.calleePort
        sockets = [
            Socket(relay: self, side: .caller, isRTCP: false, port: callerPort),
            Socket(relay: self, side: .caller, isRTCP: true, port: callerPort + 1),
            Socket(relay: self, side: .callee, isRTCP: false, port: calleePort),
            Socket(relay: self, side: .callee, isRTCP: true, port: calleePort + 1),
        ]
        for (socket, handle) in zip(sockets, handles.handles) { socket.handle = handle }
    }

    /// Starts listening on this thread's loop, reading into the thread's own buffer.
    func attach(buffer: ReceiveBuffer, relayed: Counter) {
        self.buffer = buffer
        self.relayed = relayed
        loop = LoopIdentity.current()
        for socket in sockets {
            guard let handle = socket.handle else { continue }
            // AF_INET6 gives the IPv6 socket when there is one, else the IPv4 one.
            socket.fd = udp_sock_fd(handle, AF_INET6)
            // The socket's destructor ends this listening (libre's fd_close on this thread) before it closes the fd.
            _ = fd_listen(
                socket.fd, Int32(FD_READ),
                { _, arg in
                    guard let arg else { return }
                    let socket = Unmanaged<Socket>.fromOpaque(arg).takeUnretainedValue()
                    socket.relay.loop?.precondition()
                    socket.relay.readable(socket)
                }, Unmanaged.passUnretained(socket).toOpaque())
        }
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

    /// Hands the packets copied since the last flush to the recorder.
    func flushRecording(to recorder: any CallRecorder, now: UInt64) {
        guard let tap, !tap.pending.isEmpty else { return }
        tap.flush(to: recorder, now: now)
    }

    /// The IP a leg's SIP comes from: a source with this IP may be latched to.
    func setSignallingPeer(_ side: LegSide, _ ip: IPAddress?) { if let ip { signallingIP[side] = ip } }

    /// Sets where one side wants media, from its SDP (already checked by `MediaAddressPolicy`),
    /// and opens that side's learning window. A new address forgets what was latched.
    func setRemote(_ side: LegSide, description: SessionDescription) {
        openLearningWindow(side)
        counters.touch()
        guard let ep = description.audioEndpoint, !MediaAddressPolicy.hold.contains(ep.address),
            policy.refusal(address: ep.address, port: ep.port) == nil
        else { return }
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
    func openLearningWindow(_ side: LegSide) { learningUntil[side] = nowMilliseconds() + Self.learningMilliseconds }

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

    /// Reads the packet waiting on `socket` and, when it is the leg's peer's, sends it on from the
    /// other side's socket.
    private func readable(_ socket: Socket) {
        guard let buffer, ct_datagram_read(buffer.packet, socket.fd) == 1 else { return }
        let packet = buffer.packet
        let size = packet.pointee.length
        guard size > 0 else { return }
        let now = nowMilliseconds()
        if let drop = refusal(of: packet.pointee.source, on: socket, now: now) {
            statistics.record(drop)
            return
        }
        if !socket.isRTCP {
            counters.heard(socket.side, at: now)
            if let tap {
                tap.append(
                    side: socket.side == .caller ? .caller : .callee,
                    bytes: Array(UnsafeRawBufferPointer(start: buffer.bytes, count: size)), at: now)
            }
        }
        let outIndex = (socket.side == .caller ? 2 : 0) + (socket.isRTCP ? 1 : 0)
        guard outIndex < sockets.count else { return }
        let out = sockets[outIndex]
        guard out.fd >= 0, var dst = out.destination else {
            statistics.record(.noAddress)
            return
        }
        guard ct_datagram_send(packet, out.fd, &dst) == 1 else { return }
        relayed?.increment()
        if !socket.isRTCP { counters.count(socket.side == .caller ? .callerToCallee : .calleeToCaller, bytes: size) }
    }
}

/// One relay thread's receive buffer, used by every call on the thread in turn.
final class ReceiveBuffer {
    let packet = UnsafeMutablePointer<ct_datagram>.allocate(capacity: 1)
    /// Where the packet's bytes start.
    let bytes: UnsafeRawPointer
    init() { bytes = UnsafeRawPointer(packet) + MemoryLayout<ct_datagram>.offset(of: \ct_datagram.bytes)! }
    deinit { packet.deallocate() }
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
