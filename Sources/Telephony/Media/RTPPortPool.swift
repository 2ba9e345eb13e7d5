/// Hands out even RTP ports (RTCP is the next odd one) from the configured range, at random.
///
/// Random choice keeps a stranger from guessing the next call's ports. A released port waits in
/// quarantine before it can be chosen again, so stray packets of an ended call do not reach
/// the next one; when nothing else is free the longest-quarantined port is used.
final class RTPPortPool {
    private var free: [UInt16]
    /// Released ports, oldest first, with the libre milliseconds of their release.
    private var quarantine: [(port: UInt16, at: UInt64)] = []
    private var quarantineHead = 0
    let quarantineMilliseconds: UInt64
    private var random: any RandomNumberGenerator

    init(min: Int, max: Int, quarantineMilliseconds: UInt64 = 10_000,
         random: any RandomNumberGenerator = SystemRandomNumberGenerator()) {
        let first = min % 2 == 0 ? min : min + 1
        free = stride(from: first, to: max, by: 2).map { UInt16($0) }
        self.quarantineMilliseconds = quarantineMilliseconds
        self.random = random
    }

    var available: Int { free.count + quarantine.count - quarantineHead }

    func take(now: UInt64) -> UInt16? {
        while quarantineHead < quarantine.count, now &- quarantine[quarantineHead].at >= quarantineMilliseconds {
            free.append(quarantine[quarantineHead].port)
            quarantineHead += 1
        }
        if quarantineHead > 1024 && quarantineHead * 2 > quarantine.count {
            quarantine.removeFirst(quarantineHead)
            quarantineHead = 0
        }
        if free.isEmpty {
            guard quarantineHead < quarantine.count else { return nil }
            quarantineHead += 1
            return quarantine[quarantineHead - 1].port
        }
        let i = Int.random(in: 0..<free.count, using: &random)
        free.swapAt(i, free.count - 1)
        return free.removeLast()
    }

    func release(_ port: UInt16, now: UInt64) { quarantine.append((port, now)) }
}
