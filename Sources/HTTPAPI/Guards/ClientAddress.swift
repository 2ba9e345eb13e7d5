import CallTrackCore
import Foundation
import Hummingbird

/// The client's address: the peer, or behind a trusted proxy the last address in
/// `X-Forwarded-For` that is not itself a trusted proxy.
/// Per-address limits count an IPv6 client by its /64 (`IPAddress.limitKey`).
func clientAddress(_ request: Request, peer: String?, trustedProxies: [CIDR]) -> (
    address: String, viaTrustedProxy: Bool
) {
    guard let peer, let peerIP = IPAddress(peer) else { return (peer ?? "unknown", false) }
    guard trustedProxies.contains(where: { $0.contains(peerIP) }) else { return (peerIP.limitKey, false) }
    let forwarded = request.headers[values: .init("X-Forwarded-For")!].flatMap { $0.split(separator: ",") }.map {
        $0.trimmingCharacters(in: .whitespaces)
    }
    for hop in forwarded.reversed() {
        guard let ip = IPAddress(hop) else { break }
        if !trustedProxies.contains(where: { $0.contains(ip) }) { return (ip.limitKey, true) }
    }
    return (peerIP.limitKey, true)
}
