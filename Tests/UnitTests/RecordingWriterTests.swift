import CCodecs
import CallTrackCore
import Foundation
import Testing
@testable import Recording

@Suite("Recording writer")
struct RecordingWriterTests {
    let pcma = PayloadMap(sdp: "v=0\r\nm=audio 4000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n")

    private func packet(pt: UInt8 = 8, seq: UInt16, ts: UInt32, ssrc: UInt32 = 7, payload: [UInt8]) -> [UInt8] {
        [0x80, pt, UInt8(seq >> 8), UInt8(seq & 0xff)] + withUnsafeBytes(of: ts.bigEndian, Array.init)
            + withUnsafeBytes(of: ssrc.bigEndian, Array.init) + payload
    }

    private func writer(rate: Int = 8000, caller: PayloadMap? = nil) throws -> (CallRecordingWriter, String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("w-\(UUID().uuidString).wav").path
        let file = try WAVFile(path: path, sampleRate: rate)
        return (CallRecordingWriter(callID: CallID.next(), file: file, relativePath: "x.wav", caller: caller ?? pcma,
                                    callee: pcma), path)
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

    @Test("An SSRC change on one side re-anchors that side only; duplicates are dropped")
    func ssrcJump() throws {
        let (w, path) = try writer()
        // A-law 0x55 decodes to a small positive value, 0xD5 likewise: use distinct loud codes.
        let loud = [UInt8](repeating: 0xaa, count: 160)
        for i in 0..<10 {
            _ = w.ingest(side: .caller, bytes: packet(seq: UInt16(i), ts: UInt32(i * 160), payload: loud), arrivalMilliseconds: i * 20)
        }
        _ = w.ingest(side: .caller, bytes: packet(seq: 3, ts: 480, payload: loud), arrivalMilliseconds: 200)  // duplicate
        // After a re-INVITE: new SSRC, timestamps from elsewhere, arriving at 400 ms.
        for i in 0..<5 {
            _ = w.ingest(side: .caller, bytes: packet(seq: UInt16(500 + i), ts: UInt32(900_000 + i * 160), ssrc: 99, payload: loud),
                         arrivalMilliseconds: 400 + i * 20)
        }
        for i in 0..<25 {
            _ = w.ingest(side: .callee, bytes: packet(seq: UInt16(i), ts: UInt32(77 + i * 160), payload: loud), arrivalMilliseconds: i * 20)
        }
        try w.commit(upTo: 4000)
        let (l, r) = try samples(path)
        #expect(l.count == 4000)
        #expect(l[0..<1600].allSatisfy { $0 != 0 })         // 0–200 ms
        #expect(l[1600..<3200].allSatisfy { $0 == 0 })      // 200–400 ms: nothing sent
        #expect(l[3200..<4000].allSatisfy { $0 != 0 })      // the new stream at 400 ms
        #expect(r[0..<4000].allSatisfy { $0 != 0 })         // the callee never shifted
    }

    @Test("A packet older than what is on disk is not written twice")
    func latePacket() throws {
        let (w, path) = try writer()
        let loud = [UInt8](repeating: 0xaa, count: 160)
        _ = w.ingest(side: .caller, bytes: packet(seq: 1, ts: 160, payload: loud), arrivalMilliseconds: 20)
        try w.commit(upTo: 800)
        _ = w.ingest(side: .caller, bytes: packet(seq: 0, ts: 0, payload: loud), arrivalMilliseconds: 40)
        try w.commit(upTo: 1600)
        #expect(try samples(path).left.count == 1600)
    }

    @Test("G.722 is decoded at 16 kHz")
    func g722() throws {
        let map = PayloadMap(sdp: "v=0\r\nm=audio 4000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n")
        #expect(CallRecordingWriter.sampleRate(caller: map, callee: pcma) == 16000)
        let encoder = try #require(ct_g722_encoder_new())
        defer { ct_g722_encoder_free(encoder) }
        let tone = (0..<3200).map { Int16(8000 * sin(2 * Double.pi * 1000 * Double($0) / 16000)) }
        let (w, path) = try writer(rate: 16000, caller: map)
        for f in 0..<10 {
            var out = [UInt8](repeating: 0, count: 160)
            let n = tone[(f * 320)..<(f * 320 + 320)].withContiguousStorageIfAvailable {
                ct_g722_encode(encoder, &out, $0.baseAddress, 320)
            } ?? 0
            #expect(n == 160)
            _ = w.ingest(side: .caller, bytes: packet(pt: 9, seq: UInt16(f), ts: UInt32(f * 160), payload: out),
                         arrivalMilliseconds: f * 20)
        }
        try w.commit(upTo: 3200)
        let left = try samples(path).left
        let energy = left[800..<3200].map { Double($0) * Double($0) }.reduce(0, +) / 2400
        #expect(energy.squareRoot() > 3000, "decoded G.722 is too quiet: rms \(energy.squareRoot())")
    }

    @Test("Opus is decoded at 16 kHz")
    func opus() throws {
        let map = PayloadMap(sdp: "v=0\r\nm=audio 4000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n")
        #expect(map.primary == .opus)
        let encoder = try #require(ct_opus_encoder_new(16000))
        defer { ct_opus_encoder_free(encoder) }
        let tone = (0..<6400).map { Int16(8000 * sin(2 * Double.pi * 500 * Double($0) / 16000)) }
        let (w, path) = try writer(rate: 16000, caller: map)
        for f in 0..<20 {
            var out = [UInt8](repeating: 0, count: 400)
            let n = tone[(f * 320)..<(f * 320 + 320)].withContiguousStorageIfAvailable {
                ct_opus_encode(encoder, $0.baseAddress, 320, &out, 400)
            } ?? 0
            #expect(n > 0)
            _ = w.ingest(side: .caller, bytes: packet(pt: 111, seq: UInt16(f), ts: UInt32(f * 960), payload: Array(out.prefix(Int(n)))),
                         arrivalMilliseconds: f * 20)
        }
        try w.commit(upTo: 6400)
        let left = try samples(path).left
        let energy = left[1600..<6400].map { Double($0) * Double($0) }.reduce(0, +) / 4800
        #expect(energy.squareRoot() > 2000, "decoded Opus is too quiet: rms \(energy.squareRoot())")
    }

    @Test("A codec CallTrack cannot decode is named; static types are known without rtpmap")
    func undecodable() throws {
        let amr = PayloadMap(sdp: "v=0\r\nm=audio 4000 RTP/AVP 96\r\na=rtpmap:96 AMR/8000\r\n")
        #expect(amr.primary?.makeDecoder() == nil)
        #expect(amr.primary?.name == "AMR")
        // Phones offer static payload types with no a=rtpmap line.
        let phone = PayloadMap(sdp: "v=0\r\nm=audio 4000 RTP/AVP 18 3 4 101\r\na=rtpmap:101 telephone-event/8000\r\n")
        #expect(phone.codec(18) == .g729 && phone.codec(3) == .gsm)
        #expect(phone.codec(4)?.name == "G723" && phone.codec(4)?.makeDecoder() == nil)
        #expect(phone.primary?.makeDecoder() != nil)
    }

    @Test("A WAV cut short by a crash is repaired to whole frames with matching sizes")
    func repair() throws {
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
}
