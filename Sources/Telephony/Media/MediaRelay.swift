import CLibre
import CallTrackCore
import Synchronization

/// Which side of a bridged call: the caller (inbound leg) or the callee (outbound leg).
enum LegSide: Sendable { case caller, callee }

/// The SIP thread's handle on a call's media relay. It binds the call's four sockets (so their
/// ports can go into SDP at once), hands them to a relay thread (`RelayThreads`), and from then on
/// tells that thread what signalling learnt; the relay thread forwards the packets
/// (`PacketRelay`). Counters and the last media time are read here without locks.
final class MediaRelay {
    let callerPort, calleePort: UInt16
    let counters: RelayCounters
    private let worker: LibreLoop<RelayWorker>
    private let id: Int
    private var closed = false
    private(set) var isRecording = false

    private static let ids = Atomic<Int>(0)

    /// Binds four sockets on `bindAddress` at random ports and hands them to the next relay thread;
    /// nil when no ports are left or none can be bound.
    init?(
        threads: RelayThreads, bindAddress: String, portPool: RTPPortPool, statistics: CallStatistics,
        latching: MediaLatching, policy: MediaAddressPolicy
    ) {
        let now = nowMilliseconds()
        guard let a = Self.bindPair(bindAddress, pool: portPool, now: now) else { return nil }
        guard let b = Self.bindPair(bindAddress, pool: portPool, now: now) else {
            _ = mem_deref(UnsafeMutableRawPointer(a.rtp))
            _ = mem_deref(UnsafeMutableRawPointer(a.rtcp))
            portPool.release(a.port, now: now)
            return nil
        }
        let sockets = RelaySockets(callerPort: a.port, calleePort: b.port, handles: [a.rtp, a.rtcp, b.rtp, b.rtcp])
        // udp_listen made this (SIP) thread's loop listen: the relay thread's loop takes over.
        sockets.handles.forEach { udp_thread_detach($0) }
        callerPort = a.port
        calleePort = b.port
        counters = RelayCounters(now: now)
        worker = threads.next()
        id = Self.ids.wrappingAdd(1, ordering: .relaxed).oldValue
        let (id, counters) = (id, counters)
        worker.submit { worker in
            worker.adopt(
                id,
                PacketRelay(
                    sockets: sockets, portPool: portPool, statistics: statistics, latching: latching, policy: policy,
                    counters: counters))
        }
    }

    private static func bindPair(_ address: String, pool: RTPPortPool, now: UInt64) -> (
        port: UInt16, rtp: OpaquePointer, rtcp: OpaquePointer
    )? {
        // Ports another program holds are skipped (and returned later), not fatal.
        var skipped: [UInt16] = []
        defer { skipped.forEach { pool.release($0, now: now) } }
        for _ in 0..<64 {
            guard let port = pool.take(now: now) else { return nil }
            if let rtp = bind(address, port),
                let rtcp = bind(address, port + 1)
                    ?? {
                        _ = mem_deref(UnsafeMutableRawPointer(rtp))
                        return nil
                    }()
            {
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
        return handle
    }

    private func send(_ job: @escaping @Sendable (PacketRelay) -> Void) {
        let id = id
        worker.submit { $0.with(id, job) }
    }

    /// The IP a leg's SIP comes from: a source with this IP may be latched to.
    func setSignallingPeer(_ side: LegSide, _ ip: IPAddress?) {
        guard let ip else { return }
        send { $0.setSignallingPeer(side, ip) }
    }

    /// Sets where one side wants media, from its SDP (already checked by `MediaAddressPolicy`),
    /// and opens that side's learning window. A new address forgets what was latched.
    func setRemote(_ side: LegSide, description: SessionDescription) {
        counters.touch()
        send { $0.setRemote(side, description: description) }
    }

    /// After CallTrack sends SDP to a side, that side may start sending from a new address.
    func openLearningWindow(_ side: LegSide) { send { $0.openLearningWindow(side) } }

    /// Treats now as the last media time (used after answer and on resume from hold).
    func touch() { counters.touch() }

    /// libre milliseconds of the last RTP packet from the side that sent last longest ago (or of the
    /// last `touch`): a leg that went silent (a frozen phone, a lost network) shows here even while the
    /// other goes on talking.
    var quietSince: UInt64 { counters.quietSince }
    var callerToCallee: MediaCounters { counters.read(.callerToCallee) }
    var calleeToCaller: MediaCounters { counters.read(.calleeToCaller) }

    /// Starts copying the call's RTP for the recorder; `answeredAt` (libre milliseconds) is time zero.
    func startRecording(callID: CallID, answeredAt: UInt64) {
        isRecording = true
        send { $0.tap = RecordingTap(callID: callID, answeredAt: answeredAt) }
    }

    /// Hands the last copies to the recorder and ends the recording, on the relay thread, in that order.
    func finishRecording(talkMilliseconds: Int) {
        guard isRecording else { return }
        isRecording = false
        let id = id
        worker.submit { $0.finishRecording(id, talkMilliseconds: talkMilliseconds) }
    }

    /// Closes the sockets (on their relay thread) and returns the ports to the pool.
    func close() {
        guard !closed else { return }
        closed = true
        let id = id
        worker.submit { $0.close(id) }
    }

    deinit { close() }
}

/// Four bound sockets on their way from the SIP thread to a relay thread, which alone uses them from then on.
struct RelaySockets: @unchecked Sendable {
    let callerPort, calleePort: UInt16
    /// Caller RTP, caller RTCP, callee RTP, callee RTCP.
    let handles: [OpaquePointer]
}

/// A relay's packet and byte counts and each side's last media time: written by its relay thread
/// (one writer each, so plain loads and stores), read by the SIP thread.
final class RelayCounters: Sendable {
    enum Direction { case callerToCallee, calleeToCaller }
    private let lastFromCaller: Atomic<UInt64>, lastFromCallee: Atomic<UInt64>
    private let forwardPackets = Atomic<Int>(0), forwardBytes = Atomic<Int>(0)
    private let backwardPackets = Atomic<Int>(0), backwardBytes = Atomic<Int>(0)

    init(now: UInt64) {
        lastFromCaller = Atomic(now)
        lastFromCallee = Atomic(now)
    }

    func touch() {
        let now = nowMilliseconds()
        lastFromCaller.store(now, ordering: .relaxed)
        lastFromCallee.store(now, ordering: .relaxed)
    }

    func heard(_ side: LegSide, at now: UInt64) {
        if side == .caller {
            lastFromCaller.store(now, ordering: .relaxed)
        } else {
            lastFromCallee.store(now, ordering: .relaxed)
        }
    }

    var quietSince: UInt64 { min(lastFromCaller.load(ordering: .relaxed), lastFromCallee.load(ordering: .relaxed)) }

    /// Only the relay thread writes: a load and a store, no read-modify-write.
    func count(_ direction: Direction, bytes: Int) {
        switch direction {
        case .callerToCallee: Self.add(forwardPackets, forwardBytes, bytes)
        case .calleeToCaller: Self.add(backwardPackets, backwardBytes, bytes)
        }
    }

    private static func add(_ packets: borrowing Atomic<Int>, _ total: borrowing Atomic<Int>, _ bytes: Int) {
        packets.store(packets.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
        total.store(total.load(ordering: .relaxed) &+ bytes, ordering: .relaxed)
    }

    func read(_ direction: Direction) -> MediaCounters {
        switch direction {
        case .callerToCallee:
            MediaCounters(
                packets: forwardPackets.load(ordering: .relaxed), bytes: forwardBytes.load(ordering: .relaxed))
        case .calleeToCaller:
            MediaCounters(
                packets: backwardPackets.load(ordering: .relaxed), bytes: backwardBytes.load(ordering: .relaxed))
        }
    }
}
