import CallTrackCore
import Foundation
import Storage
import TestSupport
import Testing

@Suite("Call record storage") struct StorageTests {
    private func store() throws -> (CallRecordStore, String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "store-\(UUID().uuidString)/calls.sqlite"
        ).path
        return (try CallRecordStore(database: SQLiteDatabase(path: path)), path)
    }

    /// Runs `body` with a call store on a new database of `backend`.
    private func withStore(_ backend: Backend, _ body: (CallRecordStore, any SQLDatabase) async throws -> Void)
        async throws
    { try await backend.withDatabase { db in try await body(CallRecordStore(database: db), db) } }

    private func start(_ id: CallID, at: Date) -> CallEvent {
        .started(
            CallStart(
                id: id, projectKey: "shop", trunk: "carrier", didDialled: "84990000001", did: "+74990000001",
                caller: "79161234567", callerName: nil, forwardTo: "sip:1@h", sipCallID: "x", startedAt: at))
    }

    @Test(arguments: Backend.allCases) func eventsBuildTheRecord(_ backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let id = CallID.next()
            let t0 = Date(timeIntervalSince1970: 1_800_000_000)
            try await store.apply([
                start(id, at: t0), .ringing(callID: id, at: t0 + 1), .answered(callID: id, at: t0 + 3),
                .ended(
                    CallEnd(
                        id: id, endedAt: t0 + 63, status: .answered, missedReason: nil, sipCode: 200, hangupBy: .callee,
                        endReason: .calleeBye, callerToCallee: .init(packets: 3000, bytes: 516000),
                        calleeToCaller: .init(packets: 2990, bytes: 514280))),
            ])
            let r = try await #require(try store.call(id: id))
            #expect(r.status == .answered)
            #expect(r.ringSeconds == 3)
            #expect(r.talkSeconds == 60)
            #expect(r.hangupBy == .callee)
            #expect(r.callerToCallee.packets == 3000)
            #expect(!r.interrupted)
        }
    }

    @Test(arguments: Backend.allCases) func openCallsAreMarkedInterruptedOnStart(_ backend: Backend) async throws {
        try await withStore(backend) { store, db in
            let answered = CallID.next(), ringing = CallID.next()
            let t0 = Date()
            try await store.apply([
                start(answered, at: t0), .answered(callID: answered, at: t0 + 1), start(ringing, at: t0),
            ])
            let reopened = CallRecordStore(database: db)
            #expect(try await reopened.finaliseInterruptedCalls() == 2)
            let a = try await #require(try reopened.call(id: answered))
            #expect(a.status == .answered && a.interrupted && a.endReason == "interrupted")
            let r = try await #require(try reopened.call(id: ringing))
            #expect(r.status == .missed && r.missedReason == .failed && r.interrupted)
            #expect(try await reopened.finaliseInterruptedCalls() == 0)
        }
    }

    @Test(
        "interrupted calls end when the process was last alive, never before what is known of them",
        arguments: Backend.allCases) func interruptedCallsEndWhenLastAlive(_ backend: Backend) async throws
    {
        try await withStore(backend) { store, db in
            let early = CallID.next(), late = CallID.next()
            let t0 = Date(timeIntervalSince1970: 1_700_000_000)
            try await store.apply([
                start(early, at: t0), .answered(callID: early, at: t0 + 2), start(late, at: t0 + 5),
                .ringing(callID: late, at: t0 + 9),
            ])
            let reopened = CallRecordStore(database: db)
            // Last alive 8 s in: the first call ends then; the second had rung after it, so it ends at its ring.
            #expect(try await reopened.finaliseInterruptedCalls(lastAlive: t0 + 8) == 2)
            #expect(try await reopened.call(id: early)?.endedAt == t0 + 8)
            #expect(try await reopened.call(id: late)?.endedAt == t0 + 9)
        }
    }

    @Test(
        "HTTP reads go through a read-only connection of their own: they see what the writer committed, and cannot write"
    ) func readOnlyConnection() async throws {
        let (_, path) = try store()
        let writer = try SQLiteDatabase(path: path)
        let reads = try SQLiteDatabase(path: path, readOnly: true)
        let store = CallRecordStore(database: writer, reads: reads)
        let id = CallID.next()
        try await store.apply([start(id, at: Date())])
        #expect(try await store.call(id: id)?.start.caller == "79161234567")
        // The writer holds its write lock while the reader reads: WAL lets both go on.
        try writer.executeScript("BEGIN IMMEDIATE; UPDATE calls SET caller = 'changed' WHERE id = '\(id.rawValue)'")
        #expect(
            (try? await reads.scalar("SELECT caller FROM calls WHERE id = ?", [id.rawValue]))?.string == "79161234567")
        try writer.executeScript("COMMIT")
        #expect(try await store.call(id: id)?.start.caller == "changed")
        #expect(throws: DatabaseError.self) { try reads.execute("DELETE FROM calls") }
        do { try await reads.execute("DELETE FROM calls") } catch let error as DatabaseError {
            #expect(error.kind == .readOnly)
        }
    }

    @Test(
        "Calls stored before leads existed become leads at the next start, the oldest call first",
        arguments: Backend.allCases) func leadsBackfill(_ backend: Backend) async throws
    {
        try await withStore(backend) { store, db in
            let older = CallID.next(), newer = CallID.next(), anonymous = CallID.next()
            let t0 = Date(timeIntervalSince1970: 1_800_000_000)
            try await store.apply([start(older, at: t0), start(newer, at: t0 + 60)])
            var hidden = start(anonymous, at: t0 + 120)
            if case .started(var s) = hidden {
                s.caller = "anonymous"
                hidden = .started(s)
            }
            try await store.apply([hidden])
            // As an older CallTrack left them: no caller numbers, no leads.
            try await db.execute("UPDATE calls SET caller_e164 = NULL, first_time = 0")
            try await db.execute("DELETE FROM leads")
            #expect(try await store.backfillLeads() == 3)
            #expect(try await store.call(id: older)?.firstTime == true)
            #expect(try await store.call(id: newer)?.firstTime == false)
            #expect(try await store.call(id: anonymous)?.firstTime == false)
            #expect(try await store.backfillLeads() == 0, "runs once")
        }
    }

    @Test(arguments: Backend.allCases) func pagingNewestFirst(_ backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let ids = (0..<5).map { _ in CallID.next() }
            try await store.apply(ids.map { start($0, at: Date()) })
            let first = try await store.calls(limit: 2, before: nil)
            #expect(first.map(\.id) == [ids[4], ids[3]])
            let next = try await store.calls(limit: 2, before: first.last?.id)
            #expect(next.map(\.id) == [ids[2], ids[1]])
            #expect(try await store.calls(limit: 10, before: nil, filter: CallFilter(project: "other")).isEmpty)
        }
    }
}
