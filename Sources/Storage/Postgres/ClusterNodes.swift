import Foundation
import Logging
import PostgresNIO

/// A node id held by this process: a connection of its own with the id's session advisory lock.
public struct NodeClaim: Sendable {
    public let nodeID: String
    let connection: PostgresConnection

    /// Gives the id up (it is also freed when the process dies and PostgreSQL sees the connection close).
    public func release() async { try? await connection.close() }

    /// The connection is gone (PostgreSQL restarted or unreachable): the id and the leases are no longer held.
    public var isLost: Bool { connection.isClosed }
}

/// A node of the cluster as the others see it.
public struct ClusterNode: Sendable, Equatable {
    public enum Status: String, Sendable { case up, draining, lost }
    public let id, advertisedHTTP, version: String
    public let status: Status
    public let startedAt, lastSeen: Date
    public let activeCalls: Int
}

/// The nodes sharing one PostgreSQL: each holds its `cluster.node_id` for its whole life (a session
/// advisory lock on a connection of its own, so a second process with the same id is refused, and a
/// node killed with -9 frees it when PostgreSQL sees the connection close) and writes a heartbeat row
/// every `heartbeat_seconds`; a node silent for `node_timeout_seconds` is lost.
public struct ClusterNodes: Sendable {
    let db: PostgresDatabase

    public init(database: PostgresDatabase) { db = database }

    /// Another running node holds the id.
    public struct NodeIDHeld: Error, CustomStringConvertible {
        public let nodeID: String
        public var description: String {
            "cluster.node_id: \(nodeID) is held by a running node; each node needs an id of its own"
        }
    }

    /// Takes `nodeID` for this process; the returned claim's connection holds it until closed.
    public func claim(_ nodeID: String, logger: Logger) async throws -> NodeClaim {
        let s = db.settings
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                configuration: .init(
                    host: s.host, port: s.port, username: s.user, password: s.password, database: s.database,
                    tls: .disable), id: 0, logger: logger)
        } catch { throw PostgresDatabase.databaseError(error, sql: nil) }
        do {
            var held = false
            for try await got in try await connection.query(
                "SELECT pg_try_advisory_lock(hashtextextended(\("node\u{1f}" + nodeID), 0)) AS got", logger: logger
            ).decode(Bool.self) { held = got }
            guard held else { throw NodeIDHeld(nodeID: nodeID) }
            return NodeClaim(nodeID: nodeID, connection: connection)
        } catch {
            try? await connection.close()
            throw error is NodeIDHeld ? error : PostgresDatabase.databaseError(error, sql: nil)
        }
    }

    /// This node's heartbeat: its row written with when it was last alive, whether it drains and its calls.
    /// Written on the claim's own connection when given: a pool busy with requests never delays it, so a
    /// missed heartbeat means PostgreSQL, not load.
    public func beat(
        id: String, advertisedHTTP: String, version: String, startedAt: Date, draining: Bool, activeCalls: Int,
        now: Date, on claim: NodeClaim? = nil
    ) async throws {
        let sql = """
            INSERT INTO cluster_nodes (id, advertised_http, started_at, last_seen, version, draining, active_calls)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET advertised_http = excluded.advertised_http,
                started_at = excluded.started_at, last_seen = excluded.last_seen, version = excluded.version,
                draining = excluded.draining, active_calls = excluded.active_calls
            """
        let arguments: [SQLValueConvertible] = [
            id, advertisedHTTP, startedAt.timeIntervalSince1970, now.timeIntervalSince1970, version, draining,
            activeCalls,
        ]
        guard let claim else { return try await db.execute(sql, arguments) }
        let statement = try db.statement(sql, arguments)
        try await db.withDeadline(sql: sql) { [logger = db.logger] in
            do { _ = try await claim.connection.query(statement, logger: logger).collect() } catch {
                throw PostgresDatabase.databaseError(error, sql: sql)
            }
        }
    }

    /// Every node ever seen, by id; lost when silent for `timeout` seconds.
    public func nodes(now: Date, timeout: Double) async throws -> [ClusterNode] {
        try await db.query(
            """
            SELECT id, advertised_http, started_at, last_seen, version, draining, active_calls FROM cluster_nodes
            ORDER BY id
            """
        ).map { r in
            let lastSeen = Date(timeIntervalSince1970: r["last_seen"].double ?? 0)
            let status: ClusterNode.Status =
                now.timeIntervalSince(lastSeen) > timeout ? .lost : (r["draining"].int ?? 0) != 0 ? .draining : .up
            return ClusterNode(
                id: r["id"].string ?? "", advertisedHTTP: r["advertised_http"].string ?? "",
                version: r["version"].string ?? "", status: status,
                startedAt: Date(timeIntervalSince1970: r["started_at"].double ?? 0), lastSeen: lastSeen,
                activeCalls: r["active_calls"].int ?? 0)
        }
    }
}
