import CallTrackCore
import Delivery
import Foundation
import HTTPAPI
import Hummingbird
import Logging
import Metrics
import Prometheus
import Recording
import ServiceLifecycle
import Storage
import Telephony
import Tracking

/// Builds every service of a CallTrack node from its configuration.
///
/// Order matters for shutdown: ServiceGroup stops services in reverse, so the SIP engine
/// drains first (HTTP stays up meanwhile), then HTTP stops, and the record writer ends
/// last, once the engine has finished the event stream.
/// Makes Prometheus swift-metrics' backend for the whole process (once, before anything counts),
/// and returns its registry for `/metrics`.
public func bootstrapMetrics() -> PrometheusCollectorRegistry {
    let registry = PrometheusCollectorRegistry()
    var factory = PrometheusMetricsFactory(registry: registry)
    factory.durationHistogramBuckets = Telemetry.buckets.mapValues { $0.map { Duration.nanoseconds(Int64($0 * 1e9)) } }
    MetricsSystem.bootstrap(factory)
    Telemetry.start()
    return registry
}

/// Runs a node until SIGTERM or SIGINT: on SQLite alone, or as one of several nodes sharing PostgreSQL
/// (reached within 30 s of the start, its schema brought up to date, this node's id claimed for its life).
public func runNode(
    config: CallTrackConfig, environment: [String: String], metrics: PrometheusCollectorRegistry, logger: Logger
) async throws {
    guard config.storage.backend == .postgres, let cluster = config.cluster else {
        return try await buildApplication(
            config: config, storage: try NodeStorage(sqlite: config), environment: environment, metrics: metrics,
            logger: logger
        ).run()
    }
    let database = PostgresDatabase(settings: try postgresSettings(config, environment), logger: logger)
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await database.run() }
        defer { tasks.cancelAll() }
        let claim: NodeClaim
        do {
            try await database.waitUntilReachable(seconds: 30)
            try await database.migrate()
            claim = try await ClusterNodes(database: database).claim(cluster.nodeID, logger: logger)
        } catch let error as DatabaseError { throw StartupError("storage.postgres: \(error.message)") } catch {
            throw StartupError("\(error)")
        }
        let storage = NodeStorage(
            postgres: database, claim: claim, cluster: cluster, recordings: config.storage.recordings)
        try await buildApplication(
            config: config, storage: storage, environment: environment, metrics: metrics, logger: logger
        ).run()
    }
}

/// `storage.postgres` with the address from the environment variable `url_env` names.
func postgresSettings(_ config: CallTrackConfig, _ environment: [String: String]) throws -> PostgresSettings {
    let p = config.storage.postgres
    guard let url = environment[p.urlEnv], !url.isEmpty else {
        throw StartupError(
            "storage.postgres.url_env: \(p.urlEnv) is not set; it holds postgres://USER:PASSWORD@HOST:PORT/DATABASE")
    }
    guard
        let settings = PostgresSettings(
            url: url, poolSize: p.poolSize, statementTimeoutMilliseconds: p.statementTimeoutMs)
    else {
        throw StartupError(
            "storage.postgres.url_env: \(p.urlEnv) is not a postgres://USER:PASSWORD@HOST:PORT/DATABASE address")
    }
    return settings
}

/// Where a node keeps its state: the SQLite file beside it, or the PostgreSQL every node shares. Either way
/// the journals of changes not yet in the database are on the node's own disk.
struct NodeStorage {
    /// Batch writers' connection, and the read connections of the admin API, the tracking path and the SIP
    /// path (SQLite: one each, so a report never holds up a reservation or a call; PostgreSQL: its pool).
    let writes, reads, trackingReads, callerReads: any SQLDatabase
    let journals: String
    /// This node among several; nil alone.
    let cluster: (config: ClusterConfig, database: PostgresDatabase, claim: NodeClaim)?

    init(sqlite config: CallTrackConfig) throws {
        let path = config.storage.database
        do {
            writes = try SQLiteDatabase(path: path)
            reads = try SQLiteDatabase(path: path, readOnly: true)
            trackingReads = try SQLiteDatabase(path: path, readOnly: true)
            // The SIP path's question (has this caller called before?) never waits behind a report.
            callerReads = try SQLiteDatabase(path: path, readOnly: true)
        } catch { throw StartupError("storage.database: cannot open \(path): \(error)") }
        journals = path + ".journal"
        cluster = nil
    }

    init(postgres database: PostgresDatabase, claim: NodeClaim, cluster: ClusterConfig, recordings: String) {
        writes = database
        reads = database
        trackingReads = database
        callerReads = database
        // Beside the recordings, one folder per node: several nodes may share the recordings' mount.
        journals = recordings + "/.journal/" + cluster.nodeID
        self.cluster = (cluster, database, claim)
    }

    var nodeID: String? { cluster?.config.nodeID }
}

func buildApplication(
    config: CallTrackConfig, storage: NodeStorage, environment: [String: String], metrics: PrometheusCollectorRegistry,
    logger: Logger
) async throws -> ServiceGroup {
    let plan: DeliveryPlan
    do { plan = try DeliveryPlan(config: config, environment: environment) } catch let error as DeliveryPlanError {
        throw StartupError(error.description)
    }
    let node = storage.nodeID
    let store = CallRecordStore(
        database: storage.writes, reads: storage.reads, numbering: config.numbering, deliveries: plan.routes, node: node
    )
    let outbox = Outbox(database: storage.writes)
    // Changes reach the database in batches; each is first written to a journal on this node's disk, and
    // what a crash left there is applied now (docs/reliability.md).
    let journals = storage.journals
    do { try FileManager.default.createDirectory(atPath: journals, withIntermediateDirectories: true) } catch {
        throw StartupError("storage: cannot create the journal folder \(journals): \(error)")
    }
    let heartbeat = Heartbeat(path: journals + "/alive", logger: logger)
    let journal: Journal<CallEvent> = try await recoverJournal(
        journals + "/calls", applied: try await store.appliedEventNumber(), logger: logger, apply: store.apply)
    let events = CallEventBus(log: journal, firstNumber: journal.nextNumber)
    let recorder = Recording.Recorder(root: config.storage.recordings, events: events, logger: logger)
    try await repairInterruptedRecordings(store: store, recorder: recorder, logger: logger)
    let backfilled = try await store.backfillLeads()
    if backfilled > 0 {
        logger.info("calls stored before leads existed were added to leads", metadata: ["calls": "\(backfilled)"])
    }
    let interrupted = try await store.finaliseInterruptedCalls(lastAlive: heartbeat.lastAlive())
    if interrupted > 0 {
        logger.warning(
            "calls left open by an unclean stop were marked interrupted", metadata: ["calls": "\(interrupted)"])
    }

    let writer = BatchWriter(name: "call records", changes: events.subscribe(), logger: logger) { batch in
        try await store.apply(batch)
        if let last = batch.last { journal.applied(through: last.number) }
    }

    let trackingStore = TrackingStore(database: storage.writes, reads: storage.trackingReads, node: node)
    let trackingJournal: Journal<TrackingChange> = try await recoverJournal(
        journals + "/tracking", applied: try await trackingStore.appliedChangeNumber(), logger: logger,
        apply: trackingStore.apply)
    let tracking = EventBus(log: trackingJournal, firstNumber: trackingJournal.nextNumber)
    let trackingChanges = tracking.subscribe()
    let numbers: any NumberDesk, attributor: any CallAttributor, flushNumbers: @Sendable () -> Void
    if let cluster = storage.cluster {
        // Every node reserves on the pool book in PostgreSQL, and reads it when a call comes.
        let layout = PoolLayout(config: config)
        let book = SharedPoolBook(database: cluster.database)
        try await book.arrange(layout.projects.values.flatMap { p in p.pools.map { (p.key, $0.name, $0.numbers) } })
        numbers = SharedNumberDesk(
            layout: layout, book: book, maxNumbersPerAddress: config.tracking.maxNumbersPerAddress,
            persist: { tracking.publish($0) })
        attributor = SharedAttributor(layout: layout, book: book, logger: logger)
        flushNumbers = {}
    } else {
        let trackingReads = storage.trackingReads as! SQLiteDatabase
        let book = NumberPoolBook(
            config: config, snapshot: try await trackingStore.snapshot(),
            history: { project, client in
                (try? TrackingStore.visits(in: trackingReads, projectKey: project, clientID: client)) ?? []
            }, persist: { tracking.publish($0) })
        numbers = book
        attributor = book
        flushNumbers = { book.flush() }
    }
    let trackingWriter = BatchWriter(
        name: "visits and reservations", changes: trackingChanges,
        finishOnShutdown: {
            flushNumbers()
            tracking.finish()
        }, logger: logger
    ) { batch in
        try await trackingStore.apply(batch)
        if let last = batch.last { trackingJournal.applied(through: last.number) }
    }
    let router = CallRouter(config: config, environment: environment)
    let statistics = CallStatistics()
    let callers = CallRecordStore(database: storage.writes, reads: storage.callerReads, numbering: config.numbering)
    let engine = SIPEngine(
        config: config, router: router, events: events, statistics: statistics, recorder: recorder,
        attributor: attributor, callerHistory: callers, logger: logger)
    let membership = storage.cluster.map { cluster in
        ClusterMembership(
            config: cluster.config, database: cluster.database, claim: cluster.claim, calls: store,
            activeCalls: { engine.activeCallCount }, draining: { engine.isDraining }, logger: logger)
    }
    // With several nodes, once-per-cluster work is done by the node holding its lease.
    let leases: any JobLeases = membership ?? SoleNode()
    let visitRetention = VisitRetention(
        store: trackingStore, days: config.tracking.visitRetentionDays,
        intervalSeconds: config.tracking.sweepIntervalSeconds, leases: leases, logger: logger)

    let connections = HTTPConnectionRegistry(limits: httpLimits(config, logger: logger))
    let tokens = (environment[config.admin.tokensEnv] ?? "").split(separator: ",").map {
        $0.trimmingCharacters(in: .whitespaces)
    }.filter { !$0.isEmpty }
    if tokens.isEmpty {
        logger.warning("no admin tokens: set \(config.admin.tokensEnv) to use the admin API; it answers 401 until then")
    }
    let deps = APIDependencies(
        calls: store, tracking: trackingStore, outbox: outbox,
        sessions: storage.cluster.map { SharedDashboardSessions(database: $0.database) } ?? InMemoryDashboardSessions(),
        recordingsFolder: config.storage.recordings, adminTokens: tokens, statistics: statistics,
        projects: config.projects.map { PublicProject(config: $0, numbering: config.numbering) }, numbers: numbers,
        cluster: membership, reservationsPerMinute: config.http.reservationsPerMinute,
        regionHeader: config.http.regionHeader, trustedProxies: config.http.trustedProxies, metrics: metrics,
        sipReady: { engine.isReady }, activeCalls: { engine.activeCallCount }, connections: connections)
    let listen = config.http.listen
    let http = Application(
        router: buildRouter(deps),
        server: .http1(configuration: .init(additionalChannelHandlers: connections.channelHandlers())),
        configuration: .init(
            address: .hostname(listen.host, port: listen.port), serverName: "CallTrack", backlog: 1024), logger: logger)

    let retention = RecordingRetention(
        index: store, root: config.storage.recordings, days: config.recording.retentionDays,
        intervalSeconds: config.recording.sweepIntervalSeconds, logger: logger)

    let deliveries = OutboxSender(
        outbox: outbox, channels: plan.channels,
        source: DeliverySource(calls: store, callJSON: callJSONData, saleJSON: saleJSONData), config: config.delivery,
        smtp: config.smtp.map { SMTPRelay(config: $0, password: $0.passwordEnv.flatMap { environment[$0] }) },
        leases: leases, logger: logger)

    // The cluster heartbeat stops last: the others see this node until its calls have drained.
    let clusterServices: [ServiceGroupConfiguration.ServiceConfiguration] =
        membership.map { [.init(service: $0)] } ?? []
    return ServiceGroup(
        configuration: .init(
            services: clusterServices + [
                .init(service: heartbeat), .init(service: writer), .init(service: trackingWriter),
                .init(service: retention), .init(service: visitRetention), .init(service: deliveries),
                .init(service: http), .init(service: engine),
            ], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
}

/// HTTP's limits, with its connections capped below what SIP and RTP need of the file descriptor
/// limit: a relay socket per RTP port, and a reserve for SIP, TCP trunks, the database and logs.
func httpLimits(_ config: CallTrackConfig, logger: Logger) -> HTTPConnectionLimits {
    let fdLimit = SIPEngine.raiseFileLimit()
    let rtpSockets = config.sip.rtpPorts.max - config.sip.rtpPorts.min + 1
    let reserve = 512
    let room = fdLimit - rtpSockets - reserve
    var maxConnections = config.http.maxConnections
    if room < maxConnections {
        maxConnections = max(16, room)
        logger.warning(
            "http.max_connections lowered so HTTP cannot take the file descriptors SIP and RTP need",
            metadata: [
                "fd_limit": "\(fdLimit)", "rtp_sockets": "\(rtpSockets)", "reserve": "\(reserve)",
                "http_max_connections": "\(maxConnections)",
            ])
    }
    return HTTPConnectionLimits(
        maxConnections: maxConnections, idleTimeout: .seconds(Int64(config.http.idleTimeoutSeconds)),
        requestTimeout: .seconds(Int64(config.http.requestTimeoutSeconds)))
}

/// Opens the journal in `directory` and applies, in batches, what the last run wrote there but not to the
/// database (a crash between the two).
func recoverJournal<Entry>(
    _ directory: String, applied: UInt64, logger: Logger, apply: ([Numbered<Entry>]) async throws -> Void
) async throws -> Journal<Entry> {
    let journal: Journal<Entry>
    do { journal = try Journal(directory: directory, applied: applied, logger: logger) } catch {
        throw StartupError("storage.database: cannot open the journal \(directory): \(error)")
    }
    let left = journal.leftover
    if left.unreadable > 0 {
        logger.warning(
            "lines of a journal could not be read",
            metadata: ["journal": "\(directory)", "lines": "\(left.unreadable)"])
    }
    guard let last = left.entries.last else { return journal }
    for start in stride(from: 0, to: left.entries.count, by: 512) {
        try await apply(Array(left.entries[start..<min(start + 512, left.entries.count)]))
    }
    journal.applied(through: last.number)
    logger.warning(
        "changes an unclean stop left out of the database were applied from its journal",
        metadata: ["journal": "\(directory)", "changes": "\(left.entries.count)"])
    return journal
}

/// Makes the WAV files a crash left open playable and marks their calls' recordings interrupted.
func repairInterruptedRecordings(store: CallRecordStore, recorder: Recording.Recorder, logger: Logger) async throws {
    let open = try await store.recordingsInProgress()
    for (id, path) in open {
        if let fixed = recorder.repairInterrupted(relativePath: path) {
            try await store.updateRecording(
                RecordingSummary(
                    callID: id, status: .interrupted, path: path, bytes: fixed.bytes, seconds: fixed.seconds,
                    sampleRate: fixed.sampleRate, reason: "CallTrack stopped during the call; audio up to then is kept")
            )
        } else {
            try await store.updateRecording(
                RecordingSummary(
                    callID: id, status: .failed, path: nil, bytes: 0, seconds: 0, sampleRate: 0,
                    reason: "CallTrack stopped during the call and the file \(path) is missing or unreadable"))
        }
    }
    if !open.isEmpty {
        logger.warning("recordings cut short by an unclean stop were repaired", metadata: ["count": "\(open.count)"])
    }
}

/// A problem that stops CallTrack from starting, with a message for the admin.
public struct StartupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// `calltrack import --from FILE`: a single node's history (its SQLite file, with what its journals hold
/// and its calls left open closed as interrupted) moved into the empty PostgreSQL of the cluster `config`
/// names. Returns the rows moved per table.
public func importHistory(from path: String, config: CallTrackConfig, environment: [String: String], logger: Logger)
    async throws -> [(table: String, rows: Int)]
{
    guard config.storage.backend == .postgres else {
        throw StartupError("storage.backend: import moves a history into PostgreSQL; this configuration uses sqlite")
    }
    guard FileManager.default.fileExists(atPath: path) else { throw StartupError("--from: no file at \(path)") }
    let sqlite: SQLiteDatabase
    do { sqlite = try SQLiteDatabase(path: path) } catch { throw StartupError("--from: cannot open \(path): \(error)") }
    let calls = CallRecordStore(database: sqlite), tracking = TrackingStore(database: sqlite)
    let journals = path + ".journal"
    if FileManager.default.fileExists(atPath: journals) {
        _ =
            try await recoverJournal(
                journals + "/calls", applied: try await calls.appliedEventNumber(), logger: logger, apply: calls.apply)
            as Journal<CallEvent>
        _ =
            try await recoverJournal(
                journals + "/tracking", applied: try await tracking.appliedChangeNumber(), logger: logger,
                apply: tracking.apply) as Journal<TrackingChange>
    }
    try await calls.finaliseInterruptedCalls(
        lastAlive: Heartbeat(path: journals + "/alive", logger: logger).lastAlive())
    let database = PostgresDatabase(settings: try postgresSettings(config, environment), logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await database.run() }
        defer { tasks.cancelAll() }
        do {
            try await database.waitUntilReachable(seconds: 30)
            try await database.migrate()
            return try await HistoryImport.run(from: sqlite, into: database)
        } catch let error as DatabaseError { throw StartupError("storage.postgres: \(error.message)") }
    }
}
