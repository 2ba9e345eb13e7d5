import CallTrackCore
import Foundation
import Logging
import Storage
import TestSupport
import Testing

/// PostgreSQL going away and coming back, on a server of the test's own.
@Suite("PostgreSQL outages") struct PostgresOutageTests {
    @Test("A query while the server is down fails within its time limit, as unavailable; it works again once back")
    func queryDuringOutage() async throws {
        let server = try TestPostgres()
        defer { try? server.stop() }
        try await server.withDatabase(statementTimeoutMilliseconds: 2000) { db in
            try await db.execute("SELECT 1")
            try server.stop()
            let start = ContinuousClock.now
            do {
                try await db.execute("SELECT 1")
                Issue.record("a query succeeded with the server down")
            } catch let error as DatabaseError { #expect(error.kind == .unavailable, "\(error)") }
            let took = ContinuousClock.now - start
            #expect(took < .seconds(3), "failed after \(took)")
            try server.start()
            let restarted = ContinuousClock.now
            var back = false
            while !back && ContinuousClock.now - restarted < .seconds(30) {
                back = (try? await db.execute("SELECT 1")) != nil
                if !back { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(back)
        }
    }

    @Test("Call events written while PostgreSQL is down are held by the batch writer and all written once it returns")
    func eventsHeldThroughOutage() async throws {
        let server = try TestPostgres()
        defer { try? server.stop() }
        try await server.withDatabase(statementTimeoutMilliseconds: 2000) { db in
            let store = CallRecordStore(database: db)
            let (events, input) = AsyncStream<CallEvent>.makeStream()
            let writer = BatchWriter(
                name: "call records", changes: events, finishOnShutdown: {}, holdSeconds: 60,
                logger: Logger(label: "test.writer")
            ) { batch in try await store.apply(batch) }
            let t0 = Date(timeIntervalSince1970: 1_800_000_000)
            func start(_ id: CallID, _ i: Int) -> CallEvent {
                .started(
                    CallStart(
                        id: id, projectKey: "shop", trunk: "carrier", didDialled: "84990000001", did: "+74990000001",
                        caller: "7916123\(String(format: "%04d", i))", callerName: nil, forwardTo: "sip:1@127.0.0.1",
                        sipCallID: "c\(i)", startedAt: t0 + Double(i)))
            }
            let ids = (0..<100).map { _ in CallID.next() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await writer.run() }
                for i in 0..<50 { input.yield(start(ids[i], i)) }
                try await Task.sleep(for: .milliseconds(300))
                try server.stop()
                for i in 50..<100 { input.yield(start(ids[i], i)) }
                try await Task.sleep(for: .seconds(2))
                try server.start()
                input.finish()
                try await group.waitForAll()
            }
            let stored = try await db.scalar("SELECT count(*) FROM calls")?.int
            #expect(stored == 100)
            #expect(try await store.call(id: ids[99])?.start.caller == "79161230099")
        }
    }

    @Test("A node starting before its database waits for it, then gives up naming the host and port")
    func unreachableAtStart() async throws {
        let server = try TestPostgres()
        defer { try? server.stop() }
        try server.stop()
        let db = PostgresDatabase(
            settings: PostgresSettings(
                host: "127.0.0.1", port: server.port, user: "calltrack", database: "postgres",
                statementTimeoutMilliseconds: 500), logger: Logger(label: "test.postgres"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await db.run() }
            defer { group.cancelAll() }
            let start = ContinuousClock.now
            do {
                try await db.waitUntilReachable(seconds: 2)
                Issue.record("reached a stopped server")
            } catch { #expect("\(error)".contains("127.0.0.1:\(server.port) unreachable for 2 s"), "\(error)") }
            #expect(ContinuousClock.now - start < .seconds(4))
            // Started while a node waits: the node goes on.
            async let waited: Void = db.waitUntilReachable(seconds: 20)
            try await Task.sleep(for: .seconds(1))
            try server.start()
            try await waited
        }
    }
}
