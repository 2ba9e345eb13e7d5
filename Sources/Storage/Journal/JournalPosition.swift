import CallTrackCore

/// How far the database has applied each journal: saved in the transaction that applies a batch, so
/// that the journal replays exactly the changes after it.
enum JournalPosition {
    static func load(_ db: any SQLDatabase, journal: String) async throws -> UInt64 {
        UInt64(max(0, try await db.scalar("SELECT through FROM journals WHERE name = ?", [journal])?.int ?? 0))
    }

    /// Writes a batch of a journal's changes (`add` puts them in the transaction) and the number of its last
    /// in one transaction.
    static func write<Change>(
        _ changes: [Numbered<Change>], journal: String, to db: any SQLDatabase, _ add: ([Change], WriteBatch) -> Void
    ) async throws {
        guard let last = changes.last else { return }
        try await db.write { tx in
            add(changes.map(\.value), tx)
            tx.execute(
                """
                INSERT INTO journals (name, through) VALUES (?, ?)
                ON CONFLICT(name) DO UPDATE SET through = excluded.through
                """, [journal, Int(last.number)])
        }
    }
}
