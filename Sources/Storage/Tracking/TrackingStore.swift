import CallTrackCore
import Foundation
import Tracking

/// Visits, reservations and number releases in the database, so a restart keeps them.
public final class TrackingStore: TrackingRepository {
    let db: any SQLDatabase
    /// Where the HTTP API's reads go: a read-only connection of their own, so that they never
    /// queue behind the batch writer (the same connection when none is given).
    let reader: any SQLDatabase
    /// This node's id among several (`cluster.node_id`): each node's journal has its own position.
    let node: String?

    public init(database: any SQLDatabase, reads: (any SQLDatabase)? = nil, node: String? = nil) {
        self.node = node
        db = database
        reader = reads ?? database
    }

    public func apply(_ changes: [TrackingChange]) async throws { try await db.write { tx in add(changes, to: tx) } }

    /// Applies a batch of the tracking bus's changes and notes the number of its last in the same
    /// transaction, so that the journal knows exactly which of its changes the database holds.
    public func apply(_ changes: [Numbered<TrackingChange>]) async throws {
        try await JournalPosition.write(changes, journal: journal, to: db) { add($0, to: $1) }
    }

    /// The journal's name in `journals`, and the number of the last of its changes the database holds.
    var journal: String { node.map { "tracking@\($0)" } ?? "tracking" }
    public func appliedChangeNumber() async throws -> UInt64 { try await JournalPosition.load(db, journal: journal) }

    private func add(_ changes: [TrackingChange], to tx: WriteBatch) {
        // An exhausted pool hands out the static number on every request: count those per minute, not per row.
        var exhaustions: [String: (table: String, project: String, pool: String, minute: Double, count: Int)] = [:]
        for change in changes {
            let shortfall: (table: String, project: String, pool: String, at: Date, count: Int)? =
                switch change {
                case .exhausted(let project, let pool, let at, let count):
                    ("pool_exhaustions", project, pool, at, count)
                case .addressLimited(let project, let pool, let at, let count):
                    ("address_limited", project, pool, at, count)
                default: nil
                }
            if let e = shortfall {
                let minute = (e.at.timeIntervalSince1970 / 60).rounded(.down) * 60
                exhaustions[
                    "\(e.table)\u{1f}\(e.project)\u{1f}\(e.pool)\u{1f}\(minute)",
                    default: (e.table, e.project, e.pool, minute, 0)
                ].count += e.count
                continue
            }
            switch change {
            case .visit(let v): tx.execute(Self.insertVisitSQL, Self.arguments(of: v))
            case .reserved(let r): tx.execute(Self.insertReservationSQL, Self.arguments(of: r))
            case .exhausted, .addressLimited: break
            case .released(let id, let number, let at):
                tx.execute(
                    "UPDATE reservations SET released_at = ? WHERE id = ? AND released_at IS NULL",
                    [at.timeIntervalSince1970, id])
                tx.execute(
                    """
                    INSERT INTO number_releases (number, released_at) VALUES (?, ?)
                    ON CONFLICT(number) DO UPDATE SET released_at = excluded.released_at
                    """, [number.e164, at.timeIntervalSince1970])
            }
        }
        for e in exhaustions.values {
            tx.execute(
                """
                INSERT INTO \(e.table) (project, pool, at, count) VALUES (?, ?, ?, ?)
                ON CONFLICT(project, pool, at) DO UPDATE SET count = \(e.table).count + excluded.count
                """, [e.project, e.pool, e.minute, e.count])
        }
    }

    /// A project's pool health over the period since `since` (see `PoolHealth`).
    public func health(projectKey: String, since: Date, now: Date = Date(), ttlSeconds: Double) async throws
        -> PoolHealth
    {
        let t0 = since.timeIntervalSince1970
        let calls = try await reader.query(
            """
            SELECT count(*) AS calls,
                coalesce(sum(CASE WHEN number_kind = 'static' THEN 1 ELSE 0 END), 0) AS static_calls FROM calls
            WHERE project = ? AND started_at >= ?
            """, [projectKey, t0]
        ).first
        let visits =
            try await reader.scalar("SELECT count(*) FROM visits WHERE project = ? AND at >= ?", [projectKey, t0])?.int
            ?? 0
        let exhausted =
            try await reader.scalar(
                "SELECT coalesce(sum(count), 0) FROM pool_exhaustions WHERE project = ? AND at >= ?",
                [projectKey, (t0 / 60).rounded(.down) * 60])?.int ?? 0
        let addressLimited =
            try await reader.scalar(
                "SELECT coalesce(sum(count), 0) FROM address_limited WHERE project = ? AND at >= ?",
                [projectKey, (t0 / 60).rounded(.down) * 60])?.int ?? 0
        // Each reservation holds its number from creation until released or expired: the peak overlap is
        // the most numbers the pool needed at once.
        let heldUntil = reader.dialect.least("expires_at", "coalesce(released_at, expires_at)")
        let intervals = try await reader.query(
            """
            SELECT created_at, \(heldUntil) AS held_until, expires_at FROM reservations
            WHERE project = ? AND expires_at >= ?
            """, [projectKey, t0])
        var edges: [(Double, Int)] = []
        var heldSeconds = 0.0
        for row in intervals {
            guard let start = row["created_at"].double, let end = row["held_until"].double,
                let expires = row["expires_at"].double
            else { continue }
            edges.append((start, 1))
            edges.append((max(start, end), -1))
            // The last heartbeat was at expires - ttl: the visit lasted from creation until then.
            heldSeconds += max(0, expires - ttlSeconds - start)
        }
        edges.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        var live = 0, peak = 0
        for (_, delta) in edges {
            live += delta
            peak = max(peak, live)
        }
        return PoolHealth(
            calls: calls?["calls"].int ?? 0, staticCalls: calls?["static_calls"].int ?? 0, visits: visits,
            exhausted: exhausted, addressLimited: addressLimited, peakConcurrent: peak, reservations: intervals.count,
            averageVisitSeconds: intervals.isEmpty ? nil : heldSeconds / Double(intervals.count),
            days: max(1, now.timeIntervalSince(since) / 86400))
    }

    /// What the pool planner replays: every visitor of the project since `since` (reservations as
    /// they were held; visitors who got the static number, counted per minute, with the average
    /// measured visit length), and how long after their visitor's last heartbeat attributed calls came.
    public func plannerInput(projectKey: String, since: Date, ttlSeconds: Double) async throws -> (
        visits: [PoolPlanner.Visit], callDelays: [Double]
    ) {
        let t0 = since.timeIntervalSince1970
        var visits = try await reader.query(
            """
            SELECT created_at, expires_at, released_at FROM reservations WHERE project = ? AND created_at >= ?
            """, [projectKey, t0]
        ).compactMap { r -> PoolPlanner.Visit? in
            guard let created = r["created_at"].double, let expires = r["expires_at"].double else { return nil }
            return PoolPlanner.Visit(
                arrival: Date(timeIntervalSince1970: created),
                lastSeen: Date(timeIntervalSince1970: expires - ttlSeconds),
                released: r["released_at"].double.map(Date.init(timeIntervalSince1970:)))
        }
        let average =
            visits.isEmpty
            ? 0 : visits.reduce(0) { $0 + $1.lastSeen.timeIntervalSince($1.arrival) } / Double(visits.count)
        for r in try await reader.query(
            "SELECT at, count FROM pool_exhaustions WHERE project = ? AND at >= ?",
            [projectKey, (t0 / 60).rounded(.down) * 60])
        {
            guard let at = r["at"].double else { continue }
            for i in 0..<(r["count"].int ?? 0) {
                let arrival = Date(timeIntervalSince1970: at + Double(i) * 60 / Double(max(1, r["count"].int ?? 1)))
                visits.append(PoolPlanner.Visit(arrival: arrival, lastSeen: arrival.addingTimeInterval(average)))
            }
        }
        let delays = try await reader.query(
            """
            SELECT c.started_at - (r.expires_at - ?) AS delay FROM calls c JOIN reservations r ON r.id =
                c.reservation_id
            WHERE c.project = ? AND c.started_at >= ?
            """, [ttlSeconds, projectKey, t0]
        ).compactMap { $0["delay"].double }
        return (visits, delays)
    }

    /// What the number pools need back after a restart: live reservations (and those a late
    /// caller may still use), the visit histories of the visitors holding them, and release times.
    /// Its size follows the pools, never the number of visitors seen.
    public func snapshot(now: Date = Date(), graceSeconds: Double = 1800, visitsPerClient: Int = 50) async throws
        -> TrackingSnapshot
    {
        let since = now.timeIntervalSince1970 - graceSeconds
        let reservations = try await db.query(
            """
            SELECT id, project, client_id, number, pool, created_at, expires_at, client_address FROM reservations
            WHERE released_at IS NULL AND expires_at > ?
            """, [since]
        ).compactMap { row -> Reservation? in
            guard let number = row["number"].string.flatMap(PhoneNumber.init(e164:)) else { return nil }
            return Reservation(
                id: row["id"].string ?? "", projectKey: row["project"].string ?? "",
                clientID: row["client_id"].string ?? "", number: number, poolName: row["pool"].string ?? "",
                createdAt: Date(timeIntervalSince1970: row["created_at"].double ?? 0),
                expiresAt: Date(timeIntervalSince1970: row["expires_at"].double ?? 0),
                address: row["client_address"].string)
        }
        var visits: [Visit] = []
        for r in reservations {
            visits += try await self.visits(projectKey: r.projectKey, clientID: r.clientID, limit: visitsPerClient)
        }
        var releasedAt: [PhoneNumber: Date] = [:]
        for row in try await db.query("SELECT number, released_at FROM number_releases") {
            if let n = row["number"].string.flatMap(PhoneNumber.init(e164:)), let t = row["released_at"].double {
                releasedAt[n] = Date(timeIntervalSince1970: t)
            }
        }
        return TrackingSnapshot(reservations: reservations, visits: visits, releasedAt: releasedAt)
    }

    static let insertVisitSQL = """
        INSERT INTO visits (project, client_id, at, page, referrer, source, medium, campaign, keyword, content, gclid,
            yclid, region, ga_client_id, ym_client_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    static func arguments(of v: Visit) -> [SQLValueConvertible] {
        [
            v.projectKey, v.clientID, v.at.timeIntervalSince1970, v.page, v.referrer, v.source, v.medium, v.campaign,
            v.keyword, v.content, v.gclid, v.yclid, v.region, v.gaClientID, v.ymClientID,
        ]
    }

    /// A new reservation, or a renewal's new expiry.
    static let insertReservationSQL = """
        INSERT INTO reservations (id, project, client_id, number, pool, created_at, expires_at, client_address)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET expires_at = excluded.expires_at
        """

    static func arguments(of r: Reservation) -> [SQLValueConvertible] {
        [
            r.id, r.projectKey, r.clientID, r.number.e164, r.poolName, r.createdAt.timeIntervalSince1970,
            r.expiresAt.timeIntervalSince1970, r.address,
        ]
    }

    /// How many of a visitor's latest visits attribution reads.
    static let visitsKept = 50

    /// One visitor's latest visits, oldest first.
    public func visits(projectKey: String, clientID: String, limit: Int = 50) async throws -> [Visit] {
        try await reader.query(Self.visitsSQL, [projectKey, clientID, limit]).reversed().map(Self.visit)
    }

    /// The same, read at once from a SQLite connection: what the one-node pool book asks as a visitor
    /// gets a number.
    public static func visits(in db: SQLiteDatabase, projectKey: String, clientID: String, limit: Int = 50) throws
        -> [Visit]
    { try db.query(visitsSQL, [projectKey, clientID, limit]).reversed().map(visit) }

    static let visitsSQL = """
        SELECT project, client_id, at, page, referrer, source, medium, campaign, keyword, content, gclid, yclid,
            region, ga_client_id, ym_client_id
        FROM visits WHERE project = ? AND client_id = ? ORDER BY at DESC LIMIT ?
        """

    static func visit(_ r: Row) -> Visit {
        Visit(
            projectKey: r["project"].string ?? "", clientID: r["client_id"].string ?? "",
            at: Date(timeIntervalSince1970: r["at"].double ?? 0), page: r["page"].string ?? "",
            referrer: r["referrer"].string, source: r["source"].string ?? "", medium: r["medium"].string ?? "",
            campaign: r["campaign"].string, keyword: r["keyword"].string, content: r["content"].string,
            gclid: r["gclid"].string, yclid: r["yclid"].string, region: r["region"].string,
            gaClientID: r["ga_client_id"].string, ymClientID: r["ym_client_id"].string)
    }

    /// Deletes visits, finished reservations and shortfall counts older than `before`; returns the visits deleted.
    @discardableResult public func deleteHistory(before: Date) async throws -> Int {
        let t = before.timeIntervalSince1970
        let deleted = try await db.scalar("SELECT count(*) FROM visits WHERE at < ?", [t])?.int ?? 0
        try await db.write { tx in
            tx.execute("DELETE FROM visits WHERE at < ?", [t])
            tx.execute("DELETE FROM reservations WHERE expires_at < ?", [t])
            tx.execute("DELETE FROM pool_exhaustions WHERE at < ?", [t])
            tx.execute("DELETE FROM address_limited WHERE at < ?", [t])
        }
        return deleted
    }
}

/// Figures for `GET /v1/projects/{key}/health`.
public struct PoolHealth: Sendable {
    public let calls, staticCalls, visits, exhausted: Int
    /// Visitors given the static number because their address already held its share of numbers.
    public let addressLimited, peakConcurrent, reservations: Int
    public let averageVisitSeconds: Double?
    public let days: Double

    /// (1 − calls to static numbers / all calls) × 100; nil without calls.
    public var accuracyPercent: Double? {
        calls == 0 ? nil : ((1 - Double(staticCalls) / Double(calls)) * 1000).rounded() / 10
    }
    /// Peak concurrent reservations × 1.2.
    public var recommendedPoolSize: Int { Int((Double(peakConcurrent) * 1.2).rounded(.up)) }
    /// The quick rule: visits per day / 100 + 1.
    public var quickEstimatePoolSize: Int { Int(Double(visits) / days / 100) + 1 }
    /// Average visit length × 1.2.
    public var recommendedTTLSeconds: Int? { averageVisitSeconds.map { Int(($0 * 1.2).rounded(.up)) } }
}
