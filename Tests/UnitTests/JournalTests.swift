import CallTrackCore
import Foundation
import Logging
import Storage
import Testing

@Suite("Journal: changes on file before the database has them") struct JournalTests {
    private let logger = Logger(label: "test")

    private func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString)").path
    }

    private func started(_ id: CallID, caller: String = "79161234567") -> CallEvent {
        .started(
            CallStart(
                id: id, projectKey: "shop", trunk: "carrier", didDialled: "84990000001", did: "+74990000001",
                caller: caller, callerName: "=HYPERLINK(\"x\")\n", forwardTo: "sip:1@127.0.0.1",
                sipCallID: "a@127.0.0.1", startedAt: Date(timeIntervalSince1970: 1_800_000_000.125),
                attribution: Attribution(kind: .dynamic, poolName: "main", clientID: "c1", gclid: "g")))
    }

    private func logs(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }.sorted()
    }

    @Test("what the database has not applied is read back in order, exactly as it was written")
    func readsBackWhatIsNotApplied() throws {
        let directory = folder()
        let ids = (0..<5).map { _ in CallID.next() }
        let events =
            ids.map { started($0) } + [.answered(callID: ids[0], at: Date(timeIntervalSince1970: 1_800_000_003))]
        do {
            let journal = try Journal<CallEvent>(directory: directory, applied: 0, logger: logger)
            #expect(journal.nextNumber == 1)
            for (i, e) in events.enumerated() { journal.append(Numbered(number: UInt64(i + 1), value: e)) }
        }
        let reopened = try Journal<CallEvent>(directory: directory, applied: 2, logger: logger)
        #expect(reopened.leftover.entries.map(\.number) == [3, 4, 5, 6])
        #expect(reopened.leftover.entries.map(\.value) == Array(events[2...]))
        #expect(reopened.leftover.unreadable == 0)
        #expect(reopened.nextNumber == 7)
    }

    @Test("files roll over, and a file whose changes are all applied is removed") func rollsAndRemoves() throws {
        let directory = folder()
        let journal = try Journal<CallEvent>(directory: directory, applied: 0, segmentBytes: 600, logger: logger)
        for n in 1...12 { journal.append(Numbered(number: UInt64(n), value: started(CallID.next()))) }
        let before = try logs(directory)
        #expect(before.count >= 3, "\(before)")
        journal.applied(through: 12)
        // Only the file being written stays.
        #expect(try logs(directory) == [before.last!])
        journal.applied(through: 11)
        let reopened = try Journal<CallEvent>(directory: directory, applied: 12, logger: logger)
        #expect(reopened.leftover.entries.isEmpty)
        #expect(try logs(directory).isEmpty)
        #expect(reopened.nextNumber == 13)
    }

    @Test("a torn line (a power loss mid-write) is skipped and counted; the rest is read") func tornLine() throws {
        let directory = folder()
        do {
            let journal = try Journal<CallEvent>(directory: directory, applied: 0, logger: logger)
            journal.append(Numbered(number: 1, value: started(CallID.next())))
        }
        let file = try #require(try logs(directory).first)
        let handle = try #require(FileHandle(forWritingAtPath: directory + "/" + file))
        handle.seekToEndOfFile()
        handle.write(Data("{\"number\":2,\"value\":{\"sta".utf8))
        try handle.close()
        let reopened = try Journal<CallEvent>(directory: directory, applied: 0, logger: logger)
        #expect(reopened.leftover.entries.map(\.number) == [1])
        #expect(reopened.leftover.unreadable == 1)
    }

    @Test("a file that cannot be opened is tried again with the next change") func retriesOpening() throws {
        let directory = folder()
        let journal = try Journal<CallEvent>(directory: directory, applied: 0, logger: logger)
        try FileManager.default.removeItem(atPath: directory)
        journal.append(Numbered(number: 1, value: started(CallID.next())))  // no folder: not written
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        journal.append(Numbered(number: 2, value: started(CallID.next())))
        let reopened = try Journal<CallEvent>(directory: directory, applied: 0, logger: logger)
        #expect(reopened.leftover.entries.map(\.number) == [2])
    }

    @Test("the database notes the last change of each batch in the batch's own transaction")
    func databaseKeepsItsPlace() async throws {
        let path = folder() + "/calls.sqlite"
        let store = try CallRecordStore(database: SQLiteDatabase(path: path))
        #expect(try await store.appliedEventNumber() == 0)
        let id = CallID.next()
        try await store.apply([
            Numbered(number: 41, value: started(id)), Numbered(number: 42, value: .ringing(callID: id, at: Date())),
        ])
        #expect(try await store.appliedEventNumber() == 42)
        #expect(try await store.call(id: id)?.start.callerName == "=HYPERLINK(\"x\")\n")
    }
}
