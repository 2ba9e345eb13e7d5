import CallTrackCore
import Foundation
import Storage
import TestSupport
import Testing
import Tracking

/// What the stores do that only their SQL decides, on SQLite and on PostgreSQL alike.
@Suite("Stores on both engines") struct StoresOnBothEnginesTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func start(_ id: CallID, project: String = "shop", at: Date) -> CallEvent {
        .started(
            CallStart(
                id: id, projectKey: project, trunk: "carrier", didDialled: "84990000001", did: "+74990000001",
                caller: "79161234567", callerName: nil, forwardTo: "sip:1@127.0.0.1", sipCallID: "x", startedAt: at))
    }

    @Test(
        "The outbox: written with the call for its project's endpoints, due in order, retried, delivered, paged, pruned",
        arguments: Backend.allCases) func outbox(_ backend: Backend) async throws
    {
        try await backend.withDatabase { db in
            let routes = DeliveryRoutes([
                "shop": [.init(endpoint: "hook", deliveries: [.callStarted: .callStarted, .callEnded: .callEnded])],
                "other": [.init(endpoint: "elsewhere", deliveries: [.callStarted: .callStarted])],
            ])
            let calls = CallRecordStore(database: db, deliveries: routes)
            let outbox = Outbox(database: db)
            let ids = (0..<3).map { _ in CallID.next() }
            try await calls.apply(ids.enumerated().map { Self.start($1, at: Self.t0 + Double($0)) })
            #expect(try await outbox.backlog() == ["hook": 3])
            let due = try await outbox.due(endpoint: "hook", now: Self.t0 + 10, limit: 10)
            #expect(due.map(\.callID) == ids, "oldest first")
            #expect(due.allSatisfy { $0.event == .callStarted && $0.project == "shop" && $0.status == .pending })
            // The first is delivered; the second fails and is retried in a minute; the third fails for good.
            try await outbox.delivered([due[0].id], result: "HTTP 200", at: Self.t0 + 11)
            try await outbox.attemptFailed(
                [FailedAttempt(id: due[1].id, next: Self.t0 + 71, body: Data("{\"a\":1}".utf8))], result: "HTTP 500")
            try await outbox.attemptFailed([FailedAttempt(id: due[2].id, next: nil, body: nil)], result: "HTTP 410")
            #expect(try await outbox.due(endpoint: "hook", now: Self.t0 + 12, limit: 10).isEmpty)
            #expect(try await outbox.nextDue(endpoint: "hook") == Self.t0 + 71)
            let retried = try await outbox.due(endpoint: "hook", now: Self.t0 + 71, limit: 10)
            #expect(retried.map(\.id) == [due[1].id] && retried[0].attempts == 1)
            #expect(retried[0].body == Data("{\"a\":1}".utf8), "the retry sends the same bytes")
            try await outbox.releaseBacklog(endpoints: ["hook"], now: Self.t0 + 20)
            #expect(try await outbox.nextDue(endpoint: "hook") == Self.t0 + 20)
            // The log: newest first, a page continuing where the last stopped, by status.
            let page1 = try await outbox.entries(status: nil, limit: 2, before: nil)
            #expect(page1.map(\.id) == [due[2].id, due[1].id])
            let page2 = try await outbox.entries(status: nil, limit: 2, before: page1.last?.id)
            #expect(page2.map(\.id) == [due[0].id])
            #expect(try await outbox.entries(status: .failed, limit: 10, before: nil).map(\.id) == [due[2].id])
            #expect(try await outbox.entries(status: nil, project: "other", limit: 10, before: nil).isEmpty)
            #expect(try await outbox.retry(due[2].id, now: Self.t0 + 30))
            #expect(!(try await outbox.retry("evt_" + String(repeating: "0", count: 32), now: Self.t0 + 30)))
            #expect(try await outbox.giveUp(endpoint: "hook", createdBefore: Self.t0 + 100, result: "too old") == 2)
            #expect(try await outbox.prune(before: Self.t0 + 100) == 3)
            #expect(try await outbox.backlog().isEmpty)
        }
    }

    @Test(
        "Visits and reservations: kept, read back for a restart, measured for the pool's health, and swept by age",
        arguments: Backend.allCases) func tracking(_ backend: Backend) async throws
    {
        try await backend.withDatabase { db in
            let store = TrackingStore(database: db)
            let number = try #require(PhoneNumber(e164: "+74990000001"))
            // Whole seconds: a time goes through seconds since 1970 and back, which need not give the same Date.
            let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded())
            func visit(_ client: String, at: Date) -> Visit {
                Visit(
                    projectKey: "shop", clientID: client, at: at, page: "https://shop.test/", referrer: nil,
                    source: "google", medium: "cpc", campaign: "tables", keyword: nil, content: nil, gclid: "g1",
                    yclid: nil, region: nil)
            }
            let held = Reservation(
                id: "r1", projectKey: "shop", clientID: "a", number: number, poolName: "main", createdAt: now - 60,
                expiresAt: now + 300, address: "192.0.2.1")
            let gone = Reservation(
                id: "r2", projectKey: "shop", clientID: "b", number: number, poolName: "main", createdAt: now - 900,
                expiresAt: now - 400)
            try await store.apply([
                .visit(visit("a", at: now - 60)), .visit(visit("a", at: now - 30)), .visit(visit("b", at: now - 900)),
                .reserved(gone), .released(reservationID: "r2", number: number, at: now - 500), .reserved(held),
                .exhausted(projectKey: "shop", pool: "main", at: now - 10, count: 2),
                .exhausted(projectKey: "shop", pool: "main", at: now - 10, count: 3),
            ])
            // A renewal moves the expiry of the same reservation.
            let renewed = Reservation(
                id: "r1", projectKey: "shop", clientID: "a", number: number, poolName: "main", createdAt: now - 60,
                expiresAt: now + 360, address: "192.0.2.1")
            try await store.apply([.reserved(renewed)])
            let snapshot = try await store.snapshot(now: now)
            #expect(snapshot.reservations.map(\.id) == ["r1"])
            #expect(snapshot.reservations.first?.expiresAt == now + 360)
            #expect(snapshot.reservations.first?.address == "192.0.2.1")
            #expect(snapshot.visits.map(\.at) == [now - 60, now - 30], "the holder's visits, oldest first")
            #expect(snapshot.releasedAt[number] == now - 500)
            let health = try await store.health(projectKey: "shop", since: now - 3600, now: now, ttlSeconds: 300)
            #expect(health.visits == 3 && health.exhausted == 5 && health.reservations == 2)
            #expect(health.peakConcurrent == 1, "the two reservations never overlapped")
            #expect(try await store.visits(projectKey: "shop", clientID: "a", limit: 1).map(\.at) == [now - 30])
            #expect(try await store.deleteHistory(before: now - 100) == 1)
            #expect(try await store.visits(projectKey: "shop", clientID: "b").isEmpty)
        }
    }

    @Test(
        "PostgreSQL: nodes migrating at once run each step once; a schema newer than the binary is refused, naming both"
    ) func postgresMigrations() async throws {
        try await TestPostgres.shared().withDatabase { db in
            let postgres = try #require(db as? PostgresDatabase)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 { group.addTask { try await postgres.migrate() } }
                try await group.waitForAll()
            }
            let version = try #require(try await db.scalar("SELECT max(version) FROM schema_version")?.int)
            #expect(try await db.scalar("SELECT count(*) FROM schema_version")?.int == 1)
            try await db.execute("UPDATE schema_version SET version = 99")
            let error = await #expect(throws: (any Error).self) { try await postgres.migrate() }
            let message = "\(error.map { "\($0)" } ?? "")"
            #expect(message.contains("version 99") && message.contains("up to \(version)"), "\(message)")
        }
    }
}
