import CCodecs
import CallTrackCore
import Foundation
import Telephony
import Testing

@testable import Recording

/// Payload types as the relay reads them from an SDP body (the one SDP parser).
private func payloads(_ sdp: String) -> PayloadTypes { SessionDescription(sdp)!.payloadTypes }

@Suite("Recording writer") struct RecordingWriterTests {
    let pcma = payloads(
        "v=0\r\nm=audio 4000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n")

    private func packet(pt: UInt8 = 8, seq: UInt16, ts: UInt32, ssrc: UInt32 = 7, payload: [UInt8]) -> [UInt8] {
        [0x80, pt, UInt8(seq >> 8), UInt8(seq & 0xff)] + withUnsafeBytes(of: ts.bigEndian, Array.init)
            + withUnsafeBytes(of: ssrc.bigEndian, Array.init) + payload
    }

    private func writer(rate: Int = 8000, caller: PayloadTypes? = nil) throws -> (CallRecordingWriter, String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("w-\(UUID().uuidString).wav").path
        let file = try WAVFile(path: path, sampleRate: rate)
        return (
            CallRecordingWriter(
                callID: CallID.next(), file: file, relativePath: "x.wav", caller: caller ?? pcma, callee: pcma), path
        )
    }

    private func samples(_ path: String) throws -> (left: [Int16], right: [Int16]) {
        let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))[44...]
        var l: [Int16] = [], r: [Int16] = []
        var i = b.startIndex
        while i + 3 < b.endIndex {
            l.append(Int16(bitPattern: UInt16(b[i]) | UInt16(b[i + 1]) << 8))
            r.append(Int16(bitPattern: UInt16(b[i + 2]) | UInt16(b[i + 3]) << 8))
            i += 4
        }
        return (l, r)
    }

    @Test("An SSRC change on one side re-anchors that side only; duplicates are dropped") func ssrcJump() throws {
        let (w, path) = try writer()
        // A-law 0x55 decodes to a small positive value, 0xD5 likewise: use distinct loud codes.
        let loud = [UInt8](repeating: 0xaa, count: 160)
        for i in 0..<10 {
            _ = w.ingest(
                side: .caller, bytes: packet(seq: UInt16(i), ts: UInt32(i * 160), payload: loud),
                arrivalMilliseconds: i * 20)
        }
        // A duplicate.
        _ = w.ingest(side: .caller, bytes: packet(seq: 3, ts: 480, payload: loud), arrivalMilliseconds: 200)
        // After a re-INVITE: new SSRC, timestamps from elsewhere, arriving at 400 ms.
        for i in 0..<5 {
            _ = w.ingest(
                side: .caller,
                bytes: packet(seq: UInt16(500 + i), ts: UInt32(900_000 + i * 160), ssrc: 99, payload: loud),
                arrivalMilliseconds: 400 + i * 20)
        }
        for i in 0..<25 {
            _ = w.ingest(
                side: .callee, bytes: packet(seq: UInt16(i), ts: UInt32(77 + i * 160), payload: loud),
                arrivalMilliseconds: i * 20)
        }
        try w.commit(upTo: 4000)
        let (l, r) = try samples(path)
        #expect(l.count == 4000)
        #expect(l[0..<1600].allSatisfy { $0 != 0 })  // 0–200 ms
        #expect(l[1600..<3200].allSatisfy { $0 == 0 })  // 200–400 ms: nothing sent
        #expect(l[3200..<4000].allSatisfy { $0 != 0 })  // the new stream at 400 ms
        #expect(r[0..<4000].allSatisfy { $0 != 0 })  // the callee never shifted
    }

    @Test("A packet older than what is on disk is not written twice") func latePacket() throws {
        let (w, path) = try writer()
        let loud = [UInt8](repeating: 0xaa, count: 160)
        _ = w.ingest(side: .caller, bytes: packet(seq: 1, ts: 160, payload: loud), arrivalMilliseconds: 20)
        try w.commit(upTo: 800)
        _ = w.ingest(side: .caller, bytes: packet(seq: 0, ts: 0, payload: loud), arrivalMilliseconds: 40)
        try w.commit(upTo: 1600)
        #expect(try samples(path).left.count == 1600)
    }

    @Test("G.722 is decoded at 16 kHz") func g722() throws {
        let map = payloads("v=0\r\nm=audio 4000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n")
        #expect(PayloadTypes.negotiated(caller: map, callee: map)?.sampleRate == 16000)
        let encoder = try #require(ct_g722_encoder_new())
        defer { ct_g722_encoder_free(encoder) }
        let tone = (0..<3200).map { Int16(8000 * sin(2 * Double.pi * 1000 * Double($0) / 16000)) }
        let (w, path) = try writer(rate: 16000, caller: map)
        for f in 0..<10 {
            var out = [UInt8](repeating: 0, count: 160)
            let n =
                tone[(f * 320)..<(f * 320 + 320)].withContiguousStorageIfAvailable {
                    ct_g722_encode(encoder, &out, $0.baseAddress, 320)
                } ?? 0
            #expect(n == 160)
            _ = w.ingest(
                side: .caller, bytes: packet(pt: 9, seq: UInt16(f), ts: UInt32(f * 160), payload: out),
                arrivalMilliseconds: f * 20)
        }
        try w.commit(upTo: 3200)
        let left = try samples(path).left
        let energy = left[800..<3200].map { Double($0) * Double($0) }.reduce(0, +) / 2400
        #expect(energy.squareRoot() > 3000, "decoded G.722 is too quiet: rms \(energy.squareRoot())")
    }

    @Test("Opus is decoded at 16 kHz") func opus() throws {
        let map = payloads("v=0\r\nm=audio 4000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n")
        #expect(map.primary == .opus)
        let encoder = try #require(ct_opus_encoder_new(16000))
        defer { ct_opus_encoder_free(encoder) }
        let tone = (0..<6400).map { Int16(8000 * sin(2 * Double.pi * 500 * Double($0) / 16000)) }
        let (w, path) = try writer(rate: 16000, caller: map)
        for f in 0..<20 {
            var out = [UInt8](repeating: 0, count: 400)
            let n =
                tone[(f * 320)..<(f * 320 + 320)].withContiguousStorageIfAvailable {
                    ct_opus_encode(encoder, $0.baseAddress, 320, &out, 400)
                } ?? 0
            #expect(n > 0)
            _ = w.ingest(
                side: .caller,
                bytes: packet(pt: 111, seq: UInt16(f), ts: UInt32(f * 960), payload: Array(out.prefix(Int(n)))),
                arrivalMilliseconds: f * 20)
        }
        try w.commit(upTo: 6400)
        let left = try samples(path).left
        let energy = left[1600..<6400].map { Double($0) * Double($0) }.reduce(0, +) / 4800
        #expect(energy.squareRoot() > 2000, "decoded Opus is too quiet: rms \(energy.squareRoot())")
    }

    @Test("A codec CallTrack cannot decode is named; static types are known without rtpmap") func undecodable() throws {
        let amr = payloads("v=0\r\nm=audio 4000 RTP/AVP 96\r\na=rtpmap:96 AMR/8000\r\n")
        #expect(amr.primary?.makeDecoder() == nil)
        #expect(amr.primary?.name == "AMR")
        // Phones offer static payload types with no a=rtpmap line.
        let phone = payloads("v=0\r\nm=audio 4000 RTP/AVP 18 3 4 101\r\na=rtpmap:101 telephone-event/8000\r\n")
        #expect(phone.codec(18) == .g729 && phone.codec(3) == .gsm)
        #expect(phone.codec(4)?.name == "G723" && phone.codec(4)?.makeDecoder() == nil)
        #expect(phone.primary?.makeDecoder() != nil)
    }

    @Test("A WAV cut short by a crash is repaired to whole frames with matching sizes") func repair() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("crash-\(UUID().uuidString).wav").path
        let file = try WAVFile(path: path, sampleRate: 8000)
        try file.append([Int16](repeating: 100, count: 800))
        // Simulate a crash between the data and the header: 3 stray bytes and a stale header.
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        h.seekToEndOfFile()
        h.write(Data([1, 2, 3]))
        try h.close()
        let fixed = try #require(WAVFile.repair(path: path))
        #expect(fixed.dataBytes == 1600)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
        #expect(size == 44 + 1600)
    }

    @Test("The file rate is the negotiated codec's, not the offer's first: Opus offered to a PCMU-only callee is 8 kHz")
    func rateFromTheAnswer() {
        let offer = payloads(
            "v=0\r\nm=audio 4000 RTP/AVP 96 0 101\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n")
        let answer = payloads("v=0\r\nm=audio 5000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n")
        #expect(PayloadTypes.negotiated(caller: offer, callee: answer) == .pcmu)
        let wideAnswer = payloads("v=0\r\nm=audio 5000 RTP/AVP 96 0\r\na=rtpmap:96 opus/48000/2\r\n")
        #expect(PayloadTypes.negotiated(caller: offer, callee: wideAnswer) == .opus)
    }

    /// Power at `frequency` in `samples` (rate `rate`), by Goertzel, in dB.
    private func level(_ samples: ArraySlice<Int16>, frequency: Double, rate: Double) -> Double {
        let k = 2 * cos(2 * Double.pi * frequency / rate)
        var s1 = 0.0, s2 = 0.0
        for x in samples {
            let s0 = Double(x) + k * s1 - s2
            s2 = s1
            s1 = s0
        }
        let power = s1 * s1 + s2 * s2 - k * s1 * s2
        return 10 * log10(max(power, 1e-9))
    }

    @Test("8 kHz audio in a 16 kHz file is filtered, not repeated: a 1 kHz tone leaves no image at 7 kHz")
    func upsamplingLeavesNoImage() throws {
        let (w, path) = try writer(rate: 16000)
        // PCMA at 8 kHz (a codec change to narrowband in a wideband call).
        let tone = (0..<8000).map { Int16(8000 * sin(2 * Double.pi * 1000 * Double($0) / 8000)) }
        for f in 0..<50 {
            let payload = tone[(f * 160)..<(f * 160 + 160)].map(Self.alaw)
            _ = w.ingest(
                side: .caller, bytes: packet(seq: UInt16(f), ts: UInt32(f * 160), payload: payload),
                arrivalMilliseconds: f * 20)
        }
        try w.commit(upTo: 16000)
        let left = try samples(path).left[4000..<12000]
        let tonePower = level(left, frequency: 1000, rate: 16000)
        let image = level(left, frequency: 7000, rate: 16000)
        #expect(tonePower - image > 50, "image at 7 kHz only \(tonePower - image) dB below the tone")
    }

    @Test("16 kHz audio in an 8 kHz file is filtered, not decimated: a 6 kHz tone does not fold to 2 kHz")
    func downsamplingLeavesNoAlias() throws {
        let g722 = payloads("v=0\r\nm=audio 4000 RTP/AVP 9\r\n")
        let (w, path) = try writer(rate: 8000, caller: g722)
        let encoder = try #require(ct_g722_encoder_new())
        defer { ct_g722_encoder_free(encoder) }
        // A 1 kHz tone that must stay, and a 6 kHz one above the 8 kHz file's band that must go.
        let tone = (0..<16000).map { i -> Int16 in
            let t = Double(i) / 16000
            return Int16(5000 * sin(2 * Double.pi * 1000 * t) + 5000 * sin(2 * Double.pi * 6000 * t))
        }
        for f in 0..<50 {
            var out = [UInt8](repeating: 0, count: 160)
            _ = tone[(f * 320)..<(f * 320 + 320)].withContiguousStorageIfAvailable {
                ct_g722_encode(encoder, &out, $0.baseAddress, 320)
            }
            _ = w.ingest(
                side: .caller, bytes: packet(pt: 9, seq: UInt16(f), ts: UInt32(f * 160), payload: out),
                arrivalMilliseconds: f * 20)
        }
        try w.commit(upTo: 8000)
        let left = try samples(path).left[2000..<6000]
        let kept = level(left, frequency: 1000, rate: 8000)
        let alias = level(left, frequency: 2000, rate: 8000)
        #expect(kept - alias > 40, "the 6 kHz tone folded to 2 kHz only \(kept - alias) dB below the 1 kHz one")
    }

    static func alaw(_ sample: Int16) -> UInt8 {
        let mask: Int = sample >= 0 ? 0xd5 : 0x55
        var pcm = sample >= 0 ? Int(sample) : -Int(sample) - 1
        pcm = min(pcm, 0x7fff)
        var seg = 0
        var limit = 0xff
        while seg < 8 && pcm > limit {
            seg += 1
            limit = (limit << 1) | 1
        }
        if seg >= 8 { return UInt8(0x7f ^ mask) }
        var aval = seg << 4
        aval |= seg < 2 ? (pcm >> 4) & 0x0f : (pcm >> (seg + 3)) & 0x0f
        return UInt8((aval ^ mask) & 0xff)
    }
}
