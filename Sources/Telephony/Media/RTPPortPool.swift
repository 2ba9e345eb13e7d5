import Synchronization

/// Hands out even RTP ports (RTCP is the next odd one) from the configured range, at random.
///
/// Random choice keeps a stranger from guessing the next call's ports. A released port waits in
/// quarantine before it can be chosen again, so stray packets of an ended call do not reach
/// the next one; when nothing else is free the longest-quarantined port is used. Ports are taken
/// on the SIP thread and released on the relay thread that closed the call's sockets.
final class RTPPortPool: Sendable {
    private struct State {
        var free: [UInt16]
        /// Released ports, oldest first, with the libre milliseconds of their release.
        var quarantine: [(port: UInt16, at: UInt64)] = []
        var quarantineHead = 0
        var random: any RandomNumberGenerator
    }

    private let state: Mutex<State>
    let quarantineMilliseconds: UInt64

    init(
        min: Int, max: Int, quarantineMilliseconds: UInt64 = 10_000,
        random: sending any RandomNumberGenerator = SystemRandomNumberGenerator()
    ) {
        let first = min % 2 == 0 ? min : min + 1
        state = Mutex(State(free: stride(from: first, to: max, by: 2).map { UInt16($0) }, random: random))
        self.quarantineMilliseconds = quarantineMilliseconds
    }

    var available: Int { state.withLock { $0.free.count + $0.quarantine.count - $0.quarantineHead } }

    func take(now: UInt64) -> UInt16? {
        state.withLock { s in
            while s.quarantineHead < s.quarantine.count,
                now &- s.quarantine[s.quarantineHead].at >= quarantineMilliseconds
            {
                s.free.append(s.quarantine[s.quarantineHead].port)
                s.quarantineHead += 1
            }
            if s.quarantineHead > 1024 && s.quarantineHead * 2 > s.quarantine.count {
                s.quarantine.removeFirst(s.quarantineHead)
                s.quarantineHead = 0
            }
            if s.free.isEmpty {
                guard s.quarantineHead < s.quarantine.count else { return nil }
                s.quarantineHead += 1
                return s.quarantine[s.quarantineHead - 1].port
            }
            let i = Int.random(in: 0..<s.free.count, using: &s.random)
            s.free.swapAt(i, s.free.count - 1)
            return s.free.removeLast()
        }
    }

    func release(_ port: UInt16, now: UInt64) { state.withLock { $0.quarantine.append((port, now)) } }
}
