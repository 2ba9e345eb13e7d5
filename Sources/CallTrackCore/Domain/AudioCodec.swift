/// An RTP payload format as negotiated in SDP: what the relay names and the recorder decodes.
public enum AudioCodec: Equatable, Sendable {
    case pcmu, pcma, g722, opus, g729, gsm, telephoneEvent, comfortNoise
    case other(String)

    /// Reads an `a=rtpmap` encoding name.
    public init(encodingName: String) {
        switch encodingName.lowercased() {
        case "pcmu": self = .pcmu
        case "pcma": self = .pcma
        case "g722": self = .g722
        case "opus": self = .opus
        case "g729": self = .g729
        case "gsm": self = .gsm
        case "telephone-event": self = .telephoneEvent
        case "cn": self = .comfortNoise
        default: self = .other(encodingName)
        }
    }

    /// Static payload types (RFC 3551), which phones offer without an rtpmap.
    public static func staticType(_ pt: UInt8) -> AudioCodec? {
        switch pt {
        case 0: .pcmu
        case 3: .gsm
        case 4: .other("G723")
        case 5, 6, 16, 17: .other("DVI4")
        case 7: .other("LPC")
        case 8: .pcma
        case 9: .g722
        case 10, 11: .other("L16")
        case 12: .other("QCELP")
        case 13: .comfortNoise
        case 14: .other("MPA")
        case 15: .other("G728")
        case 18: .g729
        default: nil
        }
    }

    /// Sample rate the decoded audio has.
    public var sampleRate: Int {
        switch self {
        case .g722, .opus: 16000
        default: 8000
        }
    }

    /// The RTP timestamp clock (G.722 keeps 8 kHz for historical reasons, Opus always 48 kHz).
    public var rtpClockRate: Int {
        switch self {
        case .opus: 48000
        default: 8000
        }
    }

    /// DTMF and comfort noise: they ride along with an audio codec, never replace it.
    public var isSignalling: Bool { self == .telephoneEvent || self == .comfortNoise }

    public var name: String {
        switch self {
        case .pcmu: "PCMU"
        case .pcma: "PCMA"
        case .g722: "G722"
        case .opus: "opus"
        case .g729: "G729"
        case .gsm: "GSM"
        case .telephoneEvent: "telephone-event"
        case .comfortNoise: "CN"
        case .other(let n): n
        }
    }
}

/// Payload type → codec for one direction of a call, as the SDP of the side that sends lists them
/// (Telephony's `SessionDescription` reads them; nothing else parses SDP).
public struct PayloadTypes: Sendable, Equatable {
    private let named: [UInt8: AudioCodec]
    /// Payload types in the order the m= line lists them (the first is the preferred one).
    public let order: [UInt8]

    /// `named` holds the `a=rtpmap` entries; a type without one is looked up in the static table.
    public init(order: [UInt8], named: [UInt8: AudioCodec] = [:]) {
        self.order = order
        self.named = named
    }

    public func codec(_ pt: UInt8) -> AudioCodec? { named[pt] ?? AudioCodec.staticType(pt) }

    /// The audio codec this side will send most likely: the first listed one that is not DTMF or CN.
    public var primary: AudioCodec? { audioCodecs.first }

    /// Audio codecs in the order listed (no DTMF, no comfort noise).
    public var audioCodecs: [AudioCodec] { order.compactMap { self.codec($0) }.filter { !$0.isSignalling } }

    /// The codec a call negotiated: the first audio codec of the answer (the callee's SDP) that the
    /// offer (the caller's) lists too; else whichever side's first. Not the offer's first: a phone
    /// offering Opus to a PCMU-only callee talks PCMU.
    public static func negotiated(caller: PayloadTypes, callee: PayloadTypes) -> AudioCodec? {
        let offered = Set(caller.audioCodecs.map { $0.name.lowercased() })
        return callee.audioCodecs.first { offered.contains($0.name.lowercased()) } ?? callee.primary ?? caller.primary
    }
}
