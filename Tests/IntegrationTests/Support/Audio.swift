import Foundation

/// Test-side audio tools: G.711 A-law, RTP pcaps for sipp to play, WAV parsing, correlation.
enum Audio {
    static func alawDecode(_ a: UInt8) -> Int16 {
        let v = a ^ 0x55
        var t = Int(v & 0x0f) << 4
        let seg = Int((v & 0x70) >> 4)
        switch seg {
        case 0: t += 8
        case 1: t += 0x108
        default: t = (t + 0x108) << (seg - 1)
        }
        return Int16(v & 0x80 != 0 ? t : -t)
    }

    static func alawEncode(_ sample: Int16) -> UInt8 {
        var pcm = Int(sample)
        let mask: Int
        if pcm >= 0 {
            mask = 0xd5
        } else {
            mask = 0x55
            pcm = -pcm - 1
        }
        let ends = [0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff, 0x3fff, 0x7fff]
        var seg = 0
        while seg < 8 && pcm > ends[seg] { seg += 1 }
        if seg >= 8 { return UInt8(0x7f ^ mask) }
        var aval = seg << 4
        aval |= seg < 2 ? (pcm >> 4) & 0x0f : (pcm >> (seg + 3)) & 0x0f
        return UInt8((aval ^ mask) & 0xff)
    }

    /// One RTP packet of a stream, with the time sipp should send it.
    struct Packet {
        var time: Double
        var sequence: UInt16
        var timestamp: UInt32
        var ssrc: UInt32
        var payloadType: UInt8
        var payload: [UInt8]

        var rtp: [UInt8] {
            var b: [UInt8] = [0x80, payloadType, UInt8(sequence >> 8), UInt8(sequence & 0xff)]
            b += withUnsafeBytes(of: timestamp.bigEndian, Array.init)
            b += withUnsafeBytes(of: ssrc.bigEndian, Array.init)
            return b + payload
        }
    }

    /// A-law packets of `samples`, 20 ms each.
    static func packets(_ samples: [Int16], ssrc: UInt32 = 0x1234_5678) -> [Packet] {
        stride(from: 0, to: samples.count - 159, by: 160).enumerated().map { i, start in
            Packet(
                time: Double(i) * 0.02, sequence: UInt16(truncatingIfNeeded: 1000 + i), timestamp: UInt32(8000 + start),
                ssrc: ssrc, payloadType: 8, payload: samples[start..<start + 160].map(alawEncode))
        }
    }

    /// A tone that changes pitch every half second, so that any misalignment shows in a correlation.
    static func signature(seconds: Double, base: Double = 440) -> [Int16] {
        (0..<Int(seconds * 8000)).map { i in
            let t = Double(i) / 8000
            let f = base + Double(Int(t * 2) % 5) * 110
            return Int16(8000 * sin(2 * .pi * f * t))
        }
    }

    /// Writes a pcap (Ethernet/IPv4/UDP) that sipp's play_pcap_audio sends as-is.
    static func writePcap(_ packets: [Packet], to path: String) throws {
        var out: [UInt8] = []
        func u32(_ v: UInt32) { out += withUnsafeBytes(of: v.littleEndian, Array.init) }
        func u16(_ v: UInt16) { out += withUnsafeBytes(of: v.littleEndian, Array.init) }
        u32(0xa1b2_c3d4)
        u16(2)
        u16(4)
        u32(0)
        u32(0)
        u32(65535)
        u32(1)
        for p in packets {
            let rtp = p.rtp
            var frame: [UInt8] = Array(repeating: 0, count: 12) + [0x08, 0x00]
            let ipLength = 20 + 8 + rtp.count
            frame += [
                0x45, 0, UInt8(ipLength >> 8), UInt8(ipLength & 0xff), 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127,
                0, 0, 1,
            ]
            let udpLength = 8 + rtp.count
            frame += [0x1f, 0x40, 0x1f, 0x42, UInt8(udpLength >> 8), UInt8(udpLength & 0xff), 0, 0]
            frame += rtp
            u32(UInt32(p.time))
            u32(UInt32((p.time - Double(Int(p.time))) * 1_000_000))
            u32(UInt32(frame.count))
            u32(UInt32(frame.count))
            out += frame
        }
        try Data(out).write(to: URL(fileURLWithPath: path))
    }

    struct WAV {
        let channels: Int
        let sampleRate: Int
        let left: [Int16]
        let right: [Int16]
        let declaredDataBytes: Int
        let fileBytes: Int
        var seconds: Double { Double(left.count) / Double(sampleRate) }
    }

    static func parseWAV(_ data: Data) throws -> WAV {
        let b = [UInt8](data)
        guard b.count >= 44, b[0..<4].elementsEqual("RIFF".utf8), b[8..<12].elementsEqual("WAVE".utf8),
            b[36..<40].elementsEqual("data".utf8)
        else { throw TestFailure("not a WAV file") }
        func u16(_ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
        func u32(_ i: Int) -> Int { u16(i) | u16(i + 2) << 16 }
        let channels = u16(22), rate = u32(24), declared = u32(40)
        guard u16(20) == 1, u16(34) == 16 else { throw TestFailure("not 16-bit PCM") }
        let body = b[44...]
        var left: [Int16] = [], right: [Int16] = []
        var i = body.startIndex
        while i + 3 < body.endIndex {
            left.append(Int16(bitPattern: UInt16(body[i]) | UInt16(body[i + 1]) << 8))
            right.append(Int16(bitPattern: UInt16(body[i + 2]) | UInt16(body[i + 3]) << 8))
            i += 4
        }
        return WAV(
            channels: channels, sampleRate: rate, left: left, right: right, declaredDataBytes: declared,
            fileBytes: b.count)
    }

    /// The lag (in samples, searched within ±maxLag) at which `recorded` best matches `reference`,
    /// and the normalised correlation there over `window` samples starting at `start` of the reference.
    static func bestMatch(recorded: [Int16], reference: [Int16], start: Int, window: Int, maxLag: Int) -> (
        lag: Int, correlation: Double
    ) {
        var best = (lag: 0, correlation: -1.0)
        for lag in -maxLag...maxLag {
            let c = correlation(recorded, reference, start: start, window: window, lag: lag)
            if c > best.correlation { best = (lag, c) }
        }
        return best
    }

    /// Normalised correlation of reference[start..<start+window] with recorded shifted by `lag`.
    static func correlation(_ recorded: [Int16], _ reference: [Int16], start: Int, window: Int, lag: Int) -> Double {
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in start..<(start + window) {
            let j = i + lag
            guard i >= 0, i < reference.count, j >= 0, j < recorded.count else { continue }
            let x = Double(reference[i]), y = Double(recorded[j])
            sxy += x * y
            sxx += x * x
            syy += y * y
        }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : 0
    }
}
