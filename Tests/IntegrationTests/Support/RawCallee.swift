import Foundation

/// A raw callee on the test's callee port that answers the INVITE (SDP to `mediaPort`) and
/// every later request 200; returns what it received.
final class RawCallee: @unchecked Sendable {
    let socket: RawSIP
    let tag = "callee\(Int.random(in: 1000...9999))"
    private let lock = NSLock()
    private var log: [String] = []
    var received: [String] {
        lock.lock()
        defer { lock.unlock() }
        return log
    }
    private var task: Task<Void, Never>?

    init(port: Int, mediaPort: Int) throws {
        socket = try RawSIP(port: port)
        let socket = self.socket, tag = self.tag
        task = Task { [weak self] in
            while !Task.isCancelled {
                guard let msgs = try? await socket.collect(for: .milliseconds(30)) else { return }
                for m in msgs where !m.hasPrefix("SIP/2.0") {
                    self?.record(m)
                    let method = String(m.prefix { $0 != " " })
                    if method == "ACK" { continue }
                    if method == "INVITE" && RawSIP.tag(RawSIP.header("To", in: m)) == nil {
                        socket.send(RawMessage.reply(to: m, 180, "Ringing", toTag: tag), to: Self.port(of: m))
                    }
                    var answer = ""
                    if method == "INVITE" {
                        // Answer with the offered payload types, in order.
                        let payloads =
                            RawSIP.audioLine(of: m)?.split(separator: " ").dropFirst(3).joined(separator: " ") ?? "8"
                        answer = RawMessage.sdp(port: mediaPort, payloads: payloads)
                    }
                    socket.send(
                        RawMessage.reply(
                            to: m, 200, "OK", toTag: tag, body: answer, contact: "<sip:callee@127.0.0.1:\(socket.port)>"
                        ), to: Self.port(of: m))
                }
            }
        }
    }

    /// Where to answer: the rport/port of the top Via.
    static func port(of request: String) -> Int {
        let via = RawSIP.header("Via", in: request) ?? ""
        if let r = via.range(of: ";rport="), let p = Int(via[r.upperBound...].prefix { $0.isNumber }) { return p }
        let sentBy = via.split(separator: " ").dropFirst().first.map { String($0.prefix { $0 != ";" }) } ?? ""
        return Int(sentBy.split(separator: ":").last ?? "") ?? 5060
    }

    private func record(_ m: String) {
        lock.lock()
        log.append(m)
        lock.unlock()
    }
    func invites() -> [String] { received.filter { $0.hasPrefix("INVITE ") } }
    func stop() { task?.cancel() }
    deinit { task?.cancel() }
}

extension RawCallee {
    /// A raw caller's INVITE to 84990000001, answered: returns the 200 (ACK sent).
    static func establish(
        _ caller: RawSIP, _ m: RawMessage, _ server: CallTrackServer, mediaPort: Int = 40002, contact: String? = nil,
        payloads: String = "8 101"
    ) async throws -> String {
        let uri = "sip:84990000001@127.0.0.1:\(server.ports.sip)"
        caller.send(
            m.request(
                "INVITE", uri: uri, cseq: 1, body: RawMessage.sdp(port: mediaPort, payloads: payloads), contact: contact
            ), to: server.ports.sip)
        let ok = try await caller.response(200, cseq: "1 INVITE", timeout: .seconds(8))
        caller.send(m.inDialog("ACK", uri: uri, cseq: 1, answer: ok), to: server.ports.sip)
        return ok
    }
}
