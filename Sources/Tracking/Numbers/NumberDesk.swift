import CallTrackCore
import Foundation

/// Where visitors get their numbers: `NumberPoolBook` in memory on a single node, or the pool book every
/// node shares in PostgreSQL. The HTTP API reserves and reports through this alone.
public protocol NumberDesk: Sendable {
    /// The projects' pools and how their numbers are written, from the configuration.
    var layout: PoolLayout { get }

    /// Records the visit and gives the visitor a number: their live one (renewed), a free one, or the
    /// static number when the pool is exhausted or the `address` holds its share; nil for a project
    /// without a pool. Throws when the shared book cannot answer in time.
    func assign(projectKey: String, clientID: String, report: VisitReport, address: String?, now: Date) async throws
        -> NumberAssignment?

    /// Live reservations of a project.
    func liveReservationCount(projectKey: String, now: Date) async throws -> Int

    /// Each pool's numbers held now and its size, for the metrics.
    func poolUse(at now: Date) async throws -> [PoolUse]

    /// Visitor histories this node holds in memory, and recent visitors it remembers.
    var visitorsInMemory: (histories: Int, recent: Int) { get }

    /// Visitors this node gave the static number since start because their address held its share.
    func addressLimitedCount(projectKey: String) -> Int
}

/// How much of one pool is held.
public struct PoolUse: Sendable, Equatable {
    public let project, pool: String
    public let held, size: Int

    public init(project: String, pool: String, held: Int, size: Int) {
        self.project = project
        self.pool = pool
        self.held = held
        self.size = size
    }
}

extension NumberDesk {
    /// How many dynamic numbers a project's pools hold.
    public func poolSize(projectKey: String) -> Int {
        layout.projects[projectKey]?.pools.reduce(0) { $0 + $1.numbers.count } ?? 0
    }
}

extension NumberPoolBook: NumberDesk {
    public func assign(projectKey: String, clientID: String, report: VisitReport, address: String?, now: Date)
        async throws -> NumberAssignment?
    { reserve(projectKey: projectKey, clientID: clientID, report: report, address: address, now: now) }

    public func liveReservationCount(projectKey: String, now: Date) async throws -> Int {
        liveReservations(projectKey: projectKey, now: now)
    }

    public func poolUse(at now: Date) async throws -> [PoolUse] {
        poolUse().map { PoolUse(project: $0.project, pool: $0.pool, held: $0.held, size: $0.size) }
    }
}
