import Foundation
import Synchronization

/// Unique loopback ports for one test, so that servers of different tests never collide.
struct TestPorts {
    let sip: Int
    let http: Int
    let caller: Int
    let callee: Int
    let callerMedia: Int
    let calleeMedia: Int
    let rtpMin: Int
    let rtpMax: Int

    private static let counter = Atomic<Int>(0)

    static func next() -> TestPorts {
        let n = counter.wrappingAdd(1, ordering: .relaxed).oldValue
        // Spread by process id too, so a re-run right after a crashed one does not reuse ports. Peers'
        // ports (20000-27999) stay below the kernel's ephemeral range (32768 and up: a listener there
        // can find its port taken by some outgoing connection) and below every relay range (42000 and
        // up): CallTrack refuses SDP that points media into its own relay range.
        let base = 20000 + ((Int(getpid()) % 4) * 40 + n % 40) * 50
        let rtp = 42000 + (n % 40) * 480 + 0
        return TestPorts(
            sip: base, http: base + 1, caller: base + 2, callee: base + 3, callerMedia: base + 10,
            calleeMedia: base + 30, rtpMin: rtp, rtpMax: rtp + 479)
    }
}
