import Foundation

/// A bare SIP endpoint over UDP: sends hand-written messages (well-formed or hostile) and
/// collects whatever comes back. For what sipp cannot script: broken headers, strangers
/// replaying another party's dialog, counting every retransmission.
final class RawSIP: @unchecked Sendable {
    private let socket: UDPProbe
    let ip: String
    var port: Int { socket.port }
    private var pending: [String] = []

    init(ip: String = "127.0.0.1", port: Int = 0) throws {
        socket = try UDPProbe(port: port, ip: ip)
        self.ip = ip
    }

    /// Sends one datagram to 127.0.0.1:`port`; `\n` line ends become `\r\n`.
    func send(_ text: String, to port: Int, host: String = "127.0.0.1") {
        let wire = text.contains("\r\n") ? text : text.replacingOccurrences(of: "\n", with: "\r\n")
        sendBytes(Array(wire.utf8), to: port, host: host)
    }

    func sendBytes(_ bytes: [UInt8], to port: Int, host: String = "127.0.0.1") {
        socket.send(bytes, to: port, host: host)
    }

    /// Every datagram that arrives within `window`.
    func collect(for window: Duration) async throws -> [String] {
        let deadline = ContinuousClock.now + window
        var out = pending
        pending = []
        while ContinuousClock.now < deadline {
            out += drain()
            try await Task.sleep(for: .milliseconds(20))
        }
        return out + drain()
    }

    /// Waits for the first datagram matching `predicate`; earlier ones are kept for later calls.
    func wait(timeout: Duration = .seconds(5), for description: String, _ predicate: (String) -> Bool) async throws
        -> String
    {
        let deadline = ContinuousClock.now + timeout
        while true {
            pending += drain()
            if let i = pending.firstIndex(where: predicate) { return pending.remove(at: i) }
            if ContinuousClock.now > deadline {
                throw TestFailure("no \(description) within \(timeout); got:\n\(pending.joined(separator: "\n----\n"))")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Waits for a response with `code` to the request with `cseq` (e.g. "1 INVITE").
    func response(_ code: Int, cseq: String, timeout: Duration = .seconds(5)) async throws -> String {
        try await wait(timeout: timeout, for: "\(code) for \(cseq)") {
            $0.hasPrefix("SIP/2.0 \(code) ") && RawSIP.header("CSeq", in: $0) == cseq
        }
    }

    private func drain() -> [String] { socket.received() }

    /// The value of the first header `name` (case-insensitive) in `message`.
    static func header(_ name: String, in message: String) -> String? {
        for line in message.components(separatedBy: "\r\n").dropFirst() {
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].trimmingCharacters(in: .whitespaces).lowercased() == name.lowercased() {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    /// Every value of header `name`.
    static func headers(_ name: String, in message: String) -> [String] {
        message.components(separatedBy: "\r\n").dropFirst().prefix { !$0.isEmpty }.compactMap { line in
            guard let colon = line.firstIndex(of: ":"),
                line[..<colon].trimmingCharacters(in: .whitespaces).lowercased() == name.lowercased()
            else { return nil }
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }

    /// The body after the blank line.
    static func body(of message: String) -> String {
        guard let range = message.range(of: "\r\n\r\n") else { return "" }
        return String(message[range.upperBound...])
    }

    /// The `m=audio` line of a message's SDP body.
    static func audioLine(of message: String) -> String? {
        body(of: message).components(separatedBy: "\r\n").first { $0.hasPrefix("m=audio") }
    }

    /// The audio port a message's SDP names.
    static func audioPort(of message: String) -> Int? {
        audioLine(of: message).flatMap { line in line.split(separator: " ").dropFirst().first.flatMap { Int($0) } }
    }

    /// The tag parameter of a To or From value.
    static func tag(_ value: String?) -> String? {
        guard let value, let r = value.range(of: ";tag=") else { return nil }
        return String(value[r.upperBound...].prefix { $0 != ";" && $0 != ">" && $0 != " " })
    }
}

/// Hand-written SIP messages for `RawSIP`.
struct RawMessage {
    var callID = "raw-\(UUID().uuidString)@test"
    var fromTag = String(UUID().uuidString.prefix(8))
    var branchSeed = UUID().uuidString.prefix(12)
    var ip = "127.0.0.1"
    var port: Int
    var caller = "79161234567"
    var fromDisplay = ""

    init(port: Int, ip: String = "127.0.0.1") {
        self.port = port
        self.ip = ip
    }

    static func sdp(ip: String = "127.0.0.1", port: Int, payloads: String = "8 101", extra: [String] = []) -> String {
        var lines = [
            "v=0", "o=raw 1 1 IN IP4 \(ip)", "s=-", "c=IN IP4 \(ip)", "t=0 0", "m=audio \(port) RTP/AVP \(payloads)",
        ]
        if payloads.split(separator: " ").contains("0") { lines.append("a=rtpmap:0 PCMU/8000") }
        if payloads.split(separator: " ").contains("8") { lines.append("a=rtpmap:8 PCMA/8000") }
        if payloads.split(separator: " ").contains("101") {
            lines += ["a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16"]
        }
        lines += extra
        lines.append("a=sendrecv")
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// A request; `headers` are extra lines, `omit` names headers to leave out, `contentLength`
    /// overrides the computed value (nil: computed; "" leaves the header out).
    func request(
        _ method: String, uri: String, cseq: Int, toTag: String? = nil, body: String = "", headers: [String] = [],
        omit: Set<String> = [], contentLength: String? = nil, contact: String? = nil, maxForwards: String? = "70",
        branch: String? = nil
    ) -> String {
        var lines = ["\(method) \(uri) SIP/2.0"]
        func add(_ name: String, _ value: String) { if !omit.contains(name) { lines.append("\(name): \(value)") } }
        add("Via", "SIP/2.0/UDP \(ip):\(port);branch=\(branch ?? "z9hG4bK-\(branchSeed)-\(cseq)-\(method)");rport")
        if let maxForwards { add("Max-Forwards", maxForwards) }
        let name = fromDisplay.isEmpty ? "" : "\(fromDisplay) "
        add("From", "\(name)<sip:\(caller)@\(ip):\(port)>;tag=\(fromTag)")
        add("To", "<\(uri)>" + (toTag.map { ";tag=\($0)" } ?? ""))
        add("Call-ID", callID)
        add("CSeq", "\(cseq) \(method)")
        add("Contact", contact ?? "<sip:\(caller)@\(ip):\(port)>")
        if !body.isEmpty { add("Content-Type", "application/sdp") }
        lines += headers
        let length = contentLength ?? String(body.utf8.count)
        if !length.isEmpty { lines.append("Content-Length: \(length)") }
        return lines.joined(separator: "\r\n") + "\r\n\r\n" + body
    }
}

extension RawMessage {
    /// A response to `request` (as received), with `toTag` added to To when it has none.
    static func reply(
        to request: String, _ code: Int, _ reason: String, toTag: String? = nil, body: String = "",
        contact: String? = nil
    ) -> String {
        var lines = ["SIP/2.0 \(code) \(reason)"]
        for via in RawSIP.headers("Via", in: request) { lines.append("Via: \(via)") }
        if let from = RawSIP.header("From", in: request) { lines.append("From: \(from)") }
        if var to = RawSIP.header("To", in: request) {
            if let toTag, RawSIP.tag(to) == nil { to += ";tag=\(toTag)" }
            lines.append("To: \(to)")
        }
        if let id = RawSIP.header("Call-ID", in: request) { lines.append("Call-ID: \(id)") }
        if let cseq = RawSIP.header("CSeq", in: request) { lines.append("CSeq: \(cseq)") }
        if let contact { lines.append("Contact: \(contact)") }
        if !body.isEmpty { lines.append("Content-Type: application/sdp") }
        lines.append("Content-Length: \(body.utf8.count)")
        return lines.joined(separator: "\r\n") + "\r\n\r\n" + body
    }

    /// The in-dialog request `method` from the side that sent `self`'s INVITE, using the dialog in `answer`.
    func inDialog(
        _ method: String, uri: String, cseq: Int, answer: String, body: String = "", fromIP: String? = nil,
        fromPort: Int? = nil, headers: [String] = []
    ) -> String {
        var m = self
        if let fromIP { m.ip = fromIP }
        if let fromPort { m.port = fromPort }
        return m.request(
            method, uri: uri, cseq: cseq, toTag: RawSIP.tag(RawSIP.header("To", in: answer)), body: body,
            headers: headers)
    }
}
