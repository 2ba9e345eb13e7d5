import CallTrackCore
import Foundation

/// Moves a single node's history (its SQLite file) into the empty PostgreSQL of a new cluster: calls with
/// their key presses, leads, sales, costs, visits, reservations, releases, the pool's shortfalls and the
/// outbox (deliveries still pending go out from the cluster). Visitors holding a number keep it: their
/// reservations become the shared pool book's holders.
public enum HistoryImport {
    /// The tables moved, parents before children.
    static let tables = [
        "calls", "call_dtmf", "leads", "sales", "costs", "visits", "reservations", "number_releases",
        "pool_exhaustions", "address_limited", "outbox",
    ]
    static let batchRows = 1000

    /// The cluster's database already has a history: importing would mix two.
    public struct NotEmpty: Error, CustomStringConvertible {
        public let calls, visits: Int
        public var description: String {
            "the cluster's database already holds \(calls) calls and \(visits) visits: "
                + "import moves one node's history into an empty cluster"
        }
    }

    /// Copies every table; returns the rows copied per table.
    public static func run(from sqlite: SQLiteDatabase, into pg: PostgresDatabase, now: Date = Date()) async throws
        -> [(table: String, rows: Int)]
    {
        let calls = try await pg.scalar("SELECT count(*) FROM calls")?.int ?? 0
        let visits = try await pg.scalar("SELECT count(*) FROM visits")?.int ?? 0
        guard calls == 0 && visits == 0 else { throw NotEmpty(calls: calls, visits: visits) }
        var copied: [(String, Int)] = []
        for table in tables { copied.append((table, try await copy(table, from: sqlite, into: pg))) }
        try await holdLiveReservations(from: sqlite, into: pg, now: now)
        return copied
    }

    /// One table, in batches of rows in their order of insertion, each batch one transaction.
    private static func copy(_ table: String, from sqlite: SQLiteDatabase, into pg: PostgresDatabase) async throws
        -> Int
    {
        let theirs = Set(
            try await pg.query(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND column_name <> 'rowid'",
                [table]
            ).compactMap { $0["column_name"].string })
        let columns = try sqlite.query("SELECT name FROM pragma_table_info(?)", [table]).compactMap {
            $0["name"].string
        }.filter(theirs.contains)
        guard !columns.isEmpty else { return 0 }
        let list = columns.joined(separator: ", ")
        let marks = Array(repeating: "?", count: columns.count).joined(separator: ", ")
        let insert = "INSERT INTO \(table) (\(list)) VALUES (\(marks))"
        var after = 0, total = 0
        while true {
            let rows = try sqlite.query(
                "SELECT rowid AS import_rowid, \(list) FROM \(table) WHERE rowid > ? ORDER BY rowid LIMIT ?",
                [after, batchRows])
            guard let last = rows.last else { return total }
            try await pg.write { tx in for row in rows { tx.execute(insert, columns.map { row[$0] }) } }
            after = last["import_rowid"].int ?? Int.max
            total += rows.count
        }
    }

    /// Numbers visitors hold now (or held within the late callers' grace) are theirs in the shared book.
    private static func holdLiveReservations(from sqlite: SQLiteDatabase, into pg: PostgresDatabase, now: Date)
        async throws
    {
        let live = try await TrackingStore(database: sqlite).snapshot(now: now).reservations
        try await pg.write { tx in
            for r in live {
                tx.execute(
                    """
                    INSERT INTO pool_numbers (number, project, pool, reservation_id, client_id, client_address,
                        created_at, held_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (number) DO UPDATE SET project = excluded.project, pool = excluded.pool,
                        reservation_id = excluded.reservation_id, client_id = excluded.client_id,
                        client_address = excluded.client_address, created_at = excluded.created_at,
                        held_until = excluded.held_until
                    """,
                    [
                        r.number.e164, r.projectKey, r.poolName, r.id, r.clientID, r.address,
                        r.createdAt.timeIntervalSince1970, r.expiresAt.timeIntervalSince1970,
                    ])
            }
        }
    }
}
