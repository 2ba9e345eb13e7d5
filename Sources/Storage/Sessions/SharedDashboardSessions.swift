import CallTrackCore
import Crypto
import Foundation

/// Dashboard sessions in the database, so that a browser signed in through one node is signed in on
/// every node behind the same load balancer. Only a hash of each session id is stored: a copy of the
/// table signs no one in. A session's last use is written at most once a minute, not on every request.
public final class SharedDashboardSessions: DashboardSessionRepository {
    let db: any SQLDatabase
    /// How stale the stored last use may be: the idle limit is hours, a minute changes nothing.
    static let touchSeconds = 60.0

    public init(database: any SQLDatabase) { db = database }

    public func create(now: Double) async throws -> (id: String, session: DashboardSession) {
        let id = DashboardSessionPolicy.randomToken()
        let session = DashboardSession(csrf: DashboardSessionPolicy.randomToken(), created: now, lastUsed: now)
        try await db.write { tx in
            // Sessions past either limit go as new ones come: sign-ins need an admin token, so this bounds the table.
            tx.execute(
                "DELETE FROM dashboard_sessions WHERE last_used < ? OR created < ?",
                [now - DashboardSessionPolicy.idleSeconds, now - DashboardSessionPolicy.maxAgeSeconds])
            tx.execute(
                "INSERT INTO dashboard_sessions (id_hash, csrf, created, last_used) VALUES (?, ?, ?, ?)",
                [Self.hash(id), session.csrf, now, now])
        }
        return (id, session)
    }

    public func session(_ id: String, now: Double) async throws -> DashboardSession? {
        guard
            let row = try await db.query(
                "SELECT csrf, created, last_used FROM dashboard_sessions WHERE id_hash = ?", [Self.hash(id)]
            ).first, let csrf = row["csrf"].string, let created = row["created"].double,
            let lastUsed = row["last_used"].double
        else { return nil }
        var s = DashboardSession(csrf: csrf, created: created, lastUsed: lastUsed)
        guard DashboardSessionPolicy.alive(s, now: now) else {
            try await end(id)
            return nil
        }
        if now - lastUsed >= Self.touchSeconds {
            try await db.execute("UPDATE dashboard_sessions SET last_used = ? WHERE id_hash = ?", [now, Self.hash(id)])
        }
        s.lastUsed = now
        return s
    }

    public func end(_ id: String) async throws {
        try await db.execute("DELETE FROM dashboard_sessions WHERE id_hash = ?", [Self.hash(id)])
    }

    static func hash(_ id: String) -> String { Hex.bytes(SHA256.hash(data: Data(id.utf8))) }
}
