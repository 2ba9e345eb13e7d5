/// The fields of an RTP packet (RFC 3550) the recorder needs, parsed from a copy of the relayed bytes.
struct RTPPacket {
    let payloadType: UInt8
    let sequence: UInt16
    let timestamp, ssrc: UInt32
    let payload: ArraySlice<UInt8>

    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 12, bytes[0] >> 6 == 2 else { return nil }
        let csrcCount = Int(bytes[0] & 0x0f)
        let hasExtension = bytes[0] & 0x10 != 0
        let hasPadding = bytes[0] & 0x20 != 0
        var start = 12 + 4 * csrcCount
        guard bytes.count >= start else { return nil }
        if hasExtension {
            guard bytes.count >= start + 4 else { return nil }
            let words = Int(bytes[start + 2]) << 8 | Int(bytes[start + 3])
            start += 4 + 4 * words
        }
        var end = bytes.count
        if hasPadding, let pad = bytes.last { end -= Int(pad) }
        guard start <= end else { return nil }
        payloadType = bytes[1] & 0x7f
        sequence = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        timestamp = UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7])
        ssrc = UInt32(bytes[8]) << 24 | UInt32(bytes[9]) << 16 | UInt32(bytes[10]) << 8 | UInt32(bytes[11])
        payload = bytes[start..<end]
    }
}
