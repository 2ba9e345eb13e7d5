import CallTrackCore
import Foundation
import PostgresNIO
import Tracking

/// Who holds which tracking number, in PostgreSQL, for every node at once: one row per number in
/// `pool_numbers`, and the row is the lock, so no number is ever held twice whichever nodes the
/// visitors reach.
///
/// A renewal is one `UPDATE`. A new reservation is one transaction, committed before the visitor is
/// answered: the visitor's advisory lock (the same visitor on two nodes at once gets one number), the
/// address's (its limit holds across nodes), then the least recently released free number,
/// `FOR UPDATE SKIP LOCKED` (two visitors never wait for the same row). The visit goes in with it, so
/// a call to the number on any node finds it at once.
public struct SharedPoolBook: Sendable {
    let db: PostgresDatabase

    public init(database: PostgresDatabase) { db = database }

    /// What a new visitor got.
    public enum Outcome: Sendable, Equatable {
        case reserved(Reservation)
        /// The address already holds its share of the project's numbers.
        case addressLimited
        /// Every number of the pool is held.
        case exhausted
    }

    /// Makes the table hold exactly these numbers for these projects (a number moved to another pool or
    /// project follows; one no longer configured goes), keeping who holds each.
    public func arrange(_ pools: [(project: String, pool: String, numbers: [PhoneNumber])]) async throws {
        try await db.write { tx in
            for p in pools {
                for n in p.numbers {
                    tx.execute(
                        """
                        INSERT INTO pool_numbers (number, project, pool) VALUES (?, ?, ?)
                        ON CONFLICT (number) DO UPDATE SET project = excluded.project, pool = excluded.pool
                        """, [n.e164, p.project, p.pool])
                }
            }
            for project in Set(pools.map(\.project)) {
                let kept = pools.filter { $0.project == project }.flatMap(\.numbers).map(\.e164)
                tx.execute(
                    "DELETE FROM pool_numbers WHERE project = ? AND NOT (number = ANY(string_to_array(?, ',')))",
                    [project, kept.joined(separator: ",")])
            }
        }
    }

    /// What one statement tells of a visitor: their live number, held longer; or, when they hold none,
    /// whether a new one is out of the question (the address holds its share, or no number of the pool is
    /// free) or worth a transaction (`take`).
    public enum Renewal: Sendable, Equatable {
        case renewed(Reservation)
        case refused(Outcome)
        case mayTake
    }

    /// The visitor's live number held `ttl` seconds more, or, in the same round trip, whether `pool` could
    /// give them one: most requests (heartbeats, and every visitor while the pool is exhausted) need no
    /// transaction and no lock.
    public func renew(
        projectKey: String, clientID: String, pool: String, address: String?, maxPerAddress: Int, now: Date, ttl: Double
    ) async throws -> Renewal {
        let t = now.timeIntervalSince1970
        let statement = RenewalStatement(
            heldUntil: t + ttl, project: projectKey, client: clientID, now: t, address: address ?? "", pool: pool)
        let row = try await db.withDeadline(sql: RenewalStatement.sql) {
            [client = db.client] () -> RenewalStatement.Row? in
            for try await row in try await client.execute(statement) { return row }
            return nil
        }
        guard let (number, reservation, createdAt, heldUntil, holds, free) = row else { return .mayTake }
        if let number = number.flatMap(PhoneNumber.init(e164:)), let reservation, let createdAt, let heldUntil {
            return .renewed(
                Reservation(
                    id: reservation, projectKey: projectKey, clientID: clientID, number: number, poolName: pool,
                    createdAt: Date(timeIntervalSince1970: createdAt),
                    expiresAt: Date(timeIntervalSince1970: heldUntil), address: address))
        }
        if address != nil, holds >= maxPerAddress { return .refused(.addressLimited) }
        return free ? .mayTake : .refused(.exhausted)
    }

    /// The hottest statement (every heartbeat, and every visitor while the pool is exhausted), prepared once per
    /// connection: PostgreSQL plans it once instead of on every request.
    struct RenewalStatement: PostgresPreparedStatement {
        static let sql = """
            WITH renewed AS (
                UPDATE pool_numbers SET held_until = $1 WHERE project = $2 AND client_id = $3 AND held_until > $4
                RETURNING number, reservation_id, created_at, held_until
            )
            SELECT renewed.number, renewed.reservation_id, renewed.created_at, renewed.held_until,
                (SELECT count(*) FROM pool_numbers WHERE project = $2 AND client_address = $5 AND held_until > $4)
                    AS holds,
                EXISTS (SELECT 1 FROM pool_numbers WHERE project = $2 AND pool = $6
                    AND (held_until IS NULL OR held_until <= $4)) AS free
            FROM (SELECT 1) AS one LEFT JOIN renewed ON TRUE
            """
        typealias Row = (String?, String?, Double?, Double?, Int, Bool)
        static var bindingDataTypes: [PostgresDataType] { [.float8, .text, .text, .float8, .text, .text] }
        let heldUntil: Double
        let project, client: String
        let now: Double
        let address, pool: String

        func makeBindings() throws -> PostgresBindings {
            var b = PostgresBindings(capacity: 6)
            b.append(heldUntil)
            b.append(project)
            b.append(client)
            b.append(now)
            b.append(address)
            b.append(pool)
            return b
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// The visitor's live number held `ttl` seconds more; nil when they hold none.
    public func renew(projectKey: String, clientID: String, now: Date, ttl: Double) async throws -> Reservation? {
        try await db.query(
            Self.renewal, [now.timeIntervalSince1970 + ttl, projectKey, clientID, now.timeIntervalSince1970]
        ).first.flatMap(Self.reservation)
    }

    /// The visitor's live number, if any, held longer.
    private static let renewal = """
        UPDATE pool_numbers SET held_until = ? WHERE project = ? AND client_id = ? AND held_until > ?
        RETURNING \(columns)
        """

    /// Waits for the transaction's lock on one key (a visitor, an address), released at its end.
    private static let lock = "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))"

    /// A number of `pool` for a visitor who holds none (or the one they got meanwhile from another node),
    /// with `visit` stored in the same transaction.
    public func take(
        projectKey: String, pool: String, clientID: String, address: String?, maxPerAddress: Int, now: Date,
        ttl: Double, visit: Visit?
    ) async throws -> Outcome {
        let t = now.timeIntervalSince1970
        return try await db.transaction { tx in
            try await tx.query(Self.lock, ["visitor\u{1f}\(projectKey)\u{1f}\(clientID)"])
            if let visit { try await tx.query(TrackingStore.insertVisitSQL, TrackingStore.arguments(of: visit)) }
            if let held = try await tx.query(Self.renewal, [t + ttl, projectKey, clientID, t]).first.flatMap(
                Self.reservation)
            {
                return .reserved(held)
            }
            if let address {
                try await tx.query(Self.lock, ["address\u{1f}\(projectKey)\u{1f}\(address)"])
                let holds =
                    try await tx.query(
                        """
                        SELECT count(*) AS n FROM pool_numbers
                        WHERE project = ? AND client_address = ? AND held_until > ?
                        """, [projectKey, address, t]
                    ).first?["n"].int ?? 0
                if holds >= maxPerAddress { return .addressLimited }
            }
            guard
                let number = try await tx.query(
                    """
                    SELECT number FROM pool_numbers
                    WHERE project = ? AND pool = ? AND (held_until IS NULL OR held_until <= ?)
                    ORDER BY CASE WHEN reservation_id IS NULL THEN released_at ELSE held_until END, number
                    LIMIT 1 FOR UPDATE SKIP LOCKED
                    """, [projectKey, pool, t]
                ).first?["number"].string
            else { return .exhausted }
            let r = try await tx.query(
                """
                UPDATE pool_numbers SET reservation_id = ?, client_id = ?, client_address = ?, created_at = ?,
                    held_until = ?
                WHERE number = ? RETURNING \(Self.columns)
                """, [UUID().uuidString.lowercased(), clientID, address, t, t + ttl, number]
            ).first.flatMap(Self.reservation)
            guard let r else { return .exhausted }
            try await tx.query(TrackingStore.insertReservationSQL, TrackingStore.arguments(of: r))
            return .reserved(r)
        }
    }

    /// Who a call to `number` belongs to now: its holder (`late` once the hold has lapsed, for `grace`
    /// seconds after, until someone else takes it) and the holder's visits up to now, oldest first.
    public func holder(of number: PhoneNumber, now: Date, grace: Double) async throws -> (
        reservation: Reservation, late: Bool, visits: [Visit]
    )? {
        let t = now.timeIntervalSince1970
        guard
            let row = try await db.query(
                """
                SELECT \(Self.columns) FROM pool_numbers
                WHERE number = ? AND reservation_id IS NOT NULL AND held_until > ? AND created_at <= ?
                """, [number.e164, t - grace, t]
            ).first, let r = Self.reservation(row)
        else { return nil }
        let visits = try await db.query(TrackingStore.visitsSQL, [r.projectKey, r.clientID, TrackingStore.visitsKept])
            .reversed().map(TrackingStore.visit).filter { $0.at <= now }
        return (r, r.expiresAt <= now, visits)
    }

    /// After a call: the visitor has called, so their number can serve someone else (least recently
    /// released first). False when the reservation no longer holds the number.
    @discardableResult public func release(reservationID: String, number: PhoneNumber, at now: Date) async throws
        -> Bool
    {
        try await !db.query(
            """
            UPDATE pool_numbers SET reservation_id = NULL, client_id = NULL, client_address = NULL,
                created_at = NULL, held_until = NULL, released_at = ?
            WHERE number = ? AND reservation_id = ? RETURNING number
            """, [now.timeIntervalSince1970, number.e164, reservationID]
        ).isEmpty
    }

    /// A pool of a project.
    public struct PoolKey: Hashable, Sendable {
        public let project, pool: String
        public init(project: String, pool: String) {
            self.project = project
            self.pool = pool
        }
    }

    /// Numbers held now, per pool.
    public func held(now: Date) async throws -> [PoolKey: Int] {
        var out: [PoolKey: Int] = [:]
        for r in try await db.query(
            "SELECT project, pool, count(*) AS n FROM pool_numbers WHERE held_until > ? GROUP BY project, pool",
            [now.timeIntervalSince1970])
        { out[PoolKey(project: r["project"].string ?? "", pool: r["pool"].string ?? "")] = r["n"].int ?? 0 }
        return out
    }

    private static let columns =
        "number, project, pool, reservation_id, client_id, client_address, created_at, held_until"

    private static func reservation(_ r: Row) -> Reservation? {
        guard let number = r["number"].string.flatMap(PhoneNumber.init(e164:)), let id = r["reservation_id"].string,
            let created = r["created_at"].double, let until = r["held_until"].double
        else { return nil }
        return Reservation(
            id: id, projectKey: r["project"].string ?? "", clientID: r["client_id"].string ?? "", number: number,
            poolName: r["pool"].string ?? "", createdAt: Date(timeIntervalSince1970: created),
            expiresAt: Date(timeIntervalSince1970: until), address: r["client_address"].string)
    }
}
