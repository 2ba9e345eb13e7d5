import CallTrackCore
import Foundation

/// Call records, in SQLite or PostgreSQL.
public final class CallRecordStore: CallRepository, RecordingIndex {
    let db: any SQLDatabase
    /// Where the HTTP API's reads go: a read-only connection of their own, so that they never
    /// queue behind the batch writer (the same connection when none is given).
    let reader: any SQLDatabase

    /// How callers' numbers are read, to recognise a caller again whatever shape the trunk sends.
    let numbering: NumberingConfig

    /// Which events go to which delivery endpoints: written to the outbox with each batch.
    let deliveries: DeliveryRoutes

    /// The node whose calls this store writes (`cluster.node_id`), nil on a single node: each call is
    /// stored with it, and each node's journal has its own position.
    let node: String?

    public init(
        database: any SQLDatabase, reads: (any SQLDatabase)? = nil, numbering: NumberingConfig = NumberingConfig(),
        deliveries: DeliveryRoutes = DeliveryRoutes(), node: String? = nil
    ) {
        self.node = node
        self.deliveries = deliveries
        db = database
        reader = reads ?? database
        self.numbering = numbering
    }

    private static let columns = """
        id, project, trunk, did_dialled, did, caller, caller_name, forward_to, sip_call_id, started_at, ringing_at,
        answered_at, ended_at, status, missed_reason, sip_code, hangup_by, end_reason, caller_packets, caller_bytes,
        callee_packets, callee_bytes, interrupted, recording_status, recording_path, recording_reason,
        recording_bytes, recording_seconds, recording_sample_rate, number_kind, pool, client_id, reservation_id, late,
        source, medium, campaign, keyword, content, landing_page, referrer, channel, first_time, gclid, yclid,
        ga_client_id, ym_client_id, node
        """

    public func calls(limit: Int, before: CallID?, filter: CallFilter = CallFilter()) async throws -> [CallRecord] {
        var conditions: [String] = []
        var args: [SQLValueConvertible] = []
        if let before {
            conditions.append("id < ?")
            args.append(before.rawValue)
        }
        if let project = filter.project {
            conditions.append("project = ?")
            args.append(project)
        }
        if let since = filter.since {
            conditions.append("started_at >= ?")
            args.append(since.timeIntervalSince1970)
        }
        if let until = filter.until {
            conditions.append("started_at < ?")
            args.append(until.timeIntervalSince1970)
        }
        if let status = filter.status {
            conditions.append("status = ?")
            args.append(status.rawValue)
        }
        if let raw = filter.number {
            let number = PhoneNumber.normalise(raw, numbering: numbering)?.e164 ?? raw
            conditions.append("(did = ? OR caller_e164 = ?)")
            args += [number, number]
        }
        // The same values a report groups by (Report.value(of:for:)).
        let known = """
            ((number_kind = 'dynamic' AND source IS NOT NULL) OR number_kind = 'static'
                OR (number_kind = 'offline' AND channel IS NOT NULL))
            """
        switch filter.source {
        case nil: break
        case "(static)": conditions.append("number_kind = 'static'")
        case "(unknown)": conditions.append("NOT coalesce(\(known), FALSE)")
        case let source?:
            conditions.append("((number_kind = 'dynamic' AND source = ?) OR (number_kind = 'offline' AND channel = ?))")
            args += [source, source]
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        args.append(limit)
        return try await reader.query("SELECT \(Self.columns) FROM calls \(whereClause) ORDER BY id DESC LIMIT ?", args)
            .compactMap(Self.record)
    }

    public func call(id: CallID) async throws -> CallRecord? {
        try await reader.query("SELECT \(Self.columns) FROM calls WHERE id = ?", [id.rawValue]).first.flatMap(
            Self.record)
    }

    /// Applies a batch of events in one transaction.
    public func apply(_ events: [CallEvent]) async throws { try await db.write { tx in add(events, to: tx) } }

    /// Applies a batch of the bus's events and notes the number of its last in the same transaction, so
    /// that the journal knows exactly which of its events the database holds.
    public func apply(_ events: [Numbered<CallEvent>]) async throws {
        try await JournalPosition.write(events, journal: journal, to: db) { add($0, to: $1) }
    }

    /// The journal's name in `journals` (each node has its own), and the number of the last of its events
    /// the database holds.
    var journal: String { node.map { "calls@\($0)" } ?? "calls" }
    public func appliedEventNumber() async throws -> UInt64 { try await JournalPosition.load(db, journal: journal) }

    private func add(_ events: [CallEvent], to tx: WriteBatch) {
        for event in events {
            switch event {
            case .started(let s):
                let a = s.attribution
                tx.execute(
                    """
                    INSERT INTO calls (id, project, trunk, did_dialled, did, caller, caller_name,
                        forward_to,
                        sip_call_id, started_at, number_kind, pool, client_id, reservation_id, late, source, medium,
                        campaign, keyword, content, landing_page, referrer, channel, gclid, yclid, ga_client_id,
                            ym_client_id, node)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT DO NOTHING
                    """,
                    [
                        s.id.rawValue, s.projectKey, s.trunk, s.didDialled, s.did, s.caller, s.callerName, s.forwardTo,
                        s.sipCallID, s.startedAt.timeIntervalSince1970, a?.kind.rawValue, a?.poolName, a?.clientID,
                        a?.reservationID, a?.late ?? false, a?.source, a?.medium, a?.campaign, a?.keyword, a?.content,
                        a?.landingPage, a?.referrer, a?.channel, a?.gclid, a?.yclid, a?.gaClientID, a?.ymClientID, node,
                    ])
                addToLead(tx, s)
                deliveries.enqueue(tx, event: .callStarted, callID: s.id, project: s.projectKey, at: s.startedAt)
            case .ringing(let id, let at):
                tx.execute(
                    "UPDATE calls SET ringing_at = ? WHERE id = ? AND ringing_at IS NULL",
                    [at.timeIntervalSince1970, id.rawValue])
            case .answered(let id, let at):
                tx.execute("UPDATE calls SET answered_at = ? WHERE id = ?", [at.timeIntervalSince1970, id.rawValue])
                deliveries.enqueue(tx, event: .callAnswered, callID: id, project: nil, at: at)
            case .ended(let e):
                tx.execute(
                    """
                    UPDATE calls SET ended_at = ?, status = ?, missed_reason = ?, sip_code = ?, hangup_by = ?,
                        end_reason = ?, caller_packets = ?, caller_bytes = ?, callee_packets = ?, callee_bytes = ?
                    WHERE id = ?
                    """,
                    [
                        e.endedAt.timeIntervalSince1970, e.status.rawValue, e.missedReason?.rawValue, e.sipCode,
                        e.hangupBy.rawValue, e.endReason.name, e.callerToCallee.packets, e.callerToCallee.bytes,
                        e.calleeToCaller.packets, e.calleeToCaller.bytes, e.id.rawValue,
                    ])
                deliveries.enqueue(tx, event: .callEnded, callID: e.id, project: nil, at: e.endedAt)
                if e.status == .missed {
                    deliveries.enqueue(tx, event: .callMissed, callID: e.id, project: nil, at: e.endedAt)
                }
            case .recording(let r):
                tx.execute(
                    """
                    UPDATE calls SET recording_status = ?, recording_path = COALESCE(?, recording_path),
                        recording_reason = ?, recording_bytes = ?, recording_seconds = ?, recording_sample_rate = ?
                    WHERE id = ?
                    """, [r.status.rawValue, r.path, r.reason, r.bytes, r.seconds, r.sampleRate, r.callID.rawValue])
                if r.status == .recorded || r.status == .interrupted {
                    deliveries.enqueue(tx, event: .recordingReady, callID: r.callID, project: nil, at: Date())
                }
            case .dtmf(let d):
                tx.execute(
                    "INSERT INTO call_dtmf (call_id, side, digit, at_seconds) VALUES (?, ?, ?, ?)",
                    [d.callID.rawValue, d.side, d.digit, d.atSeconds])
            case .attributed(let id, let a):
                // Only a call stored without one: what was known at the start is never replaced.
                tx.execute(
                    """
                    UPDATE calls SET number_kind = ?, pool = ?, client_id = ?, reservation_id = ?, late = ?, source = ?,
                        medium = ?, campaign = ?, keyword = ?, content = ?, landing_page = ?, referrer = ?, channel = ?,
                        gclid = ?, yclid = ?, ga_client_id = ?, ym_client_id = ?
                    WHERE id = ? AND number_kind IS NULL
                    """,
                    [
                        a.kind.rawValue, a.poolName, a.clientID, a.reservationID, a.late, a.source, a.medium,
                        a.campaign, a.keyword, a.content, a.landingPage, a.referrer, a.channel, a.gclid, a.yclid,
                        a.gaClientID, a.ymClientID, id.rawValue,
                    ])
            }
        }
    }

    public func dtmf(callID: CallID) async throws -> [DTMFEvent] {
        try await reader.query(
            "SELECT side, digit, at_seconds FROM call_dtmf WHERE call_id = ? ORDER BY at_seconds, rowid",
            [callID.rawValue]
        ).map {
            DTMFEvent(
                callID: callID, side: $0["side"].string ?? "", digit: $0["digit"].string ?? "",
                atSeconds: $0["at_seconds"].double ?? 0)
        }
    }

    /// Recordings still marked as being written: what a crash left behind.
    public func recordingsInProgress() async throws -> [(CallID, String)] {
        try await db.query(
            """
            SELECT id, recording_path FROM calls WHERE recording_status = 'recording' AND recording_path IS NOT NULL
                \(ownCalls)
            """, nodeArguments
        ).compactMap(Self.recordingFile)
    }

    /// Recorded files of calls that ended before `date`, for the retention sweeper.
    public func recordings(endedBefore date: Date, limit: Int) async throws -> [(CallID, String)] {
        // Each node removes the files of its own calls: the others' are on their disks.
        try await db.query(
            """
            SELECT id, recording_path FROM calls
            WHERE recording_status IN ('recorded', 'interrupted',
                'failed') AND recording_path IS NOT NULL AND ended_at < ? \(ownCalls)
            ORDER BY ended_at LIMIT ?
            """, [date.timeIntervalSince1970] + nodeArguments + [limit]
        ).compactMap(Self.recordingFile)
    }

    /// Marks a recording whose file was removed by the retention policy.
    public func markRecordingDeleted(_ id: CallID, reason: String) async throws {
        try await db.execute(
            "UPDATE calls SET recording_status = 'deleted', recording_path = NULL, recording_reason = ? WHERE id = ?",
            [reason, id.rawValue])
    }

    /// Stores a recording's state directly (crash repair and retention run outside the event stream).
    public func updateRecording(_ r: RecordingSummary) async throws { try await apply([.recording(r)]) }

    /// Finalises calls that were up when CallTrack last stopped without ending them (crash, kill -9).
    /// They end when the process was `lastAlive` (the restart's time when unknown), and not before
    /// anything known to have happened to them. Returns how many were marked interrupted.
    @discardableResult public func finaliseInterruptedCalls(lastAlive: Date? = nil) async throws -> Int {
        // Only this node's own: the other nodes' calls in progress are theirs.
        let open =
            try await db.scalar("SELECT count(*) FROM calls WHERE status = 'in_progress' \(ownCalls)", nodeArguments)?
            .int ?? 0
        guard open > 0 else { return 0 }
        let last = db.dialect.greatest(
            "?", "started_at", "COALESCE(ringing_at, started_at)", "COALESCE(answered_at, started_at)")
        try await db.execute(
            """
            UPDATE calls SET interrupted = 1, hangup_by = 'calltrack', end_reason = 'interrupted',
                ended_at = COALESCE(ended_at, \(last)),
                status = CASE WHEN answered_at IS NULL THEN 'missed' ELSE 'answered' END,
                missed_reason = CASE WHEN answered_at IS NULL THEN 'failed' ELSE NULL END
            WHERE status = 'in_progress' \(ownCalls)
            """, [min(lastAlive ?? Date(), Date()).timeIntervalSince1970] + nodeArguments)
        return open
    }

    /// The condition that keeps a query to this node's calls (none on a single node), and its argument.
    private var ownCalls: String { node == nil ? "" : "AND node = ?" }
    private var nodeArguments: [SQLValueConvertible] { node.map { [$0] } ?? [] }

    private static func recordingFile(_ row: Row) -> (CallID, String)? {
        guard let id = row["id"].string.flatMap(CallID.init), let path = row["recording_path"].string else {
            return nil
        }
        return (id, path)
    }

    private static func record(_ row: Row) -> CallRecord? {
        guard let id = row["id"].string.flatMap(CallID.init) else { return nil }
        func date(_ column: String) -> Date? { row[column].double.map(Date.init(timeIntervalSince1970:)) }
        let start = CallStart(
            id: id, projectKey: row["project"].string ?? "", trunk: row["trunk"].string ?? "",
            didDialled: row["did_dialled"].string ?? "", did: row["did"].string ?? "",
            caller: row["caller"].string ?? "", callerName: row["caller_name"].string,
            forwardTo: row["forward_to"].string ?? "", sipCallID: row["sip_call_id"].string ?? "",
            startedAt: date("started_at") ?? Date(timeIntervalSince1970: 0),
            attribution: row["number_kind"].string.flatMap(Attribution.Kind.init).map {
                Attribution(
                    kind: $0, poolName: row["pool"].string, clientID: row["client_id"].string,
                    reservationID: row["reservation_id"].string, late: (row["late"].int ?? 0) != 0,
                    source: row["source"].string, medium: row["medium"].string, campaign: row["campaign"].string,
                    keyword: row["keyword"].string, content: row["content"].string,
                    landingPage: row["landing_page"].string, referrer: row["referrer"].string,
                    channel: row["channel"].string, gclid: row["gclid"].string, yclid: row["yclid"].string,
                    gaClientID: row["ga_client_id"].string, ymClientID: row["ym_client_id"].string)
            })
        return CallRecord(
            start: start, ringingAt: date("ringing_at"), answeredAt: date("answered_at"), endedAt: date("ended_at"),
            status: CallStatus(rawValue: row["status"].string ?? "") ?? .inProgress,
            missedReason: row["missed_reason"].string.flatMap(MissedReason.init), sipCode: row["sip_code"].int,
            hangupBy: row["hangup_by"].string.flatMap(HangupParty.init), endReason: row["end_reason"].string,
            callerToCallee: MediaCounters(packets: row["caller_packets"].int ?? 0, bytes: row["caller_bytes"].int ?? 0),
            calleeToCaller: MediaCounters(packets: row["callee_packets"].int ?? 0, bytes: row["callee_bytes"].int ?? 0),
            interrupted: (row["interrupted"].int ?? 0) != 0, firstTime: (row["first_time"].int ?? 0) != 0,
            recording: row["recording_status"].string.flatMap(RecordingStatus.init).map {
                RecordingInfo(
                    status: $0, path: row["recording_path"].string, reason: row["recording_reason"].string,
                    bytes: row["recording_bytes"].int, seconds: row["recording_seconds"].double,
                    sampleRate: row["recording_sample_rate"].int)
            }, node: row["node"].string)
    }
}
