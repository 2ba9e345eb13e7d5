import CallTrackCore
import Foundation
import Logging
import Recording
import Storage
import Testing

@Suite("Recording retention") struct RetentionTests {
    @Test("Recordings of calls that ended before the retention period are deleted and marked; newer ones stay")
    func sweep() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("retention-\(UUID().uuidString)")
        let store = try CallRecordStore(database: SQLiteDatabase(path: dir.appendingPathComponent("db.sqlite").path))
        let root = dir.appendingPathComponent("recordings").path
        let now = Date()
        var ids: [CallID] = []
        for age in [40.0, 10.0] {
            let id = CallID.next()
            ids.append(id)
            let ended = now.addingTimeInterval(-age * 86400)
            let relative = "old/\(id.rawValue).wav"
            try FileManager.default.createDirectory(atPath: root + "/old", withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: root + "/" + relative, contents: Data(count: 100))
            try await store.apply([
                .started(
                    CallStart(
                        id: id, projectKey: "p", trunk: "t", didDialled: "1", did: "+1", caller: "2", callerName: nil,
                        forwardTo: "sip:x@y", sipCallID: "c", startedAt: ended - 60)),
                .answered(callID: id, at: ended - 50),
                .recording(
                    RecordingSummary(
                        callID: id, status: .recorded, path: relative, bytes: 100, seconds: 50, sampleRate: 8000,
                        reason: nil)),
                .ended(
                    CallEnd(
                        id: id, endedAt: ended, status: .answered, missedReason: nil, sipCode: 200, hangupBy: .caller,
                        endReason: .callerBye, callerToCallee: .init(), calleeToCaller: .init())),
            ])
        }
        let retention = RecordingRetention(
            index: store, root: root, days: 30, intervalSeconds: 3600, logger: Logger(label: "test"))
        #expect(try await retention.sweep(now: now) == 1)
        let old = try await #require(try store.call(id: ids[0]))
        #expect(old.recording?.status == .deleted)
        #expect(old.recording?.path == nil)
        #expect(!FileManager.default.fileExists(atPath: root + "/old/\(ids[0].rawValue).wav"))
        let recent = try await #require(try store.call(id: ids[1]))
        #expect(recent.recording?.status == .recorded)
        #expect(FileManager.default.fileExists(atPath: root + "/old/\(ids[1].rawValue).wav"))
        #expect(try await retention.sweep(now: now) == 0)
    }
}
