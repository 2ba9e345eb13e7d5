import CallTrackCore
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// This node's part in the cluster, for its whole life: it holds its node id (the claim's connection),
/// writes its heartbeat every `heartbeat_seconds`, and closes the calls of nodes silent for
/// `node_timeout_seconds`. It knows whether PostgreSQL answered lately (for `/healthz`).
public final class ClusterMembership: Service, JobLeases {
    public let nodeID: String
    public let advertisedHTTP: String
    public let nodeTimeout: Double
    let heartbeat: Duration
    let nodes: ClusterNodes
    let calls: CallRecordStore
    /// The connection holding the node id and the leases; made again when PostgreSQL drops it.
    private let claim: Mutex<NodeClaim>
    let startedAt = Date()
    /// Calls up now, and whether this node no longer takes new ones (draining for shutdown).
    let activeCalls: @Sendable () -> Int
    let draining: @Sendable () -> Bool
    let logger: Logger
    /// When a heartbeat last reached PostgreSQL.
    private let lastBeat = Mutex<Date?>(nil)
    /// The jobs whose leases this node holds (advisory locks of the claim's session).
    private let leases = Mutex<Set<String>>([])

    public static let version = "1.0.0-dev"

    /// `claim` is the connection holding the node id (`ClusterNodes.claim`), kept for the node's life.
    public init(
        config: ClusterConfig, database: PostgresDatabase, claim: NodeClaim, calls: CallRecordStore,
        activeCalls: @escaping @Sendable () -> Int, draining: @escaping @Sendable () -> Bool, logger: Logger
    ) {
        nodeID = config.nodeID
        advertisedHTTP = config.advertisedHTTP
        nodeTimeout = Double(config.nodeTimeoutSeconds)
        heartbeat = .seconds(config.heartbeatSeconds)
        nodes = ClusterNodes(database: database)
        self.claim = Mutex(claim)
        self.calls = calls
        self.activeCalls = activeCalls
        self.draining = draining
        self.logger = logger
    }

    /// Whether PostgreSQL took a heartbeat within the node timeout.
    public var storageReachable: Bool {
        lastBeat.withLock { $0.map { Date().timeIntervalSince($0) < nodeTimeout } ?? false }
    }

    /// Every node ever seen, with its status now.
    public func members() async throws -> [ClusterNode] { try await nodes.nodes(now: Date(), timeout: nodeTimeout) }

    /// A node's HTTP address as it advertised it; nil for a node never seen.
    public func advertisedHTTP(of node: String) async throws -> String? {
        try await members().first { $0.id == node }?.advertisedHTTP
    }

    /// A lease is a session advisory lock on the connection that holds the node id: it lasts as long as
    /// the node, and PostgreSQL frees it when the node's connection goes.
    public func hold(_ job: String) async -> Bool {
        let claim = claim.withLock { $0 }
        guard !claim.isLost else { return false }
        if leases.withLock({ $0.contains(job) }) { return true }
        do {
            var got = false
            for try await held in try await claim.connection.query(
                "SELECT pg_try_advisory_lock(hashtextextended(\("job\u{1f}" + job), 0)) AS got", logger: logger
            ).decode(Bool.self) { got = held }
            if got {
                leases.withLock { _ = $0.insert(job) }
                logger.info("this node does a job for the cluster", metadata: ["job": "\(job)"])
            }
            return got
        } catch { return false }
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await reclaimIfLost()
                try await beat()
                try await closeLostNodesCalls()
            } catch { logger.warning("cluster heartbeat failed", metadata: ["error": "\(error)"]) }
            try? await Task.sleep(for: heartbeat)
        }
        // A last word: the others see this node draining, then lost when it stops writing.
        try? await nodes.beat(
            id: nodeID, advertisedHTTP: advertisedHTTP, version: Self.version, startedAt: startedAt, draining: true,
            activeCalls: activeCalls(), now: Date())
        await claim.withLock { $0 }.release()
    }

    /// After PostgreSQL dropped the claim's connection (a restart), the node takes its id again; its
    /// leases went with the connection and are taken again as the jobs ask.
    private func reclaimIfLost() async throws {
        guard claim.withLock({ $0.isLost }) else { return }
        let again = try await nodes.claim(nodeID, logger: logger)
        leases.withLock { $0.removeAll() }
        claim.withLock { $0 = again }
        logger.warning("the connection holding this node's id was lost and made again")
    }

    private func beat() async throws {
        let now = Date()
        try await nodes.beat(
            id: nodeID, advertisedHTTP: advertisedHTTP, version: Self.version, startedAt: startedAt,
            draining: draining(), activeCalls: activeCalls(), now: now, on: claim.withLock { $0 })
        lastBeat.withLock { $0 = now }
    }

    /// Closes the calls in progress of every lost node (they ended with it).
    private func closeLostNodesCalls() async throws {
        for node in try await members() where node.status == .lost && node.id != nodeID {
            let closed = try await calls.closeCalls(ofLostNode: node.id, lastSeen: node.lastSeen)
            if !closed.isEmpty {
                logger.warning(
                    "calls of a lost node were closed",
                    metadata: ["node": "\(node.id)", "calls": "\(closed.count)", "last_seen": "\(node.lastSeen)"])
            }
        }
    }
}
