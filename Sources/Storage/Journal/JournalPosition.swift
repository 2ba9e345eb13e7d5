/// How far the database has applied each journal: saved in the transaction that applies a batch, so
/// that the journal replays exactly the changes after it.
enum JournalPosition {
    static func load(_ db: Database, journal: String) throws -> UInt64 {
        UInt64(max(0, try db.scalar("SELECT through FROM journals WHERE name = ?", [journal])?.int ?? 0))
    }

    static func save(_ tx: Database.WriteBatch, journal: String, through: UInt64) {
        tx.execute(
            """
            INSERT INTO journals (name, through) VALUES (?, ?)
            ON CONFLICT(name) DO UPDATE SET through = excluded.through
            """, [journal, Int(through)])
    }
}
