import CLibre
import CallTrackCore
import Foundation
import Metrics
import Synchronization

/// The media relay's threads (`sip.relay_threads`): each runs its own libre loop, and each call's
/// sockets live on one of them, chosen in turn, so media uses every core while SIP keeps its own.
final class RelayThreads: Sendable {
    private let workers: [LibreLoop<RelayWorker>]
    private let turn = Atomic<Int>(0)
    private let recorder: any CallRecorder

    init(count: Int, recorder: any CallRecorder) {
        workers = (0..<max(1, count)).map { LibreLoop(name: "relay-\($0)", main: false) }
        self.recorder = recorder
    }

    var count: Int { workers.count }

    func start(maxFileDescriptors: Int32) async throws {
        for worker in workers {
            try await worker.start(maxFileDescriptors: maxFileDescriptors) { [recorder] in
                RelayWorker(name: worker.name, recorder: recorder)
            }
        }
    }

    /// The thread the next call's media goes to.
    func next() -> LibreLoop<RelayWorker> { workers[turn.wrappingAdd(1, ordering: .relaxed).oldValue % workers.count] }

    /// Stops every thread once the jobs already handed to it have run (the last calls' sockets
    /// closed, their recordings handed to the recorder).
    func stop() async { for worker in workers { await worker.stop() } }
}

/// What one relay thread owns: its calls' packet relays, by id, and the timer that hands their
/// recorded packets to the recorder.
final class RelayWorker {
    private var relays: [Int: PacketRelay] = [:]
    private let recorder: any CallRecorder
    private let flushTimer = LibreTimer()
    /// Where this thread's calls read their packets into.
    private let buffer = ReceiveBuffer()
    /// Packets this thread relayed: one counter per thread, so threads never share its cache line.
    private let relayed: Counter

    init(name: String, recorder: any CallRecorder) {
        self.recorder = recorder
        relayed = Counter(label: "calltrack_rtp_packets_relayed_total", dimensions: [("thread", name)])
        scheduleFlush()
    }

    func adopt(_ id: Int, _ relay: PacketRelay) {
        relay.attach(buffer: buffer, relayed: relayed)
        relays[id] = relay
    }

    /// Runs `body` with the relay `id`, if it is still open.
    func with(_ id: Int, _ body: (PacketRelay) -> Void) { if let relay = relays[id] { body(relay) } }

    func close(_ id: Int) { relays.removeValue(forKey: id)?.close() }

    /// Every 250 ms the packets copied for recording go to the recorder's queue in one batch per call.
    private func scheduleFlush() {
        flushTimer.start(milliseconds: 250) { [self] in
            let now = nowMilliseconds()
            for relay in relays.values { relay.flushRecording(to: recorder, now: now) }
            scheduleFlush()
        }
    }

    /// Ends a call's recording: what is left goes to the recorder, then the end, in that order.
    func finishRecording(_ id: Int, talkMilliseconds: Int) {
        guard let relay = relays[id], let callID = relay.tap?.callID else { return }
        relay.flushRecording(to: recorder, now: nowMilliseconds())
        recorder.end(callID: callID, talkMilliseconds: talkMilliseconds)
        relay.tap = nil
    }
}
