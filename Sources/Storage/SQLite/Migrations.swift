/// Numbered schema changes; `user_version` records how many have run.
enum Migrations {
    static let all: [String] = [
        // 1: call records.
        """
        CREATE TABLE calls (
            id TEXT PRIMARY KEY,
            project TEXT NOT NULL,
            trunk TEXT NOT NULL,
            did_dialled TEXT NOT NULL,
            did TEXT NOT NULL,
            caller TEXT NOT NULL,
            caller_name TEXT,
            forward_to TEXT NOT NULL,
            sip_call_id TEXT NOT NULL,
            started_at REAL NOT NULL,
            ringing_at REAL,
            answered_at REAL,
            ended_at REAL,
            status TEXT NOT NULL DEFAULT 'in_progress',
            missed_reason TEXT,
            sip_code INTEGER,
            hangup_by TEXT,
            end_reason TEXT,
            caller_packets INTEGER NOT NULL DEFAULT 0,
            caller_bytes INTEGER NOT NULL DEFAULT 0,
            callee_packets INTEGER NOT NULL DEFAULT 0,
            callee_bytes INTEGER NOT NULL DEFAULT 0,
            interrupted INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX calls_project ON calls(project, id);
        CREATE INDEX calls_status ON calls(status);
        """,
        // 2: recordings and DTMF.
        """
        ALTER TABLE calls ADD COLUMN recording_status TEXT;
        ALTER TABLE calls ADD COLUMN recording_path TEXT;
        ALTER TABLE calls ADD COLUMN recording_reason TEXT;
        ALTER TABLE calls ADD COLUMN recording_bytes INTEGER;
        ALTER TABLE calls ADD COLUMN recording_seconds REAL;
        ALTER TABLE calls ADD COLUMN recording_sample_rate INTEGER;
        CREATE INDEX calls_recording ON calls(recording_status, ended_at);
        CREATE TABLE call_dtmf (
            call_id TEXT NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
            side TEXT NOT NULL,
            digit TEXT NOT NULL,
            at_seconds REAL NOT NULL
        );
        CREATE INDEX call_dtmf_call ON call_dtmf(call_id);
        """,
        // 3: dynamic number tracking: visits, reservations, attribution of calls.
        """
        CREATE TABLE visits (
            project TEXT NOT NULL, client_id TEXT NOT NULL, at REAL NOT NULL, page TEXT NOT NULL, referrer TEXT,
            source TEXT NOT NULL, medium TEXT NOT NULL, campaign TEXT, keyword TEXT, content TEXT,
            gclid TEXT, yclid TEXT, region TEXT
        );
        CREATE INDEX visits_client ON visits(project, client_id, at);
        CREATE INDEX visits_at ON visits(at);
        CREATE TABLE reservations (
            id TEXT PRIMARY KEY, project TEXT NOT NULL, client_id TEXT NOT NULL, number TEXT NOT NULL,
                pool TEXT NOT NULL,
            created_at REAL NOT NULL, expires_at REAL NOT NULL, released_at REAL
        );
        CREATE INDEX reservations_live ON reservations(released_at, expires_at);
        CREATE TABLE number_releases (number TEXT PRIMARY KEY, released_at REAL NOT NULL);
        ALTER TABLE calls ADD COLUMN number_kind TEXT;
        ALTER TABLE calls ADD COLUMN pool TEXT;
        ALTER TABLE calls ADD COLUMN client_id TEXT;
        ALTER TABLE calls ADD COLUMN reservation_id TEXT;
        ALTER TABLE calls ADD COLUMN late INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE calls ADD COLUMN source TEXT;
        ALTER TABLE calls ADD COLUMN medium TEXT;
        ALTER TABLE calls ADD COLUMN campaign TEXT;
        ALTER TABLE calls ADD COLUMN keyword TEXT;
        ALTER TABLE calls ADD COLUMN content TEXT;
        ALTER TABLE calls ADD COLUMN landing_page TEXT;
        ALTER TABLE calls ADD COLUMN referrer TEXT;
        ALTER TABLE calls ADD COLUMN channel TEXT;
        CREATE TABLE pool_exhaustions (
            project TEXT NOT NULL, pool TEXT NOT NULL, at REAL NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (project, pool, at)
        );
        """,
        // 4: one address may hold only so many numbers; visit retention deletes by age.
        """
        ALTER TABLE reservations ADD COLUMN client_address TEXT;
        CREATE INDEX reservations_expires ON reservations(expires_at);
        CREATE TABLE address_limited (
            project TEXT NOT NULL, pool TEXT NOT NULL, at REAL NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (project, pool, at)
        );
        """,
        // 5: leads (callers by E.164 number), sales, costs; reports read calls by project and start.
        """
        ALTER TABLE calls ADD COLUMN caller_e164 TEXT;
        ALTER TABLE calls ADD COLUMN first_time INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX calls_project_started ON calls(project, started_at);
        CREATE INDEX calls_caller ON calls(project, caller_e164);
        CREATE TABLE leads (
            project TEXT NOT NULL, phone TEXT NOT NULL, first_call_id TEXT NOT NULL, first_call_at REAL NOT NULL,
            PRIMARY KEY (project, phone)
        );
        CREATE INDEX leads_first_call ON leads(project, first_call_id);
        CREATE TABLE sales (
            project TEXT NOT NULL, deal_id TEXT NOT NULL, call_id TEXT NOT NULL, phone TEXT, amount REAL NOT NULL,
            created_at REAL NOT NULL, updated_at REAL NOT NULL,
            PRIMARY KEY (project, deal_id)
        );
        CREATE INDEX sales_call ON sales(call_id);
        CREATE TABLE costs (
            project TEXT NOT NULL, date TEXT NOT NULL, source TEXT NOT NULL, medium TEXT NOT NULL,
            campaign TEXT NOT NULL, keyword TEXT NOT NULL, amount REAL NOT NULL,
            PRIMARY KEY (project, date, source, medium, campaign, keyword)
        );
        """,
        // 6: the visitor's analytics client ids, and the ad click ids a call inherits, for the exports to ad platforms.
        """
        ALTER TABLE visits ADD COLUMN ga_client_id TEXT;
        ALTER TABLE visits ADD COLUMN ym_client_id TEXT;
        ALTER TABLE calls ADD COLUMN gclid TEXT;
        ALTER TABLE calls ADD COLUMN yclid TEXT;
        ALTER TABLE calls ADD COLUMN ga_client_id TEXT;
        ALTER TABLE calls ADD COLUMN ym_client_id TEXT;
        """,
        // 7: the outbox of outgoing deliveries (webhooks), written with the change that causes each.
        """
        CREATE TABLE outbox (
            id TEXT PRIMARY KEY, project TEXT NOT NULL, endpoint TEXT NOT NULL, event TEXT NOT NULL, call_id TEXT,
            created_at REAL NOT NULL, status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL, last_result TEXT, delivered_at REAL, body TEXT
        );
        CREATE INDEX outbox_due ON outbox(endpoint, status, next_attempt_at);
        CREATE INDEX outbox_status ON outbox(status);
        """,
        // 8: a sale.recorded delivery names its deal.
        """
        ALTER TABLE outbox ADD COLUMN deal_id TEXT;
        """,
        // 9: the number of the last change applied from each journal, so that a journal replays exactly the rest.
        """
        CREATE TABLE journals (name TEXT PRIMARY KEY, through INTEGER NOT NULL);
        """,
        // 10: the node that took each call (empty on a single node; the same column as in PostgreSQL).
        """
        ALTER TABLE calls ADD COLUMN node TEXT;
        """,
    ]

    static func migrate(_ db: SQLiteDatabase) throws {
        let current = try db.scalar("PRAGMA user_version")?.int ?? 0
        guard current < all.count else { return }
        for (i, script) in all.enumerated() where i >= current {
            do { try db.executeScript("BEGIN IMMEDIATE; \(script); PRAGMA user_version = \(i + 1); COMMIT;") } catch {
                try? db.executeScript("ROLLBACK")
                throw error
            }
        }
    }
}
