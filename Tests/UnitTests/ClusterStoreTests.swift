import Foundation
import Logging
import Storage
import TestSupport
import Testing

/// What the nodes of a cluster share besides calls and numbers, on a real PostgreSQL.
@Suite("Cluster state (PostgreSQL)") struct ClusterStoreTests {
    private func withPostgres(_ body: (PostgresDatabase) async throws -> Void) async throws {
        try await TestPostgres.shared().withDatabase { db in try await body(try #require(db as? PostgresDatabase)) }
    }

    @Test(
        "A node id is held for the node's life: a second claim is refused naming the key; freed when its connection goes"
    ) func nodeIDClaim() async throws {
        try await withPostgres { db in
            let nodes = ClusterNodes(database: db), logger = Logger(label: "test")
            let first = try await nodes.claim("node-a", logger: logger)
            await #expect(throws: ClusterNodes.NodeIDHeld.self) { try await nodes.claim("node-a", logger: logger) }
            do { _ = try await nodes.claim("node-a", logger: logger) } catch {
                #expect("\(error)".contains("cluster.node_id: node-a"))
            }
            let other = try await nodes.claim("node-b", logger: logger)
            // The holder's connection closing (as when the process is killed) frees the id.
            await first.release()
            let again = try await nodes.claim("node-a", logger: logger)
            await again.release()
            await other.release()
        }
    }

    @Test("Heartbeats: a node is up, draining while it says so, lost once silent past the timeout") func heartbeats()
        async throws
    {
        try await withPostgres { db in
            let nodes = ClusterNodes(database: db)
            let t0 = Date(timeIntervalSince1970: 1_800_000_000)
            for (id, draining) in [("node-a", false), ("node-b", true)] {
                try await nodes.beat(
                    id: id, advertisedHTTP: "http://127.0.0.1:80\(id.suffix(1) == "a" ? "81" : "82")", version: "1.0",
                    startedAt: t0 - 60, draining: draining, activeCalls: 3, now: t0)
            }
            let seen = try await nodes.nodes(now: t0 + 5, timeout: 10)
            #expect(seen.map(\.id) == ["node-a", "node-b"])
            #expect(seen.map(\.status) == [.up, .draining])
            #expect(seen[0].advertisedHTTP == "http://127.0.0.1:8081" && seen[0].activeCalls == 3)
            try await nodes.beat(
                id: "node-a", advertisedHTTP: "http://127.0.0.1:8081", version: "1.0", startedAt: t0 - 60,
                draining: false, activeCalls: 0, now: t0 + 12)
            let later = try await nodes.nodes(now: t0 + 15, timeout: 10)
            #expect(later.map(\.status) == [.up, .lost])
        }
    }

    @Test(
        "Dashboard sessions work on any node: made through one, honoured and ended through another; ids stored hashed")
    func sharedSessions() async throws {
        try await withPostgres { db in
            let a = SharedDashboardSessions(database: db), b = SharedDashboardSessions(database: db)
            let now = 1_800_000_000.0
            let (id, made) = try await a.create(now: now)
            #expect(try await b.session(id, now: now + 10)?.csrf == made.csrf)
            #expect(try await db.scalar("SELECT count(*) FROM dashboard_sessions WHERE id_hash = ?", [id])?.int == 0)
            #expect(try await b.session("not-a-session", now: now) == nil)
            // Idle past the limit: gone.
            let idle = now + 10 + DashboardSessionPolicy.idleSeconds + 1
            #expect(try await a.session(id, now: idle) == nil)
            let (second, _) = try await a.create(now: idle)
            #expect(try await b.session(second, now: idle + 1) != nil)
            try await b.end(second)
            #expect(try await a.session(second, now: idle + 2) == nil)
        }
    }
}
