import CallTrackCore
import Foundation

/// Call records in SQLite.
public final class SQLiteCallRecordStore: CallRecordStore, RecordingIndex {
    let db: Database

    /// Opens the database and brings its schema up to date.
    public init(database: Database) throws {
        db = database
        try Migrations.migrate(db)
    }

    private static let columns = """
        id, project, trunk, did_dialled, did, caller, caller_name, forward_to, sip_call_id, started_at, ringing_at,
        answered_at, ended_at, status, missed_reason, sip_code, hangup_by, end_reason, caller_packets, caller_bytes,
        callee_packets, callee_bytes, interrupted, recording_status, recording_path, recording_reason,
        recording_bytes, recording_seconds, recording_sample_rate, number_kind, pool, client_id, reservation_id, late,
        source, medium, campaign, keyword, content, landing_page, referrer, channel
        """

    public func calls(limit: Int, before: CallID?, project: String?) throws -> [CallRecord] {
        var conditions: [String] = []
        var args: [SQLValueConvertible] = []
        if let before { conditions.append("id < ?"); args.append(before.rawValue) }
        if let project { conditions.append("project = ?"); args.append(project) }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        args.append(limit)
        return try db.query("SELECT \(Self.columns) FROM calls \(whereClause) ORDER BY id DESC LIMIT ?", args)
            .compactMap(Self.record)
    }

    public func call(id: CallID) throws -> CallRecord? {
        try db.query("SELECT \(Self.columns) FROM calls WHERE id = ?", [id.rawValue]).first.flatMap(Self.record)
    }

    /// Applies a batch of events in one transaction.
    public func apply(_ events: [CallEvent]) throws {
        try db.inTransaction { tx in
            for event in events {
                switch event {
                case .started(let s):
                    let a = s.attribution
                    tx.execute("""
                        INSERT OR IGNORE INTO calls (id, project, trunk, did_dialled, did, caller, caller_name, forward_to,
                            sip_call_id, started_at, number_kind, pool, client_id, reservation_id, late, source, medium,
                            campaign, keyword, content, landing_page, referrer, channel)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, [s.id.rawValue, s.projectKey, s.trunk, s.didDialled, s.did, s.caller, s.callerName,
                              s.forwardTo, s.sipCallID, s.startedAt.timeIntervalSince1970, a?.kind.rawValue, a?.poolName,
                              a?.clientID, a?.reservationID, a?.late ?? false, a?.source, a?.medium, a?.campaign, a?.keyword,
                              a?.content, a?.landingPage, a?.referrer, a?.channel])
                case .ringing(let id, let at):
                    tx.execute("UPDATE calls SET ringing_at = ? WHERE id = ? AND ringing_at IS NULL",
                               [at.timeIntervalSince1970, id.rawValue])
                case .answered(let id, let at):
                    tx.execute("UPDATE calls SET answered_at = ? WHERE id = ?", [at.timeIntervalSince1970, id.rawValue])
                case .ended(let e):
                    tx.execute("""
                        UPDATE calls SET ended_at = ?, status = ?, missed_reason = ?, sip_code = ?, hangup_by = ?,
                            end_reason = ?, caller_packets = ?, caller_bytes = ?, callee_packets = ?, callee_bytes = ?
                        WHERE id = ?
                        """, [e.endedAt.timeIntervalSince1970, e.status.rawValue, e.missedReason?.rawValue, e.sipCode,
                              e.hangupBy.rawValue, e.endReason, e.callerToCallee.packets, e.callerToCallee.bytes,
                              e.calleeToCaller.packets, e.calleeToCaller.bytes, e.id.rawValue])
                case .recording(let r):
                    tx.execute("""
                        UPDATE calls SET recording_status = ?, recording_path = COALESCE(?, recording_path),
                            recording_reason = ?, recording_bytes = ?, recording_seconds = ?, recording_sample_rate = ?
                        WHERE id = ?
                        """, [r.status.rawValue, r.path, r.reason, r.bytes, r.seconds, r.sampleRate, r.callID.rawValue])
                case .dtmf(let d):
                    tx.execute("INSERT INTO call_dtmf (call_id, side, digit, at_seconds) VALUES (?, ?, ?, ?)",
                               [d.callID.rawValue, d.side, d.digit, d.atSeconds])
                }
            }
        }
    }

    public func dtmf(callID: CallID) throws -> [DTMFEvent] {
        try db.query("SELECT side, digit, at_seconds FROM call_dtmf WHERE call_id = ? ORDER BY at_seconds, rowid",
                     [callID.rawValue]).map {
            DTMFEvent(callID: callID, side: $0[0].string ?? "", digit: $0[1].string ?? "", atSeconds: $0[2].double ?? 0)
        }
    }

    /// Recordings still marked as being written: what a crash left behind.
    public func recordingsInProgress() throws -> [(CallID, String)] {
        try db.query("SELECT id, recording_path FROM calls WHERE recording_status = 'recording' AND recording_path IS NOT NULL")
            .compactMap { row in row[0].string.flatMap(CallID.init).flatMap { id in row[1].string.map { (id, $0) } } }
    }

    /// Recorded files of calls that ended before `date`, for the retention sweeper.
    public func recordings(endedBefore date: Date, limit: Int) throws -> [(CallID, String)] {
        try db.query("""
            SELECT id, recording_path FROM calls
            WHERE recording_status IN ('recorded', 'interrupted', 'failed') AND recording_path IS NOT NULL AND ended_at < ?
            ORDER BY ended_at LIMIT ?
            """, [date.timeIntervalSince1970, limit])
            .compactMap { row in row[0].string.flatMap(CallID.init).flatMap { id in row[1].string.map { (id, $0) } } }
    }

    /// Marks a recording whose file was removed by the retention policy.
    public func markRecordingDeleted(_ id: CallID, reason: String) throws {
        try db.execute("UPDATE calls SET recording_status = 'deleted', recording_path = NULL, recording_reason = ? WHERE id = ?",
                       [reason, id.rawValue])
    }

    /// Stores a recording's state directly (crash repair and retention run outside the event stream).
    public func updateRecording(_ r: RecordingSummary) throws {
        try apply([.recording(r)])
    }

    /// Finalises calls that were up when CallTrack last stopped without ending them (crash, kill -9).
    /// Returns how many were marked interrupted.
    @discardableResult
    public func finaliseInterruptedCalls(at now: Date = Date()) throws -> Int {
        let open = try db.query("SELECT count(*) FROM calls WHERE status = 'in_progress'").first?.first?.int ?? 0
        guard open > 0 else { return 0 }
        try db.execute("""
            UPDATE calls SET interrupted = 1, hangup_by = 'calltrack', end_reason = 'interrupted',
                ended_at = COALESCE(ended_at, ?),
                status = CASE WHEN answered_at IS NULL THEN 'missed' ELSE 'answered' END,
                missed_reason = CASE WHEN answered_at IS NULL THEN 'failed' ELSE NULL END
            WHERE status = 'in_progress'
            """, [now.timeIntervalSince1970])
        return open
    }

    private static func record(_ row: [SQLValue]) -> CallRecord? {
        guard row.count == 42, let idText = row[0].string, let id = CallID(idText) else { return nil }
        func date(_ v: SQLValue) -> Date? { v.double.map(Date.init(timeIntervalSince1970:)) }
        return CallRecord(
            id: id, projectKey: row[1].string ?? "", trunk: row[2].string ?? "", didDialled: row[3].string ?? "",
            did: row[4].string ?? "", caller: row[5].string ?? "", callerName: row[6].string,
            forwardTo: row[7].string ?? "", sipCallID: row[8].string ?? "", startedAt: date(row[9]) ?? Date(timeIntervalSince1970: 0),
            ringingAt: date(row[10]), answeredAt: date(row[11]), endedAt: date(row[12]),
            status: CallStatus(rawValue: row[13].string ?? "") ?? .inProgress,
            missedReason: row[14].string.flatMap(MissedReason.init), sipCode: row[15].int,
            hangupBy: row[16].string.flatMap(HangupParty.init), endReason: row[17].string,
            callerToCallee: MediaCounters(packets: row[18].int ?? 0, bytes: row[19].int ?? 0),
            calleeToCaller: MediaCounters(packets: row[20].int ?? 0, bytes: row[21].int ?? 0),
            interrupted: (row[22].int ?? 0) != 0,
            recording: row[23].string.flatMap(RecordingStatus.init).map {
                RecordingInfo(status: $0, path: row[24].string, reason: row[25].string, bytes: row[26].int,
                              seconds: row[27].double, sampleRate: row[28].int)
            },
            attribution: row[29].string.flatMap(Attribution.Kind.init).map {
                Attribution(kind: $0, poolName: row[30].string, clientID: row[31].string, reservationID: row[32].string,
                            late: (row[33].int ?? 0) != 0, source: row[34].string, medium: row[35].string,
                            campaign: row[36].string, keyword: row[37].string, content: row[38].string,
                            landingPage: row[39].string, referrer: row[40].string, channel: row[41].string)
            })
    }
}
