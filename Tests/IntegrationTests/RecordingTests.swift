import CCodecs
import Foundation
import Testing

/// Recordings made from real relayed calls, downloaded over HTTP and checked sample by sample.
@Suite("Recording", .serialized) struct RecordingTests {
    let callerSignal = Audio.signature(seconds: 8, base: 440)
    let calleeSignal = Audio.signature(seconds: 8, base: 1000)

    private func pcap(_ packets: [Audio.Packet], _ name: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString).pcap")
            .path
        try Audio.writePcap(packets, to: path)
        return path
    }

    /// Runs one answered call where each side plays its own pcap; returns the call record.
    private func recordedCall(_ server: CallTrackServer, callerPcap: String, calleePcap: String, talk: Int) async throws
        -> [String: Any]
    {
        let p = server.ports
        let callee = try SIPp(
            "callee", scenario: Scenario.calleeAnswers(ringMilliseconds: 200, pcap: calleePcap), localPort: p.callee,
            mediaPort: p.calleeMedia, target: nil)
        try await Task.sleep(for: .milliseconds(200))
        let caller = try SIPp(
            "caller", scenario: Scenario.callerHangsUp(pcap: callerPcap), localPort: p.caller, mediaPort: p.callerMedia,
            target: "127.0.0.1:\(p.sip)", service: "84990000001", pauseMilliseconds: talk)
        #expect(try await caller.wait() == 0, "\(caller.diagnostics())")
        #expect(try await callee.wait() == 0, "\(callee.diagnostics())")
        return try await finishedRecording(server)
    }

    /// The only call's record once its recording is finalised (just after the call record).
    private func finishedRecording(_ server: CallTrackServer) async throws -> [String: Any] {
        _ = try await server.finishedCalls(count: 1)
        for _ in 0..<50 {
            let call = try #require(try await server.calls().first)
            if (call["recording"] as? [String: Any])?["status"] as? String != "recording" { return call }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("recording never finished")
    }

    private func download(_ server: CallTrackServer, _ call: [String: Any]) async throws -> (Audio.WAV, Data) {
        let recording = try #require(call["recording"] as? [String: Any])
        let url = try #require(recording["url"] as? String, "\(recording)")
        let r = try await server.get(url)
        #expect(r.status == 200)
        #expect(r.headers["content-type"] == "audio/wav")
        return (try Audio.parseWAV(r.body), r.body)
    }

    @Test("Each channel holds what that side sent, aligned, and the file lasts as long as the call")
    func channelsMatchWhatEachSideSent() async throws {
        try await withServer { server in
            let call = try await recordedCall(
                server, callerPcap: try pcap(Audio.packets(callerSignal), "caller"),
                calleePcap: try pcap(Audio.packets(calleeSignal, ssrc: 0xabcdef), "callee"), talk: 4000)
            let (wav, _) = try await download(server, call)
            #expect(wav.channels == 2)
            #expect(wav.sampleRate == 8000)
            #expect(wav.declaredDataBytes == wav.fileBytes - 44)
            let talk = try #require(call["talk_seconds"] as? Double)
            #expect(abs(wav.seconds - talk) <= 0.03, "file \(wav.seconds) s, call \(talk) s")
            #expect((call["recording"] as? [String: Any])?["status"] as? String == "recorded")

            // Left = caller, right = callee: each correlates with its own signal and not with the other.
            let left = Audio.bestMatch(
                recorded: wav.left, reference: callerSignal, start: 8000, window: 8000, maxLag: 4000)
            let right = Audio.bestMatch(
                recorded: wav.right, reference: calleeSignal, start: 8000, window: 8000, maxLag: 4000)
            #expect(left.correlation > 0.95, "left/caller correlation \(left)")
            #expect(right.correlation > 0.95, "right/callee correlation \(right)")
            let crossed = Audio.bestMatch(
                recorded: wav.left, reference: calleeSignal, start: 8000, window: 8000, maxLag: 4000)
            #expect(crossed.correlation < 0.5, "left also matches the callee: \(crossed)")
            // Still aligned later in the call: the same lag holds two seconds on.
            #expect(Audio.correlation(wav.left, callerSignal, start: 24000, window: 4000, lag: left.lag) > 0.95)
            #expect(Audio.correlation(wav.right, calleeSignal, start: 24000, window: 4000, lag: right.lag) > 0.95)
        }
    }

    @Test("Lost packets become silence of their length; reordered and duplicated ones land in place")
    func lossAndReorder() async throws {
        var packets = Audio.packets(callerSignal)
        let dropped: Set<Int> = [30, 70, 71, 110]
        // Swap the send order of two pairs (each keeps its RTP timestamp), send one packet twice.
        for (a, b) in [(50, 51), (90, 91)] {
            let t = packets[a].time
            packets[a].time = packets[b].time
            packets[b].time = t
        }
        var sent = packets.enumerated().filter { !dropped.contains($0.offset) }.map(\.element)
        var duplicate = packets[130]
        duplicate.time += 0.005
        sent.append(duplicate)
        sent.sort { $0.time < $1.time }
        try await withServer { server in
            let call = try await recordedCall(
                server, callerPcap: try pcap(sent, "lossy"),
                calleePcap: try pcap(Audio.packets(calleeSignal, ssrc: 0xabcdef), "callee"), talk: 4000)
            let (wav, _) = try await download(server, call)
            let talk = try #require(call["talk_seconds"] as? Double)
            #expect(abs(wav.seconds - talk) <= 0.03, "file \(wav.seconds) s, call \(talk) s")
            // The window spans pitch changes, so only the true lag matches (a steady tone would match every period).
            let match = Audio.bestMatch(
                recorded: wav.left, reference: callerSignal, start: 1600, window: 8000, maxLag: 4000)
            #expect(match.correlation > 0.95, "\(match)")
            // Frame by frame at that one lag: dropped frames are silent, all others match (no shift anywhere).
            var checked = 0
            for frame in 5..<150 {
                let start = frame * 160
                guard start + match.lag + 160 <= wav.left.count else { break }
                let recorded = wav.left[(start + match.lag)..<(start + match.lag + 160)]
                if dropped.contains(frame) {
                    #expect(recorded.allSatisfy { $0 == 0 }, "frame \(frame) was dropped but is not silent")
                } else {
                    let c = Audio.correlation(wav.left, callerSignal, start: start, window: 160, lag: match.lag)
                    #expect(c > 0.9, "frame \(frame) correlation \(c)")
                }
                checked += 1
            }
            #expect(checked > 120)
        }
    }

    @Test("Download: Range gives 206 with the right bytes; no token 401; unknown call or no recording 404")
    func download() async throws {
        try await withServer { server in
            let call = try await recordedCall(
                server, callerPcap: SIPp.audioPcap, calleePcap: SIPp.audioPcap, talk: 1500)
            let (_, full) = try await download(server, call)
            let url = try #require((call["recording"] as? [String: Any])?["url"] as? String)
            let part = try await server.get(url, headers: ["Range": "bytes=1000-1999"])
            #expect(part.status == 206)
            #expect(part.body == full[1000..<2000])
            #expect(part.headers["content-range"] == "bytes 1000-1999/\(full.count)")
            let head = try await server.get(url, headers: ["Range": "bytes=0-43"])
            #expect(head.body == full[0..<44])
            let tail = try await server.get(url, headers: ["Range": "bytes=-100"])
            #expect(tail.status == 206 && tail.body == full[(full.count - 100)...])
            #expect(try await server.get(url, headers: ["Range": "bytes=\(full.count + 10)-"]).status == 416)
            // An end past any size (past Int.max even) means "to the end".
            let huge = try await server.get(url, headers: ["Range": "bytes=0-99999999999999999999"])
            #expect(huge.status == 206 && huge.body == full, "\(huge.status)")
            #expect(huge.headers["content-range"] == "bytes 0-\(full.count - 1)/\(full.count)")
            #expect(try await server.get(url, token: nil).status == 401)
            #expect(try await server.get("/v1/calls/ffffffffffffffffffffff/recording").status == 404)
            #expect(try await server.get("/v1/calls/..%2F..%2Fetc%2Fpasswd/recording").status == 404)
            // A missed call has nothing to download.
            try await server.placeBusyCalls(1, dialling: "84990000001")
            // The record is written in the next batch, a moment after sipp sees the 486.
            let missed = try #require(
                try await server.finishedCalls(count: 2).first { $0["status"] as? String == "missed" })
            #expect(try await server.get("/v1/calls/\(missed["id"] as! String)/recording").status == 404)
        }
    }

    @Test("record: false records nothing") func recordFalse() async throws {
        var options = CallTrackServer.Options()
        options.record = false
        try await withServer(options: options) { server in
            let call = try await recordedCall(
                server, callerPcap: SIPp.audioPcap, calleePcap: SIPp.audioPcap, talk: 1000)
            #expect((call["recording"] as? [String: Any])?["status"] as? String == "disabled")
            let folder = server.directory.appendingPathComponent("recordings").path
            let files = FileManager.default.enumerator(atPath: folder)?.allObjects as? [String] ?? []
            #expect(!files.contains { $0.hasSuffix(".wav") })
        }
    }

    @Test("An unwritable recordings folder: calls still connect, each record says why, the log says it once")
    func unwritableFolder() async throws {
        var options = CallTrackServer.Options()
        let blocker = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-folder-\(UUID().uuidString)")
            .path
        try "this is a file".write(toFile: blocker, atomically: true, encoding: .utf8)
        options.recordingsPath = blocker + "/recordings"
        try await withServer(options: options) { server in
            let p = server.ports
            let callee = try SIPp(
                "callee", scenario: Scenario.calleeAnswers(ringMilliseconds: 100), localPort: p.callee,
                mediaPort: p.calleeMedia, target: nil, calls: 2)
            try await Task.sleep(for: .milliseconds(200))
            let caller = try SIPp(
                "caller", scenario: Scenario.callerHangsUp(), localPort: p.caller, mediaPort: p.callerMedia,
                target: "127.0.0.1:\(p.sip)", service: "84990000001", calls: 2, pauseMilliseconds: 1000)
            #expect(try await caller.wait() == 0, "\(caller.diagnostics())")
            _ = try await callee.wait()
            let calls = try await server.finishedCalls(count: 2)
            for call in calls {
                #expect(call["status"] as? String == "answered")
                let recording = call["recording"] as? [String: Any]
                #expect(recording?["status"] as? String == "failed")
                #expect(
                    (recording?["reason"] as? String)?.contains("folder") == true, "\(String(describing: recording))")
            }
            let log = server.log()
            #expect(
                log.components(separatedBy: "cannot record calls").count == 2, "logged more or less than once:\n\(log)")
        }
    }

    @Test("telephone-event packets are not audio: their digit goes into the call record") func dtmfDigits() async throws
    {
        try await withServer { server in
            let call = try await recordedCall(
                server, callerPcap: "/usr/share/sip-tester/dtmf_2833_5.pcap", calleePcap: SIPp.audioPcap, talk: 1500)
            let id = try #require(call["id"] as? String)
            let detail =
                try JSONSerialization.jsonObject(with: try await server.get("/v1/calls/\(id)").body) as? [String: Any]
            let dtmf = try #require(detail?["dtmf"] as? [[String: Any]])
            #expect(dtmf.count == 1, "\(dtmf)")
            #expect(dtmf.first?["digit"] as? String == "5")
            #expect(dtmf.first?["side"] as? String == "caller")
            let (wav, _) = try await download(server, call)
            #expect(wav.left.allSatisfy { $0 == 0 }, "DTMF events were written as audio")
            #expect(wav.right.contains { $0 != 0 })
        }
    }

    @Test("A key held for 2.5 s while audio keeps flowing leaves that side's audio where and as loud as it was")
    func heldKeyKeepsTheAudio() async throws {
        // 5 s of a pitch-changing tone whose packets arrive with 0–9 ms of network jitter, as a real
        // phone's do; from 1.0 s to 3.5 s the key 5 is held: telephone-event packets every 50 ms, all
        // with the timestamp of the key's first moment, interleaved with the audio. Audio placed by
        // arrival instead of by timestamp would shift by the jitter at every event and lose its phase.
        let signal = Audio.signature(seconds: 5, base: 470)
        var seed: UInt32 = 7
        func jitter() -> Double {
            seed = seed &* 1_103_515_245 &+ 12345
            return Double((seed >> 16) % 10) / 1000
        }
        var packets = Audio.packets(signal).map {
            var p = $0
            p.time += jitter()
            return p
        }
        let start = packets[50]
        for (i, t) in stride(from: 1.0, through: 3.5, by: 0.05).enumerated() {
            let duration = UInt16(min(65535, Int((t - 1.0) * 8000) + 400))
            let end: UInt8 = t > 3.44 ? 0x80 : 0
            packets.append(
                Audio.Packet(
                    time: t + 0.01, sequence: UInt16(truncatingIfNeeded: 5000 + i), timestamp: start.timestamp,
                    ssrc: start.ssrc, payloadType: 101,
                    payload: [5, end | 10, UInt8(duration >> 8), UInt8(duration & 0xff)]))
        }
        packets.sort { $0.time < $1.time }
        try await withServer { server in
            let call = try await recordedCall(
                server, callerPcap: try pcap(packets, "held-key"),
                calleePcap: try pcap(Audio.packets(calleeSignal, ssrc: 0xabcdef), "callee"), talk: 4500)
            let (wav, _) = try await download(server, call)
            // Where the caller's audio sits before the key, and how well each later half second matches
            // the sent signal at that same place: the held key may not move or weaken it.
            let before = Audio.bestMatch(recorded: wav.left, reference: signal, start: 2000, window: 4000, maxLag: 4000)
            #expect(before.correlation > 0.95, "caller channel before the key: correlation \(before.correlation)")
            let during = stride(from: 10000, to: 36000, by: 4000).map {
                Audio.correlation(wav.left, signal, start: $0, window: 4000, lag: before.lag)
            }
            #expect(
                during.allSatisfy { $0 > 0.95 },
                "caller channel while the key is held, per 0.5 s: \(during.map { ($0 * 100).rounded() / 100 })")
            func decibels(_ window: ArraySlice<Int16>) -> Double {
                let power = window.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, window.count))
                return 10 * log10(max(power, 1))
            }
            let levels = stride(from: 4000, to: 32000, by: 800).map {
                decibels(wav.left[$0..<min($0 + 800, wav.left.count)])
            }
            #expect(
                (levels.max() ?? 0) - (levels.min() ?? 0) < 3,
                "caller channel level per 100 ms: \(levels.map { Int($0) })")
            let detail = try JSONSerialization.jsonObject(
                with: try await server.get("/v1/calls/\(call["id"] as! String)").body)
            let dtmf = (detail as? [String: Any])?["dtmf"] as? [[String: Any]]
            #expect(dtmf?.count == 1 && dtmf?.first?["digit"] as? String == "5", "\(String(describing: dtmf))")
        }
    }

    /// A caller and a callee that both speak only a static payload type, offered the way phones do:
    /// without an `a=rtpmap` line. Each side plays `frames` of encoded audio.
    private func staticCodecCall(
        _ server: CallTrackServer, payloadType: Int, callerPackets: [Audio.Packet], calleePackets: [Audio.Packet]
    ) async throws -> [String: Any] {
        let sdp = """
            v=0
            o=sipp 53655765 [cseq] IN IP[local_ip_type] [local_ip]
            s=-
            c=IN IP[media_ip_type] [media_ip]
            t=0 0
            m=audio [media_port] RTP/AVP \(payloadType) 101
            a=rtpmap:101 telephone-event/8000
            a=sendrecv
            """
        let p = server.ports
        let callee = try SIPp(
            "callee",
            scenario: Scenario.calleeAnswers(
                ringMilliseconds: 100, sdpBody: sdp, pcap: try pcap(calleePackets, "static-callee")),
            localPort: p.callee, mediaPort: p.calleeMedia, target: nil)
        try await Task.sleep(for: .milliseconds(200))
        let caller = try SIPp(
            "caller", scenario: Scenario.callerHangsUp(pcap: try pcap(callerPackets, "static-caller"), sdpBody: sdp),
            localPort: p.caller, mediaPort: p.callerMedia, target: "127.0.0.1:\(p.sip)", service: "84990000001",
            pauseMilliseconds: 3000)
        #expect(try await caller.wait() == 0, "\(caller.diagnostics())")
        #expect(try await callee.wait() == 0, "\(callee.diagnostics())")
        return try await finishedRecording(server)
    }

    /// `samples` cut into 20 ms packets of `payloadType`, each encoded by `encode` (160 samples in, bytes out).
    private func encoded(_ samples: [Int16], payloadType: UInt8, ssrc: UInt32, _ encode: ([Int16]) -> [UInt8]) -> [Audio
        .Packet]
    {
        stride(from: 0, to: samples.count - 159, by: 160).enumerated().map { i, start in
            Audio.Packet(
                time: Double(i) * 0.02, sequence: UInt16(truncatingIfNeeded: 2000 + i),
                timestamp: UInt32(16000 + start), ssrc: ssrc, payloadType: payloadType,
                payload: encode(Array(samples[start..<start + 160])))
        }
    }

    @Test(
        "G.729 and GSM offered without rtpmap, as phones do: both channels decoded, not a silent file called recorded",
        arguments: [18, 3]) func staticCodecsAreDecoded(payloadType: Int) async throws
    {
        let g729 = try #require(ct_g729_encoder_new())
        defer { ct_g729_encoder_free(g729) }
        let gsm = try #require(ct_gsm_new())
        defer { ct_gsm_free(gsm) }
        func encode(_ frame: [Int16]) -> [UInt8] {
            if payloadType == 3 {
                var out = [UInt8](repeating: 0, count: 33)
                ct_gsm_encode_frame(gsm, frame, &out)
                return out
            }
            var a = [UInt8](repeating: 0, count: 10), b = [UInt8](repeating: 0, count: 10)
            _ = ct_g729_encode_frame(g729, Array(frame[0..<80]), &a)
            _ = ct_g729_encode_frame(g729, Array(frame[80..<160]), &b)
            return a + b
        }
        let callerPackets = encoded(callerSignal, payloadType: UInt8(payloadType), ssrc: 0x1111, encode)
        let calleePackets = encoded(calleeSignal, payloadType: UInt8(payloadType), ssrc: 0x2222, encode)
        try await withServer { server in
            let call = try await staticCodecCall(
                server, payloadType: payloadType, callerPackets: callerPackets, calleePackets: calleePackets)
            let recording = try #require(call["recording"] as? [String: Any])
            #expect(recording["status"] as? String == "recorded", "\(recording)")
            #expect(recording["reason"] is NSNull, "\(recording)")
            let (wav, _) = try await download(server, call)
            #expect(wav.sampleRate == 8000)
            // A lossy codec: each channel still follows its own signal (and not the other's).
            let left = Audio.bestMatch(
                recorded: wav.left, reference: callerSignal, start: 8000, window: 8000, maxLag: 4000)
            let right = Audio.bestMatch(
                recorded: wav.right, reference: calleeSignal, start: 8000, window: 8000, maxLag: 4000)
            #expect(left.correlation > 0.8, "caller channel \(left)")
            #expect(right.correlation > 0.8, "callee channel \(right)")
        }
    }

    @Test("A phone offering Opus first to a callee that answers only PCMA is recorded at the rate that flows: 8 kHz")
    func rateFromWhatIsNegotiated() async throws {
        let offer = """
            v=0
            o=sipp 53655765 [cseq] IN IP[local_ip_type] [local_ip]
            s=-
            c=IN IP[media_ip_type] [media_ip]
            t=0 0
            m=audio [media_port] RTP/AVP 96 8 101
            a=rtpmap:96 opus/48000/2
            a=rtpmap:8 PCMA/8000
            a=rtpmap:101 telephone-event/8000
            a=sendrecv
            """
        try await withServer { server in
            let p = server.ports
            let callee = try SIPp(
                "callee",
                scenario: Scenario.calleeAnswers(
                    ringMilliseconds: 100, pcap: try pcap(Audio.packets(calleeSignal, ssrc: 0xabcdef), "callee")),
                localPort: p.callee, mediaPort: p.calleeMedia, target: nil)
            try await Task.sleep(for: .milliseconds(200))
            let caller = try SIPp(
                "caller",
                scenario: Scenario.callerHangsUp(pcap: try pcap(Audio.packets(callerSignal), "caller"), sdpBody: offer),
                localPort: p.caller, mediaPort: p.callerMedia, target: "127.0.0.1:\(p.sip)", service: "84990000001",
                pauseMilliseconds: 3000)
            #expect(try await caller.wait() == 0, "\(caller.diagnostics())")
            #expect(try await callee.wait() == 0, "\(callee.diagnostics())")
            let call = try await finishedRecording(server)
            let (wav, _) = try await download(server, call)
            #expect(wav.sampleRate == 8000, "a PCMA call recorded at \(wav.sampleRate) Hz")
            let left = Audio.bestMatch(
                recorded: wav.left, reference: callerSignal, start: 8000, window: 8000, maxLag: 4000)
            #expect(left.correlation > 0.95, "\(left)")
        }
    }

    @Test(
        "A static payload type CallTrack cannot decode (G.723, no rtpmap): failed with the codec named, no silent file")
    func undecodableStaticType() async throws {
        try await withServer { server in
            var packets: [Audio.Packet] = []
            for i in 0..<100 {
                let sequence = UInt16(3000 + i), timestamp = UInt32(8000 + i * 240)
                packets.append(
                    Audio.Packet(
                        time: Double(i) * 0.03, sequence: sequence, timestamp: timestamp, ssrc: 0x3333, payloadType: 4,
                        payload: [UInt8](repeating: 0x55, count: 24)))
            }
            let call = try await staticCodecCall(server, payloadType: 4, callerPackets: packets, calleePackets: packets)
            #expect(call["status"] as? String == "answered")
            let recording = try #require(call["recording"] as? [String: Any])
            #expect(recording["status"] as? String == "failed", "\(recording)")
            #expect((recording["reason"] as? String)?.contains("G723") == true, "\(recording)")
            #expect(recording["url"] is NSNull)
        }
    }

    @Test("A codec CallTrack cannot decode: the call connects, the record says why there is no recording")
    func undecodableCodec() async throws {
        try await withServer { server in
            let p = server.ports
            let amr = Scenario.sdp(codec: (96, "AMR/8000"))
            let callee = try SIPp(
                "callee", scenario: Scenario.calleeAnswers(ringMilliseconds: 100, audio: false, sdpBody: amr),
                localPort: p.callee, mediaPort: p.calleeMedia, target: nil)
            try await Task.sleep(for: .milliseconds(200))
            let caller = try SIPp(
                "caller", scenario: Scenario.callerHangsUp(pcap: SIPp.audioPcap, sdpBody: amr), localPort: p.caller,
                mediaPort: p.callerMedia, target: "127.0.0.1:\(p.sip)", service: "84990000001")
            #expect(try await caller.wait() == 0, "\(caller.diagnostics())")
            #expect(try await callee.wait() == 0, "\(callee.diagnostics())")
            let call = try #require(try await server.finishedCalls(count: 1).first)
            #expect(call["status"] as? String == "answered")
            let recording = try #require(call["recording"] as? [String: Any])
            #expect(recording["status"] as? String == "failed")
            #expect((recording["reason"] as? String)?.contains("AMR") == true, "\(recording)")
            #expect(recording["url"] is NSNull)
        }
    }

    @Test(
        "A read-only recordings folder and a disk that fills mid-call: calls connect, records say why",
        .enabled(if: Tmpfs.available, "needs root to mount a tmpfs")) func readOnlyAndFullDisk() async throws
    {
        let readOnly = try Tmpfs(options: "ro,size=1m")
        var options = CallTrackServer.Options()
        options.recordingsPath = readOnly.path
        let server = try CallTrackServer(options: options)
        try await server.start()
        let call = try await recordedCall(server, callerPcap: SIPp.audioPcap, calleePcap: SIPp.audioPcap, talk: 1000)
        #expect(call["status"] as? String == "answered")
        let recording = call["recording"] as? [String: Any]
        #expect(recording?["status"] as? String == "failed")
        #expect((recording?["reason"] as? String)?.contains("read-only") == true, "\(String(describing: recording))")
        try await server.stop()

        // 64 KiB holds two seconds of stereo 8 kHz audio: a 4 s call fills it.
        let small = try Tmpfs(options: "size=64k")
        options.recordingsPath = small.path
        try await withServer(options: options) { full in
            let long = try await recordedCall(full, callerPcap: SIPp.audioPcap, calleePcap: SIPp.audioPcap, talk: 4000)
            #expect(long["status"] as? String == "answered")
            let cut = try #require(long["recording"] as? [String: Any])
            #expect(cut["status"] as? String == "failed")
            #expect((cut["reason"] as? String)?.contains("disk full") == true, "\(cut)")
            // What was written before the disk filled is still a valid file.
            if let url = cut["url"] as? String {
                let wav = try Audio.parseWAV(try await full.get(url).body)
                #expect(wav.declaredDataBytes == wav.fileBytes - 44)
            }
            #expect(full.log().components(separatedBy: "recording stopped").count == 2, "logged more or less than once")
        }
    }
}
