import CallTrackCore
import Foundation
import Logging

/// Writes every recorded call's WAV file on its own serial queue.
///
/// Telephony hands packets over in batches and never waits: no disk I/O and no lock held
/// across I/O happen on libre's thread. Problems (disk full, read-only folder) leave the call
/// connected, are stored with the call, and are logged once per kind, not per packet or call.
public final class Recorder: CallRecorder, @unchecked Sendable {
    /// Packets that arrive later than this after their time are too late to be placed.
    static let jitterMilliseconds = 300

    public let root: String
    private let events: CallEventBus
    private let logger: Logger
    private let queue = DispatchQueue(label: "calltrack.recorder", qos: .utility)
    // Touched only on `queue`:
    private var writers: [CallID: CallRecordingWriter] = [:]
    private var reportedProblems: Set<String> = []

    public init(root: String, events: CallEventBus, logger: Logger) {
        self.root = root
        self.events = events
        self.logger = logger
    }

    public func begin(callID: CallID, answeredAt: Date, caller: PayloadTypes, callee: PayloadTypes) {
        queue.async { [self] in
            let negotiated = PayloadTypes.negotiated(caller: caller, callee: callee)
            let rate = negotiated?.sampleRate ?? 8000
            if let codec = negotiated, codec.makeDecoder() == nil {
                fail(callID, reason: "codec \(codec.name) cannot be decoded; the call was not recorded", kind: nil)
                return
            }
            let relative = Self.relativePath(for: callID, at: answeredAt)
            do {
                let file = try WAVFile(path: root + "/" + relative, sampleRate: rate)
                writers[callID] = CallRecordingWriter(
                    callID: callID, file: file, relativePath: relative, caller: caller, callee: callee)
                publish(
                    RecordingSummary(
                        callID: callID, status: .recording, path: relative, bytes: 0, seconds: 0, sampleRate: rate,
                        reason: nil))
            } catch let problem as RecordingProblem {
                fail(callID, reason: problem.description, kind: problem.kind)
            } catch { fail(callID, reason: "\(error)", kind: "io_error") }
        }
    }

    public func disabled(callID: CallID) {
        publish(
            RecordingSummary(
                callID: callID, status: .disabled, path: nil, bytes: 0, seconds: 0, sampleRate: 0,
                reason: "record: false for this project"))
    }

    /// Places the packets and writes what is older than the jitter window.
    public func ingest(callID: CallID, packets: [TappedPacket], nowMilliseconds: Int) {
        queue.async { [self] in
            guard let writer = writers[callID] else { return }
            for p in packets {
                if let digit = writer.ingest(side: p.side, bytes: p.bytes, arrivalMilliseconds: p.arrivalMilliseconds) {
                    events.publish(.dtmf(digit))
                }
            }
            let horizon = max(0, nowMilliseconds - Self.jitterMilliseconds) * writer.rate / 1000
            do { try writer.commit(upTo: horizon) } catch { abandon(writer, error) }
        }
    }

    /// Finishes the recording: exactly `talkMilliseconds` long, header final.
    public func end(callID: CallID, talkMilliseconds: Int) {
        queue.async { [self] in
            guard let writer = writers.removeValue(forKey: callID) else { return }
            do { try writer.commit(upTo: talkMilliseconds * writer.rate / 1000) } catch {
                abandon(writer, error)
                return
            }
            let file = writer.file
            // A file of pure silence is not a recording: say why there is no audio instead.
            guard writer.audioPackets > 0 else {
                try? FileManager.default.removeItem(atPath: root + "/" + writer.relativePath)
                let why =
                    writer.undecodableCodec.map { "codec \($0) cannot be decoded" }
                    ?? "no audio packets reached CallTrack"
                publish(
                    RecordingSummary(
                        callID: callID, status: .failed, path: nil, bytes: 0, seconds: 0, sampleRate: 0,
                        reason: "\(why); the call was not recorded"))
                return
            }
            publish(
                RecordingSummary(
                    callID: callID, status: .recorded, path: writer.relativePath, bytes: file.fileBytes,
                    seconds: file.durationSeconds, sampleRate: file.sampleRate,
                    reason: writer.undecodableCodec.map {
                        "some packets used \($0), which cannot be decoded: silence there"
                    }))
        }
    }

    /// Returns once every job handed over so far is done (used at shutdown).
    public func waitUntilIdle() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in queue.async { c.resume() } }
    }

    private func abandon(_ writer: CallRecordingWriter, _ error: Error) {
        writers.removeValue(forKey: writer.callID)
        let problem = error as? RecordingProblem
        // What was written before the failure stays playable: the header covers it.
        publish(
            RecordingSummary(
                callID: writer.callID, status: .failed, path: writer.file.dataBytes > 0 ? writer.relativePath : nil,
                bytes: writer.file.fileBytes, seconds: writer.file.durationSeconds, sampleRate: writer.file.sampleRate,
                reason: "recording stopped: \(problem?.description ?? "\(error)")"))
        report(kind: problem?.kind ?? "io_error", "recording stopped", problem?.description ?? "\(error)")
    }

    private func fail(_ callID: CallID, reason: String, kind: String?) {
        publish(
            RecordingSummary(
                callID: callID, status: .failed, path: nil, bytes: 0, seconds: 0, sampleRate: 0, reason: reason))
        if let kind { report(kind: kind, "cannot record calls", reason) }
    }

    /// Announces a recording's state; a finished file or a failure is also counted for the operators.
    private func publish(_ summary: RecordingSummary) {
        switch summary.status {
        case .recorded: Telemetry.recordingWritten(bytes: summary.bytes)
        case .failed: Telemetry.recordingFailed()
        default: break
        }
        events.publish(.recording(summary))
    }

    /// Logs a storage problem the first time it happens; later calls only store it with the call.
    private func report(kind: String, _ message: Logger.Message, _ detail: String) {
        guard reportedProblems.insert(kind).inserted else { return }
        logger.error(
            message,
            metadata: [
                "problem": "\(detail)", "folder": "\(root)",
                "note": "further calls with this problem are marked but not logged",
            ])
    }

    /// `YYYY/MM/DD/<call id>.wav` under the recordings folder, by the answer's UTC date.
    static func relativePath(for callID: CallID, at date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d/%02d/%02d/%@.wav", c.year ?? 1970, c.month ?? 1, c.day ?? 1, callID.rawValue)
    }

    /// Repairs the WAV left by a crash; returns its size and duration, or nil if there is no usable file.
    public func repairInterrupted(relativePath: String) -> (bytes: Int, seconds: Double, sampleRate: Int)? {
        guard let fixed = WAVFile.repair(path: root + "/" + relativePath) else { return nil }
        return (
            WAVFile.headerSize + fixed.dataBytes, Double(fixed.dataBytes) / Double(max(1, fixed.sampleRate) * 4),
            fixed.sampleRate
        )
    }
}
