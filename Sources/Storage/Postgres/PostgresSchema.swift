import PostgresNIO

/// CallTrack's tables in PostgreSQL: the same tables, columns and indexes as in SQLite (times as seconds
/// since 1970 in double precision, flags as 0 and 1), so that the stores' SQL serves both.
///
/// Each step runs once, in order, recorded in `schema_version`, while the node holds an advisory lock, so
/// that nodes starting together never run one twice. Within a release steps only add: a node of the
/// previous release keeps working on a database a newer one migrated.
enum PostgresSchema {
    static let steps: [[String]] = [
        // 1: everything the SQLite schema's steps 1 to 9 made. Ids compare byte by byte (`COLLATE "C"`), as
        // in SQLite, so that pages continue where they stopped whatever the server's locale; `rowid` is
        // SQLite's implicit row number, made explicit where the order of insertion is read.
        [
            """
            CREATE TABLE calls (
                id TEXT COLLATE "C" PRIMARY KEY, project TEXT NOT NULL, trunk TEXT NOT NULL,
                did_dialled TEXT NOT NULL, did TEXT NOT NULL, caller TEXT NOT NULL, caller_name TEXT,
                forward_to TEXT NOT NULL, sip_call_id TEXT NOT NULL, started_at DOUBLE PRECISION NOT NULL,
                ringing_at DOUBLE PRECISION, answered_at DOUBLE PRECISION, ended_at DOUBLE PRECISION,
                status TEXT NOT NULL DEFAULT 'in_progress', missed_reason TEXT, sip_code BIGINT, hangup_by TEXT,
                end_reason TEXT, caller_packets BIGINT NOT NULL DEFAULT 0, caller_bytes BIGINT NOT NULL DEFAULT 0,
                callee_packets BIGINT NOT NULL DEFAULT 0, callee_bytes BIGINT NOT NULL DEFAULT 0,
                interrupted BIGINT NOT NULL DEFAULT 0,
                recording_status TEXT, recording_path TEXT, recording_reason TEXT, recording_bytes BIGINT,
                recording_seconds DOUBLE PRECISION, recording_sample_rate BIGINT,
                number_kind TEXT, pool TEXT, client_id TEXT, reservation_id TEXT, late BIGINT NOT NULL DEFAULT 0,
                source TEXT, medium TEXT, campaign TEXT, keyword TEXT, content TEXT, landing_page TEXT, referrer TEXT,
                channel TEXT, caller_e164 TEXT, first_time BIGINT NOT NULL DEFAULT 0,
                gclid TEXT, yclid TEXT, ga_client_id TEXT, ym_client_id TEXT, node TEXT
            )
            """, "CREATE INDEX calls_project ON calls(project, id)", "CREATE INDEX calls_status ON calls(status)",
            "CREATE INDEX calls_recording ON calls(recording_status, ended_at)",
            "CREATE INDEX calls_project_started ON calls(project, started_at)",
            "CREATE INDEX calls_caller ON calls(project, caller_e164)",
            """
            CREATE TABLE call_dtmf (
                rowid BIGSERIAL PRIMARY KEY, call_id TEXT NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
                side TEXT NOT NULL, digit TEXT NOT NULL, at_seconds DOUBLE PRECISION NOT NULL
            )
            """, "CREATE INDEX call_dtmf_call ON call_dtmf(call_id)",
            """
            CREATE TABLE visits (
                project TEXT NOT NULL, client_id TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, page TEXT NOT NULL,
                referrer TEXT, source TEXT NOT NULL, medium TEXT NOT NULL, campaign TEXT, keyword TEXT, content TEXT,
                gclid TEXT, yclid TEXT, region TEXT, ga_client_id TEXT, ym_client_id TEXT
            )
            """, "CREATE INDEX visits_client ON visits(project, client_id, at)", "CREATE INDEX visits_at ON visits(at)",
            """
            CREATE TABLE reservations (
                id TEXT PRIMARY KEY, project TEXT NOT NULL, client_id TEXT NOT NULL, number TEXT NOT NULL,
                pool TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL,
                released_at DOUBLE PRECISION, client_address TEXT
            )
            """, "CREATE INDEX reservations_live ON reservations(released_at, expires_at)",
            "CREATE INDEX reservations_expires ON reservations(expires_at)",
            "CREATE TABLE number_releases (number TEXT PRIMARY KEY, released_at DOUBLE PRECISION NOT NULL)",
            """
            CREATE TABLE pool_exhaustions (
                project TEXT NOT NULL, pool TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, count BIGINT NOT NULL,
                PRIMARY KEY (project, pool, at)
            )
            """,
            """
            CREATE TABLE address_limited (
                project TEXT NOT NULL, pool TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, count BIGINT NOT NULL,
                PRIMARY KEY (project, pool, at)
            )
            """,
            """
            CREATE TABLE leads (
                project TEXT NOT NULL, phone TEXT NOT NULL, first_call_id TEXT COLLATE "C" NOT NULL,
                first_call_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (project, phone)
            )
            """, "CREATE INDEX leads_first_call ON leads(project, first_call_id)",
            """
            CREATE TABLE sales (
                project TEXT NOT NULL, deal_id TEXT NOT NULL, call_id TEXT NOT NULL, phone TEXT,
                amount DOUBLE PRECISION NOT NULL, created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (project, deal_id)
            )
            """, "CREATE INDEX sales_call ON sales(call_id)",
            """
            CREATE TABLE costs (
                project TEXT NOT NULL, date TEXT NOT NULL, source TEXT NOT NULL, medium TEXT NOT NULL,
                campaign TEXT NOT NULL, keyword TEXT NOT NULL, amount DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (project, date, source, medium, campaign, keyword)
            )
            """,
            """
            CREATE TABLE outbox (
                rowid BIGSERIAL UNIQUE, id TEXT PRIMARY KEY, project TEXT NOT NULL, endpoint TEXT NOT NULL,
                event TEXT NOT NULL, call_id TEXT, deal_id TEXT, created_at DOUBLE PRECISION NOT NULL,
                status TEXT NOT NULL DEFAULT 'pending', attempts BIGINT NOT NULL DEFAULT 0,
                next_attempt_at DOUBLE PRECISION NOT NULL, last_result TEXT, delivered_at DOUBLE PRECISION, body TEXT
            )
            """, "CREATE INDEX outbox_due ON outbox(endpoint, status, next_attempt_at)",
            "CREATE INDEX outbox_status ON outbox(status)",
            "CREATE TABLE journals (name TEXT PRIMARY KEY, through BIGINT NOT NULL)",
        ],
        // 2: the pool book shared by every node: one row per tracking number, which is its lock. A number is
        // held while `held_until` is ahead; after that it is free, and still its last holder's for late
        // callers for the grace period, until someone takes it. A number nobody holds has no `held_until`.
        [
            """
            CREATE TABLE pool_numbers (
                number TEXT PRIMARY KEY, project TEXT NOT NULL, pool TEXT NOT NULL,
                reservation_id TEXT, client_id TEXT, client_address TEXT, created_at DOUBLE PRECISION,
                held_until DOUBLE PRECISION, released_at DOUBLE PRECISION NOT NULL DEFAULT 0
            )
            """, "CREATE INDEX pool_numbers_holder ON pool_numbers(project, client_id)",
            "CREATE INDEX pool_numbers_address ON pool_numbers(project, client_address)",
            "CREATE INDEX pool_numbers_pool ON pool_numbers(project, pool, held_until)",
        ],
        // 3: dashboard sessions every node honours (a hash of each id), and the nodes of the cluster.
        [
            """
            CREATE TABLE dashboard_sessions (
                id_hash TEXT PRIMARY KEY, csrf TEXT NOT NULL, created DOUBLE PRECISION NOT NULL,
                last_used DOUBLE PRECISION NOT NULL
            )
            """,
            """
            CREATE TABLE cluster_nodes (
                id TEXT PRIMARY KEY, advertised_http TEXT NOT NULL, started_at DOUBLE PRECISION NOT NULL,
                last_seen DOUBLE PRECISION NOT NULL, version TEXT NOT NULL, draining BIGINT NOT NULL DEFAULT 0,
                active_calls BIGINT NOT NULL DEFAULT 0
            )
            """,
            // A lost node's calls in progress, found at once by the survivor that closes them.
            "CREATE INDEX calls_open ON calls(node) WHERE status = 'in_progress'",
        ],
    ]

    /// The advisory lock a node holds while it migrates.
    static let migrationLock: Int64 = 0x4354_0001

    /// The schema is newer than this binary knows: an older release started on a newer cluster's database.
    struct TooNew: Error, CustomStringConvertible {
        let database, binary: Int
        var description: String {
            "the database's schema is version \(database); this CallTrack knows versions up to \(binary): "
                + "upgrade it to the release the other nodes run"
        }
    }

    /// Brings the database's tables up to date, one node at a time; returns the version it found.
    @discardableResult static func migrate(_ db: PostgresDatabase) async throws -> Int {
        try await db.withConnection { connection in
            let logger = Logger(label: "calltrack.migrate")
            _ = try await connection.query("SELECT pg_advisory_lock(\(migrationLock))", logger: logger).collect()
            do {
                let found = try await step(connection, logger: logger)
                _ = try await connection.query("SELECT pg_advisory_unlock(\(migrationLock))", logger: logger).collect()
                return found
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(migrationLock))", logger: logger).collect()
                throw error
            }
        }
    }

    private static func step(_ connection: PostgresConnection, logger: Logger) async throws -> Int {
        _ = try await connection.query(
            "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)", logger: logger
        ).collect()
        var found = 0
        for try await version in try await connection.query("SELECT max(version) FROM schema_version", logger: logger)
            .decode(Int?.self)
        { found = version ?? 0 }
        guard found <= steps.count else { throw TooNew(database: found, binary: steps.count) }
        for (i, statements) in steps.enumerated() where i >= found {
            try await connection.withTransaction(logger: logger) { tx in
                for sql in statements {
                    _ = try await tx.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect()
                }
                _ = try await tx.query("DELETE FROM schema_version", logger: logger).collect()
                _ = try await tx.query("INSERT INTO schema_version (version) VALUES (\(i + 1))", logger: logger)
                    .collect()
            }
        }
        return found
    }
}
