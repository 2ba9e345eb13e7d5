import Foundation

/// A bare UDP socket on loopback that records whatever reaches it: a callee that must receive nothing,
/// or the socket under `RawSIP`.
final class UDPProbe: @unchecked Sendable {
    private let fd: Int32
    /// The port it is bound to (the one asked for, or the one the kernel chose for 0).
    let port: Int

    init(port: Int, ip: String = "127.0.0.1") throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        guard withIPv4Address(ip, port, { bind(fd, $0, $1) }) == 0 else {
            close(fd)
            throw TestFailure("bind \(ip):\(port) failed")
        }
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: bound.sin_port))
        _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        // Read only at the end of a test: keep every datagram until then.
        var size: Int32 = 8 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    /// Sends one datagram to `host:port`.
    func send(_ bytes: [UInt8], to port: Int, host: String = "127.0.0.1") {
        _ = withIPv4Address(host, port) { sendto(fd, bytes, bytes.count, 0, $0, $1) }
    }

    /// Every datagram received so far, as text.
    func received() -> [String] { datagrams().map { String(decoding: $0, as: UTF8.self) } }

    /// Every datagram received so far.
    func datagrams() -> [[UInt8]] {
        var out: [[UInt8]] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            out.append(Array(buf[0..<n]))
        }
        return out
    }
}

/// Runs `body` with `ip:port` as an IPv4 socket address (for bind, connect, sendto).
func withIPv4Address<R>(_ ip: String, _ port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr(ip)
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}
