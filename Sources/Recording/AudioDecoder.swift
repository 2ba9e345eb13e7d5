import CCodecs
import CLibre
import CallTrackCore

/// Turns one RTP payload into 16-bit samples at the codec's own rate.
protocol AudioDecoder: AnyObject { func decode(_ payload: ArraySlice<UInt8>) -> [Int16] }

/// G.711 μ-law or A-law through librem's tables.
final class G711Decoder: AudioDecoder {
    private let aLaw: Bool
    init(aLaw: Bool) { self.aLaw = aLaw }

    func decode(_ payload: ArraySlice<UInt8>) -> [Int16] {
        if aLaw {
            return withUnsafePointer(to: g711_A2l) { table in
                table.withMemoryRebound(to: Int16.self, capacity: 256) { t in payload.map { t[Int($0)] } }
            }
        }
        return withUnsafePointer(to: g711_u2l) { table in
            table.withMemoryRebound(to: Int16.self, capacity: 256) { t in payload.map { t[Int($0)] } }
        }
    }
}

/// G.722 (16 kHz) through spandsp.
final class G722Decoder: AudioDecoder {
    private let state: OpaquePointer

    init?() {
        guard let s = ct_g722_decoder_new() else { return nil }
        state = s
    }

    deinit { ct_g722_decoder_free(state) }

    func decode(_ payload: ArraySlice<UInt8>) -> [Int16] {
        var out = [Int16](repeating: 0, count: payload.count * 2)
        let n =
            payload.withContiguousStorageIfAvailable { bytes in
                ct_g722_decode(state, &out, bytes.baseAddress, Int32(bytes.count))
            } ?? 0
        return Array(out.prefix(Int(max(0, n))))
    }
}

/// Opus, decoded straight to 16 kHz mono by libopus.
final class OpusDecoder: AudioDecoder {
    private let state: OpaquePointer

    init?() {
        guard let s = ct_opus_decoder_new(16000) else { return nil }
        state = s
    }

    deinit { ct_opus_decoder_free(state) }

    func decode(_ payload: ArraySlice<UInt8>) -> [Int16] {
        var out = [Int16](repeating: 0, count: 5760)  // 120 ms at 48 kHz: the largest Opus frame
        let n =
            payload.withContiguousStorageIfAvailable { bytes in
                ct_opus_decode(state, bytes.baseAddress, Int32(bytes.count), &out, Int32(out.count))
            } ?? 0
        return Array(out.prefix(Int(max(0, n))))
    }
}

/// G.729 (Annex A/B) through bcg729: 10-byte frames of 10 ms, a 2-byte silence descriptor last.
final class G729Decoder: AudioDecoder {
    private let state: OpaquePointer

    init?() {
        guard let s = ct_g729_decoder_new() else { return nil }
        state = s
    }

    deinit { ct_g729_decoder_free(state) }

    func decode(_ payload: ArraySlice<UInt8>) -> [Int16] {
        var out: [Int16] = []
        var frame = [Int16](repeating: 0, count: 80)
        var rest = payload
        while rest.count >= 10 || rest.count == 2 {
            let length = rest.count >= 10 ? 10 : 2
            let chunk = Array(rest.prefix(length))
            if ct_g729_decode_frame(state, chunk, Int32(length), &frame) == 80 { out += frame }
            rest = rest.dropFirst(length)
        }
        return out
    }
}

/// GSM 06.10 through libgsm: 33-byte frames of 20 ms.
final class GSMDecoder: AudioDecoder {
    private let state: OpaquePointer

    init?() {
        guard let s = ct_gsm_new() else { return nil }
        state = s
    }

    deinit { ct_gsm_free(state) }

    func decode(_ payload: ArraySlice<UInt8>) -> [Int16] {
        var out: [Int16] = []
        var frame = [Int16](repeating: 0, count: 160)
        var rest = payload
        while rest.count >= 33 {
            let chunk = Array(rest.prefix(33))
            if ct_gsm_decode_frame(state, chunk, &frame) == 160 { out += frame }
            rest = rest.dropFirst(33)
        }
        return out
    }
}

extension AudioCodec {
    /// A fresh decoder, or nil when CallTrack cannot decode this format.
    func makeDecoder() -> AudioDecoder? {
        switch self {
        case .pcmu: G711Decoder(aLaw: false)
        case .pcma: G711Decoder(aLaw: true)
        case .g722: G722Decoder()
        case .opus: OpusDecoder()
        case .g729: G729Decoder()
        case .gsm: GSMDecoder()
        case .telephoneEvent, .comfortNoise, .other: nil
        }
    }
}
