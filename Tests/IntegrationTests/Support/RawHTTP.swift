import Foundation

/// A bare TCP connection to one of CallTrack's ports: idle, slow, oversized and hand-written HTTP
/// requests that URLSession will not send (any Host header, no request at all), or SIP over TCP.
final class RawHTTP {
    let fd: Int32

    init(port: Int, from ip: String = "127.0.0.1") throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        _ = withIPv4Address(ip, 0) { bind(fd, $0, $1) }
        let rc = withIPv4Address("127.0.0.1", port) { connect(fd, $0, $1) }
        guard rc == 0 else {
            close(fd)
            throw TestFailure("connect to \(port) failed: \(errno)")
        }
    }

    deinit { close(fd) }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBufferPointer {
                Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Reads until the peer closes or `timeout` passes; `closed` tells which.
    func readUntilClosed(timeout: Duration) -> (data: String, closed: Bool) {
        readLoop(until: { _ in false }, timeout: timeout)
    }

    /// Reads until what arrived satisfies `done`, the peer closes, or `timeout` passes; returns all of it.
    func read(until done: (String) -> Bool, timeout: Duration) -> String {
        readLoop(until: done, timeout: timeout).data
    }

    private func readLoop(until done: (String) -> Bool, timeout: Duration) -> (data: String, closed: Bool) {
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 50) > 0 else { continue }
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { return (String(decoding: out, as: UTF8.self), true) }
            out += buf[0..<n]
            if done(String(decoding: out, as: UTF8.self)) { break }
        }
        return (String(decoding: out, as: UTF8.self), false)
    }

    /// True once the server has closed this connection (a read returns end of file or an error).
    var isClosedByServer: Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, 0) > 0 else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK)) <= 0
    }
}
