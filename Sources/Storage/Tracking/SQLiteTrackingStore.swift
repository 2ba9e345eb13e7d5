import CallTrackCore
import Foundation
import Tracking

/// Visits, reservations and number releases in SQLite, so a restart keeps them.
public final class SQLiteTrackingStore: Sendable {
    let db: Database

    public init(database: Database) throws {
        db = database
        try Migrations.migrate(db)
    }

    public func apply(_ changes: [TrackingChange]) throws {
        try db.inTransaction { tx in
            for change in changes {
                switch change {
                case .visit(let v):
                    tx.execute("""
                        INSERT INTO visits (project, client_id, at, page, referrer, source, medium, campaign, keyword, content,
                            gclid, yclid, region) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, [v.projectKey, v.clientID, v.at.timeIntervalSince1970, v.page, v.referrer, v.source, v.medium,
                              v.campaign, v.keyword, v.content, v.gclid, v.yclid, v.region])
                case .reserved(let r):
                    tx.execute("""
                        INSERT INTO reservations (id, project, client_id, number, pool, created_at, expires_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT(id) DO UPDATE SET expires_at = excluded.expires_at
                        """, [r.id, r.projectKey, r.clientID, r.number.e164, r.poolName, r.createdAt.timeIntervalSince1970,
                              r.expiresAt.timeIntervalSince1970])
                case .released(let id, let number, let at):
                    tx.execute("UPDATE reservations SET released_at = ? WHERE id = ? AND released_at IS NULL",
                               [at.timeIntervalSince1970, id])
                    tx.execute("INSERT INTO number_releases (number, released_at) VALUES (?, ?) ON CONFLICT(number) DO UPDATE SET released_at = excluded.released_at",
                               [number.e164, at.timeIntervalSince1970])
                }
            }
        }
    }

    /// What the number pools need back after a restart: live reservations (and those a late
    /// caller may still use), the visit histories of the last `visitDays`, and release times.
    public func snapshot(now: Date = Date(), graceSeconds: Double = 1800, visitDays: Double = 90) throws -> TrackingSnapshot {
        let reservations = try db.query("""
            SELECT id, project, client_id, number, pool, created_at, expires_at FROM reservations
            WHERE released_at IS NULL AND expires_at > ?
            """, [now.timeIntervalSince1970 - graceSeconds]).compactMap { row -> Reservation? in
            guard let number = row[3].string.flatMap(PhoneNumber.init(e164:)) else { return nil }
            return Reservation(id: row[0].string ?? "", projectKey: row[1].string ?? "", clientID: row[2].string ?? "",
                               number: number, poolName: row[4].string ?? "",
                               createdAt: Date(timeIntervalSince1970: row[5].double ?? 0),
                               expiresAt: Date(timeIntervalSince1970: row[6].double ?? 0))
        }
        let visits = try db.query("""
            SELECT project, client_id, at, page, referrer, source, medium, campaign, keyword, content, gclid, yclid, region
            FROM visits WHERE at > ? ORDER BY at
            """, [now.timeIntervalSince1970 - visitDays * 86400]).map { r in
            Visit(projectKey: r[0].string ?? "", clientID: r[1].string ?? "", at: Date(timeIntervalSince1970: r[2].double ?? 0),
                  page: r[3].string ?? "", referrer: r[4].string, source: r[5].string ?? "", medium: r[6].string ?? "",
                  campaign: r[7].string, keyword: r[8].string, content: r[9].string, gclid: r[10].string, yclid: r[11].string,
                  region: r[12].string)
        }
        var releasedAt: [PhoneNumber: Date] = [:]
        for row in try db.query("SELECT number, released_at FROM number_releases") {
            if let n = row[0].string.flatMap(PhoneNumber.init(e164:)), let t = row[1].double {
                releasedAt[n] = Date(timeIntervalSince1970: t)
            }
        }
        return TrackingSnapshot(reservations: reservations, visits: visits, releasedAt: releasedAt)
    }
}
