import CallTrackCore
import Foundation

/// Media direction of an SDP stream (RFC 3264).
public enum MediaDirection: String, Sendable {
    case sendrecv, sendonly, recvonly, inactive

    /// What an answerer replies to an offer with this direction.
    public var answer: MediaDirection {
        switch self {
        case .sendonly: .recvonly
        case .recvonly: .sendonly
        case .inactive: .inactive
        case .sendrecv: .sendrecv
        }
    }
}

/// The `o=` line CallTrack writes on one leg: the version must go up whenever the body changes.
public struct SDPOrigin: Sendable {
    public let sessionID: UInt64
    public private(set) var version: UInt64
    private var lastBody: String?

    public init(sessionID: UInt64 = UInt64.random(in: 1..<(1 << 40))) {
        self.sessionID = sessionID
        version = sessionID
    }

    /// Returns the `o=` line for `body` (the SDP without its o= line), bumping the version on change.
    mutating func line(for body: String, address: String) -> String {
        if let last = lastBody, last != body { version += 1 }
        lastBody = body
        return "o=CallTrack \(sessionID) \(version) IN \(address.contains(":") ? "IP6" : "IP4") \(address)"
    }
}

/// An SDP body kept as lines, so that everything CallTrack does not touch passes through unchanged.
///
/// CallTrack relays the first audio stream; it rewrites addresses and ports to its own relay,
/// keeps codecs, directions and other attributes, and drops ICE attributes (the relay is the
/// only candidate). Any other stream is declined (port 0).
public struct SessionDescription: Sendable, Equatable {
    public private(set) var lines: [String]

    public init?(_ text: String) {
        let lines = text.split(
            omittingEmptySubsequences: true, whereSeparator: { $0 == "\r\n" || $0 == "\n" || $0 == "\r" }
        ).map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard lines.first?.hasPrefix("v=") == true, lines.contains(where: { $0.hasPrefix("m=") }) else { return nil }
        self.lines = lines
    }

    init(lines: [String]) { self.lines = lines }

    public var text: String { lines.joined(separator: "\r\n") + "\r\n" }

    private var audioRange: Range<Int>? {
        guard let start = lines.firstIndex(where: { $0.hasPrefix("m=audio ") }) else { return nil }
        let end = lines[(start + 1)...].firstIndex(where: { $0.hasPrefix("m=") }) ?? lines.count
        return start..<end
    }

    private var sessionRange: Range<Int> { 0..<(lines.firstIndex(where: { $0.hasPrefix("m=") }) ?? lines.count) }

    /// Where the peer wants to receive audio: connection address and port, if the stream is active.
    public var audioEndpoint: (address: String, port: UInt16)? {
        guard let range = audioRange else { return nil }
        let mParts = lines[range.lowerBound].split(separator: " ")
        guard mParts.count >= 2, let port = UInt16(mParts[1]), port != 0 else { return nil }
        let mediaC = lines[range].first { $0.hasPrefix("c=") }
        let sessionC = lines[sessionRange].first { $0.hasPrefix("c=") }
        guard let c = mediaC ?? sessionC else { return nil }
        let cParts = c.split(separator: " ")
        guard cParts.count >= 3 else { return nil }
        var address = String(cParts[2])
        if let slash = address.firstIndex(of: "/") { address = String(address[..<slash]) }
        return (address, port)
    }

    /// Where the peer wants RTCP: `a=rtcp:` if given, else RTP port + 1.
    public var rtcpPort: UInt16? {
        if let range = audioRange, let a = lines[range].first(where: { $0.hasPrefix("a=rtcp:") }) {
            let value = a.dropFirst("a=rtcp:".count).split(separator: " ").first
            if let v = value, let p = UInt16(v) { return p }
        }
        guard let rtp = audioEndpoint?.port, rtp < UInt16.max else { return nil }
        return rtp + 1
    }

    /// The audio stream's direction; a `c=0.0.0.0` hold counts as `inactive`.
    public var direction: MediaDirection {
        if let ep = audioEndpoint, ep.address == "0.0.0.0" { return .inactive }
        if let range = audioRange {
            for line in lines[range] {
                if line.hasPrefix("a="), let d = MediaDirection(rawValue: String(line.dropFirst(2))) { return d }
            }
        }
        for line in lines[sessionRange] {
            if line.hasPrefix("a="), let d = MediaDirection(rawValue: String(line.dropFirst(2))) { return d }
        }
        return .sendrecv
    }

    /// Payload types offered or chosen for audio, in order.
    public var audioPayloadTypes: [String] {
        guard let range = audioRange else { return [] }
        return Array(lines[range.lowerBound].split(separator: " ").dropFirst(3).map(String.init))
    }

    /// This description with CallTrack's relay as the media endpoint.
    public func relayed(through address: String, port: UInt16, origin: inout SDPOrigin) -> SessionDescription {
        let ipType = address.contains(":") ? "IP6" : "IP4"
        var out: [String] = []
        var section = "session"
        var sawAudio = false
        for line in lines {
            if line.hasPrefix("m=") {
                let parts = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                if parts[0] == "m=audio" && !sawAudio {
                    sawAudio = true
                    section = "audio"
                    var p = parts
                    if p.count > 1, p[1] != "0" { p[1] = String(port) }
                    out.append(p.joined(separator: " "))
                } else {
                    section = "other"
                    var p = parts
                    if p.count > 1 { p[1] = "0" }
                    out.append(p.joined(separator: " "))
                }
                continue
            }
            if line.hasPrefix("o=") {
                out.append("o=")
                continue
            }  // filled in below
            if section == "other" {
                out.append(line)
                continue
            }
            if line.hasPrefix("c=") {
                let keepHold = line.hasSuffix(" 0.0.0.0")
                out.append(keepHold ? line : "c=IN \(ipType) \(address)")
                continue
            }
            if line.hasPrefix("a=rtcp:") {
                out.append("a=rtcp:\(port &+ 1)")
                continue
            }
            if line.hasPrefix("a=candidate") || line.hasPrefix("a=ice-") || line.hasPrefix("a=end-of-candidates")
                || line.hasPrefix("a=remote-candidates")
            {
                continue
            }
            out.append(line)
        }
        let body = out.filter { $0 != "o=" }.joined(separator: "\n")
        let o = origin.line(for: body, address: address)
        if let i = out.firstIndex(of: "o=") { out[i] = o } else { out.insert(o, at: min(1, out.count)) }
        return SessionDescription(lines: out)
    }

    /// This description with the audio stream's direction set to `direction`.
    public func with(direction: MediaDirection) -> SessionDescription {
        guard let range = audioRange else { return self }
        var out = Array(lines[..<range.lowerBound]).filter { !isDirection($0) }
        var media = Array(lines[range]).filter { !isDirection($0) }
        media.append("a=\(direction.rawValue)")
        out += media
        out += lines[range.upperBound...]
        return SessionDescription(lines: out)
    }

    /// This description cut down to the audio payload types `offer` also lists, so that an
    /// answer built from it never names a codec the offerer did not offer. Kept whole when
    /// nothing is in common (the offerer then refuses it, as it would refuse any answer).
    public func restricted(toPayloadTypesOf offer: SessionDescription) -> SessionDescription {
        let offered = Set(offer.audioPayloadTypes)
        let keep = audioPayloadTypes.filter { offered.contains($0) }
        guard !keep.isEmpty else { return self }
        return keeping(payloadTypes: keep)
    }

    /// What each audio payload type carries, for the recorder: `a=rtpmap` names, else the static table.
    public var payloadTypes: PayloadTypes {
        var named: [UInt8: AudioCodec] = [:]
        for line in audioRange.map({ lines[$0] }) ?? [] where line.hasPrefix("a=rtpmap:") {
            let parts = line.dropFirst("a=rtpmap:".count).split(separator: " ")
            guard parts.count >= 2, let pt = UInt8(parts[0]), let name = parts[1].split(separator: "/").first else {
                continue
            }
            named[pt] = AudioCodec(encodingName: String(name))
        }
        return PayloadTypes(order: audioPayloadTypes.compactMap { UInt8($0) }, named: named)
    }

    /// The encoding name of an audio payload type: its `a=rtpmap`, else the static table (RFC 3551).
    public func encodingName(ofPayloadType pt: String) -> String? {
        if let range = audioRange, let map = lines[range].first(where: { $0.hasPrefix("a=rtpmap:\(pt) ") }) {
            return map.split(separator: " ").dropFirst().first?.split(separator: "/").first.map(String.init)
        }
        return UInt8(pt).flatMap(AudioCodec.staticType)?.name
    }

    /// The codec audio flows in, by encoding name: the first payload type that is not DTMF or comfort noise.
    public var firstAudioCodec: String? {
        audioPayloadTypes.lazy.compactMap { self.encodingName(ofPayloadType: $0) }.first { !Self.isSignalling($0) }
    }

    private static func isSignalling(_ name: String) -> Bool { AudioCodec(encodingName: name).isSignalling }

    /// This description with `codec` as its only audio codec (telephone-event and comfort noise
    /// stay); nil when it does not list that codec.
    public func narrowed(toCodec codec: String) -> SessionDescription? {
        let keep = audioPayloadTypes.filter { pt in
            guard let name = encodingName(ofPayloadType: pt) else { return false }
            return name.lowercased() == codec.lowercased() || Self.isSignalling(name)
        }
        guard keep.contains(where: { encodingName(ofPayloadType: $0)?.lowercased() == codec.lowercased() }) else {
            return nil
        }
        return keeping(payloadTypes: keep)
    }

    /// This description listing only `keep` of its audio payload types, their attributes with them.
    private func keeping(payloadTypes keep: [String]) -> SessionDescription {
        guard let range = audioRange else { return self }
        let mine = audioPayloadTypes
        guard keep.count != mine.count else { return self }
        let dropped = Set(mine).subtracting(keep)
        var mLine = lines[range.lowerBound].split(separator: " ").prefix(3).map(String.init)
        mLine += keep
        var media = [mLine.joined(separator: " ")]
        for line in lines[(range.lowerBound + 1)..<range.upperBound] {
            if let pt = Self.payloadType(ofAttribute: line), dropped.contains(pt) { continue }
            media.append(line)
        }
        return SessionDescription(lines: Array(lines[..<range.lowerBound]) + media + Array(lines[range.upperBound...]))
    }

    /// The payload type an `a=rtpmap:` / `a=fmtp:` / `a=rtcp-fb:` line is about.
    private static func payloadType(ofAttribute line: String) -> String? {
        for prefix in ["a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"] where line.hasPrefix(prefix) {
            return line.dropFirst(prefix.count).split(separator: " ").first.map(String.init)
        }
        return nil
    }

    private func isDirection(_ line: String) -> Bool {
        line.hasPrefix("a=") && MediaDirection(rawValue: String(line.dropFirst(2))) != nil
    }

    /// CallTrack's own offer, used toward the callee when the caller sent an INVITE without SDP.
    public static func defaultOffer(address: String, port: UInt16, origin: inout SDPOrigin) -> SessionDescription {
        let ipType = address.contains(":") ? "IP6" : "IP4"
        let template = SessionDescription(lines: [
            "v=0", "o=", "s=CallTrack", "c=IN \(ipType) \(address)", "t=0 0", "m=audio \(port) RTP/AVP 0 8 101",
            "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16",
            "a=ptime:20", "a=sendrecv",
        ])
        return template.relayed(through: address, port: port, origin: &origin)
    }
}
