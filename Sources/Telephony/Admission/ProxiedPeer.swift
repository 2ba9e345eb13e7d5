import CallTrackCore

/// The sender a front proxy (Kamailio) names for a request it relays: `X-CallTrack-Peer: IP:PORT;transport=udp`
/// (an IPv6 address in brackets). Read only from `sip.front_proxies`, so nobody else can claim an address.
struct ProxiedPeer: Equatable {
    static let header = "X-CallTrack-Peer"

    let address: IPAddress
    let port: UInt16
    let transport: String

    /// Nil for anything but one IP literal, a port and an optional known transport.
    init?(_ value: String) {
        let text = value.trimmingCharacters(in: .whitespaces)
        guard text.utf8.count <= 80 else { return nil }
        let parts = text.split(separator: ";", omittingEmptySubsequences: false)
        let hostPort = parts[0]
        var transport = "udp"
        for param in parts.dropFirst() {
            let pair = param.split(separator: "=", maxSplits: 1).map { $0.lowercased() }
            guard pair.count == 2, pair[0] == "transport", ["udp", "tcp", "tls"].contains(pair[1]) else { return nil }
            transport = pair[1]
        }
        let host: Substring, portText: Substring
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]"), hostPort[hostPort.index(after: close)...].hasPrefix(":")
            else { return nil }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            portText = hostPort[hostPort.index(close, offsetBy: 2)...]
        } else {
            guard let colon = hostPort.lastIndex(of: ":"), hostPort.filter({ $0 == ":" }).count == 1 else { return nil }
            host = hostPort[..<colon]
            portText = hostPort[hostPort.index(after: colon)...]
        }
        guard let address = IPAddress(String(host)), let port = UInt16(portText), port > 0 else { return nil }
        self.address = address
        self.port = port
        self.transport = transport
    }
}
