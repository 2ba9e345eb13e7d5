import CallTrackCore
import Foundation

extension CallRecordStore {
    /// Closes the calls a lost node had in progress: its process is gone, so they ended no later than it
    /// was last seen. Each is marked `interrupted` with end reason `node_lost` and its `call.ended` (and
    /// `call.missed`) deliveries are added in the same transaction. Survivors may sweep at once: the
    /// transaction's advisory lock lets one close each call, and the others find it closed.
    public func closeCalls(ofLostNode lost: String, lastSeen: Date) async throws -> [CallID] {
        guard let pg = db as? PostgresDatabase else { return [] }
        let deliveries = deliveries
        return try await pg.transaction { tx in
            try await tx.query("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", ["lost-node\u{1f}" + lost])
            let open = try await tx.query(
                "SELECT id, answered_at FROM calls WHERE node = ? AND status = 'in_progress' FOR UPDATE", [lost])
            let batch = WriteBatch(dialect: .postgres)
            var closed: [CallID] = []
            for row in open {
                guard let id = row["id"].string.flatMap(CallID.init) else { continue }
                let answered = row["answered_at"].double != nil
                batch.execute(
                    """
                    UPDATE calls SET interrupted = 1, hangup_by = 'calltrack', end_reason = 'node_lost',
                        ended_at = GREATEST(?, started_at, COALESCE(ringing_at, started_at),
                            COALESCE(answered_at, started_at)),
                        status = ?, missed_reason = ?
                    WHERE id = ?
                    """,
                    [
                        lastSeen.timeIntervalSince1970, answered ? "answered" : "missed", answered ? nil : "failed",
                        id.rawValue,
                    ])
                deliveries.enqueue(batch, event: .callEnded, callID: id, project: nil, at: lastSeen)
                if !answered { deliveries.enqueue(batch, event: .callMissed, callID: id, project: nil, at: lastSeen) }
                closed.append(id)
            }
            for statement in batch.statements { try await tx.query(statement.sql, statement.arguments) }
            return closed
        }
    }
}
