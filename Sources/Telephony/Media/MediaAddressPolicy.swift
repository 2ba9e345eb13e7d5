import CallTrackCore
import Foundation

/// Where CallTrack agrees to send media: never to itself, to a group, or to a name.
///
/// An SDP address is the peer's word for where it wants audio. A hostile one would make the
/// relay loop packets through its own sockets (one re-INVITE pointing at a call's own relay
/// port looped two million packets in 14 s), reflect a call at a multicast or broadcast
/// address, or make CallTrack resolve a name. `0.0.0.0` (and `::`) is the old way to say hold
/// and means "send nothing", which is allowed.
struct MediaAddressPolicy: Sendable {
    /// CallTrack's own addresses: the advertised and bound ones.
    let ownAddresses: Set<IPAddress>
    /// Bound to a wildcard address: every local address is CallTrack's (loopback included).
    let boundToAnyAddress: Bool
    let rtpPorts: ClosedRange<Int>
    let sipPorts: Set<Int>
    /// Loopback is a peer's address only when CallTrack itself serves on loopback (a test, a demo);
    /// otherwise an SDP naming it would aim media at services on CallTrack's own host.
    let allowsLoopback: Bool

    init(ownAddresses: [String], rtpPorts: PortRange, sipPorts: [Int]) {
        let parsed = ownAddresses.compactMap(IPAddress.init)
        boundToAnyAddress = ownAddresses.contains("0.0.0.0") || ownAddresses.contains("::")
        allowsLoopback = parsed.contains(where: Self.isLoopback)
        self.ownAddresses = Set(parsed)
        self.rtpPorts = rtpPorts.min...rtpPorts.max
        self.sipPorts = Set(sipPorts)
    }

    static let hold = ["0.0.0.0", "::"]

    /// Why media must not go to `address:port`; nil when it may.
    func refusal(address: String, port: UInt16) -> String? {
        if Self.hold.contains(address) { return nil }
        guard let ip = IPAddress(address) else { return "media address \(address) is not an IP address" }
        if let why = Self.unroutable(ip) { return "media address \(address) is \(why)" }
        if !allowsLoopback && Self.isLoopback(ip) {
            return "media address \(address) is CallTrack's own host (loopback)"
        }
        if isOwn(ip, port: Int(port)) { return "media address \(address):\(port) is one of CallTrack's own sockets" }
        return nil
    }

    /// True for CallTrack's own relay and SIP sockets.
    func isOwn(_ ip: IPAddress, port: Int) -> Bool {
        guard rtpPorts.contains(port) || sipPorts.contains(port) else { return false }
        return ownAddresses.contains(ip) || (boundToAnyAddress && Self.isLocal(ip))
    }

    static func unroutable(_ ip: IPAddress) -> String? {
        let b = ip.bytes
        if b.count == 4 {
            if b[0] == 0 { return "in 0.0.0.0/8" }
            if b[0] >= 224 && b[0] <= 239 { return "multicast" }
            if b == [255, 255, 255, 255] { return "broadcast" }
            if b[0] >= 240 { return "reserved (240.0.0.0/4)" }
        } else {
            if b[0] == 0xff { return "multicast" }
            if b.allSatisfy({ $0 == 0 }) { return "unspecified" }
        }
        return nil
    }

    static func isLoopback(_ ip: IPAddress) -> Bool {
        (ip.bytes.count == 4 && ip.bytes[0] == 127)
            || (ip.bytes.count == 16 && ip.bytes == Array(repeating: 0, count: 15) + [1])
    }

    /// Loopback, or an address of one of this machine's interfaces.
    static func isLocal(_ ip: IPAddress) -> Bool { isLoopback(ip) || interfaceAddresses.contains(ip) }

    /// This machine's interface addresses, read once.
    static let interfaceAddresses: Set<IPAddress> = {
        var result = Set<IPAddress>()
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return result }
        defer { freeifaddrs(list) }
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            if let addr = entry.pointee.ifa_addr {
                var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                let length =
                    addr.pointee.sa_family == sa_family_t(AF_INET6)
                    ? socklen_t(MemoryLayout<sockaddr_in6>.size) : socklen_t(MemoryLayout<sockaddr_in>.size)
                if addr.pointee.sa_family == sa_family_t(AF_INET) || addr.pointee.sa_family == sa_family_t(AF_INET6),
                    getnameinfo(addr, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0
                {
                    let text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    // A link-local IPv6 address comes with its zone (fe80::1%eth0).
                    if let ip = IPAddress(text.split(separator: "%").first.map(String.init) ?? "") { result.insert(ip) }
                }
            }
            cursor = entry.pointee.ifa_next
        }
        return result
    }()
}
