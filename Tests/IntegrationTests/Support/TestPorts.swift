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

    /// A block of ports no other program holds now: a candidate whose SIP, HTTP, sipp or media ports
    /// are taken (a SIP peer on the machine, a crashed run's leftover) is passed over.
    static func next() -> TestPorts {
        for _ in 0..<160 {
            let ports = candidate(counter.wrappingAdd(1, ordering: .relaxed).oldValue)
            if ports.free { return ports }
        }
        fatalError("no free block of test ports on 127.0.0.1")
    }

    private static func candidate(_ n: Int) -> TestPorts {
        // Spread by process id too, so a re-run right after a crashed one does not reuse ports. Peers'
        // ports (20000-27999) stay below the kernel's ephemeral range (32768 and up: a listener there
        // can find its port taken by some outgoing connection) and below every relay range (42000 and
        // up): CallTrack refuses SDP that points media into its own relay range. A relay port another
        // program holds CallTrack skips by itself.
        let base = 20000 + ((Int(getpid()) % 4) * 40 + n % 40) * 50
        let rtp = 42000 + (n % 40) * 480 + 0
        return TestPorts(
            sip: base, http: base + 1, caller: base + 2, callee: base + 3, callerMedia: base + 10,
            calleeMedia: base + 30, rtpMin: rtp, rtpMax: rtp + 479)
    }

    /// Whether every port the test's servers and peers bind (TCP and UDP) can be bound now.
    private var free: Bool {
        let udp = [sip, caller, callee] + Array(callerMedia..<callerMedia + 4) + Array(calleeMedia..<calleeMedia + 4)
        return udp.allSatisfy { Self.canBind($0, SOCK_DGRAM) }
            && [sip, http, caller, callee].allSatisfy { Self.canBind($0, SOCK_STREAM) }
    }

    private static func canBind(_ port: Int, _ type: __socket_type) -> Bool {
        let fd = socket(AF_INET, Int32(type.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return withIPv4Address("127.0.0.1", port) { bind(fd, $0, $1) } == 0
    }
}
