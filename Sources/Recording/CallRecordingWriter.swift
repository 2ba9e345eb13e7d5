import CallTrackCore

/// One call's recording: the caller on the left channel, the business on the right.
///
/// Samples are placed by RTP timestamp on a timeline that starts at the answer, not by
/// arrival: a lost packet leaves silence of its length, a late one lands where it belongs
/// (if it is within the jitter window), a duplicate is dropped. A new SSRC, or an audio timestamp
/// that disagrees with the wall clock by more than a second (re-INVITE, hold), re-anchors
/// that channel alone, so the other channel never shifts; telephone-events never re-anchor (a
/// held key keeps its first timestamp). Confined to the recorder's queue.
final class CallRecordingWriter {
    final class Track {
        let side: RecordingSide
        var payloads: PayloadTypes
        var ssrc: UInt32?
        var anchorTimestamp: UInt32 = 0
        var anchorFrame = 0
        var anchorClock = 8000
        var decoders: [UInt8: AudioDecoder] = [:]
        /// One streaming resampler per source rate: its filter runs across packet boundaries.
        var resamplers: [Int: Resampler] = [:]
        /// Samples from the writer's `committed` frame on.
        var buffer: [Int16] = []
        var recentSequences: [UInt16] = []
        var lastEventTimestamp: UInt32?
        var undecodable: String?

        init(side: RecordingSide, payloads: PayloadTypes) {
            self.side = side
            self.payloads = payloads
        }
    }

    let callID: CallID
    let file: WAVFile
    let relativePath: String
    let tracks: [Track]
    private(set) var committed = 0
    /// Audio packets decoded on either channel: none means the file holds nothing but silence.
    private(set) var audioPackets = 0
    var rate: Int { file.sampleRate }

    init(callID: CallID, file: WAVFile, relativePath: String, caller: PayloadTypes, callee: PayloadTypes) {
        self.callID = callID
        self.file = file
        self.relativePath = relativePath
        tracks = [Track(side: .caller, payloads: caller), Track(side: .callee, payloads: callee)]
    }

    /// Places one packet; returns a DTMF digit when the packet starts a telephone-event.
    func ingest(side: RecordingSide, bytes: [UInt8], arrivalMilliseconds: Int) -> DTMFEvent? {
        guard let packet = RTPPacket(bytes) else { return nil }
        let track = tracks[side == .caller ? 0 : 1]
        guard let codec = track.payloads.codec(packet.payloadType) else { return nil }
        let arrivalFrame = arrivalMilliseconds * rate / 1000

        // A telephone-event keeps the timestamp of the key's first moment for as long as the key is
        // held (RFC 4733): it never moves the audio timeline, it only names a digit.
        if codec == .telephoneEvent {
            if track.ssrc == nil { anchor(track, packet: packet, codec: codec, at: arrivalFrame) }
            guard let digit = packet.payload.first.flatMap(Self.digit), track.lastEventTimestamp != packet.timestamp
            else { return nil }
            track.lastEventTimestamp = packet.timestamp
            var frame = position(track, packet.timestamp)
            if abs(frame - arrivalFrame) > rate { frame = arrivalFrame }
            return DTMFEvent(
                callID: callID, side: side.rawValue, digit: digit, atSeconds: Double(max(0, frame)) / Double(rate))
        }

        if track.ssrc != packet.ssrc { anchor(track, packet: packet, codec: codec, at: arrivalFrame) }
        if track.recentSequences.contains(packet.sequence) { return nil }  // duplicate
        track.recentSequences.append(packet.sequence)
        if track.recentSequences.count > 64 { track.recentSequences.removeFirst(track.recentSequences.count - 64) }

        var frame = position(track, packet.timestamp)
        if abs(frame - arrivalFrame) > rate {
            // The RTP clock jumped (a re-INVITE, a hold): follow the wall clock again from here.
            anchor(track, packet: packet, codec: codec, at: arrivalFrame)
            frame = arrivalFrame
        }

        switch codec {
        case .telephoneEvent: return nil
        case .comfortNoise: return nil
        case .other(let name):
            track.undecodable = name
            return nil
        default: break
        }
        if track.decoders[packet.payloadType] == nil { track.decoders[packet.payloadType] = codec.makeDecoder() }
        guard let decoder = track.decoders[packet.payloadType] else {
            track.undecodable = codec.name
            return nil
        }
        let decoded = decoder.decode(packet.payload)
        if !decoded.isEmpty { audioPackets += 1 }
        var samples = decoded
        if codec.sampleRate != rate {
            if track.resamplers[codec.sampleRate] == nil {
                track.resamplers[codec.sampleRate] = Resampler(from: codec.sampleRate, to: rate)
            }
            samples = track.resamplers[codec.sampleRate]?.process(decoded) ?? []
        }
        place(samples, in: track, at: frame)
        return nil
    }

    private func anchor(_ track: Track, packet: RTPPacket, codec: AudioCodec, at frame: Int) {
        track.ssrc = packet.ssrc
        track.anchorTimestamp = packet.timestamp
        track.anchorFrame = frame
        track.anchorClock =
            codec == .telephoneEvent ? (track.payloads.primary?.rtpClockRate ?? 8000) : codec.rtpClockRate
        track.recentSequences.removeAll()
    }

    private func position(_ track: Track, _ timestamp: UInt32) -> Int {
        let delta = Int(Int32(bitPattern: timestamp &- track.anchorTimestamp))
        return track.anchorFrame + delta * rate / track.anchorClock
    }

    private func place(_ samples: [Int16], in track: Track, at frame: Int) {
        var samples = samples[...]
        var offset = frame - committed
        if offset < 0 {  // too late: the part already on disk stays as it is
            samples = samples.dropFirst(-offset)
            offset = 0
        }
        guard !samples.isEmpty, offset < rate * 30 else { return }
        let end = offset + samples.count
        if track.buffer.count < end { track.buffer += [Int16](repeating: 0, count: end - track.buffer.count) }
        track.buffer.replaceSubrange(offset..<end, with: samples)
    }

    /// Writes every frame before `frame` to the file (silence where a channel had nothing).
    func commit(upTo frame: Int) throws {
        let n = frame - committed
        guard n > 0 else { return }
        var interleaved = [Int16](repeating: 0, count: n * 2)
        for (channel, track) in tracks.enumerated() {
            let available = min(n, track.buffer.count)
            for i in 0..<available { interleaved[i * 2 + channel] = track.buffer[i] }
            track.buffer.removeFirst(available)
        }
        try file.append(interleaved)
        committed = frame
    }

    /// RFC 4733 event codes 0–15 as keypad characters.
    static func digit(_ event: UInt8) -> String? {
        let keys = Array("0123456789*#ABCD")
        return event < 16 ? String(keys[Int(event)]) : nil
    }

    /// The first codec that could not be decoded, on either side.
    var undecodableCodec: String? { tracks.compactMap(\.undecodable).first }
}
