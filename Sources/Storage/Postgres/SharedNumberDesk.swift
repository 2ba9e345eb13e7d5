import CallTrackCore
import Foundation
import Synchronization
import Tracking

/// Numbers for visitors when several nodes share one PostgreSQL: what `NumberPoolBook` decides in memory
/// on one node, decided on the shared pool book instead, so a visitor may reach any node on every request.
/// The layout (pools, regions, how numbers are written, the visit a report makes) is the same.
public final class SharedNumberDesk: NumberDesk {
    public let layout: PoolLayout
    let book: SharedPoolBook
    let maxNumbersPerAddress: Int
    /// Renewals' new expiries and refusals, for the reports: written in batches, not on the request's path.
    let persist: @Sendable (TrackingChange) -> Void
    /// What each recent visitor last reported through this node, so a heartbeat from the same page is
    /// not stored as a new visit; bounded (emptied when full: a few heartbeats then count as visits).
    private let lastSeen = Mutex<[String: Int]>([:])
    static let lastSeenCapacity = 200_000
    /// Visitors this node gave the static number because their address held its share, per project.
    private let addressLimited = Mutex<[String: Int]>([:])

    public init(
        layout: PoolLayout, book: SharedPoolBook, maxNumbersPerAddress: Int,
        persist: @escaping @Sendable (TrackingChange) -> Void
    ) {
        self.layout = layout
        self.book = book
        self.maxNumbersPerAddress = maxNumbersPerAddress
        self.persist = persist
    }

    /// Records the visit and gives the visitor a number: their live one (renewed), a free one (least
    /// recently released first), or the static number when the pool is exhausted or the address holds
    /// its share. Throws when PostgreSQL cannot answer in time (the visitor keeps the page's number).
    public func assign(
        projectKey: String, clientID: String, report: VisitReport, address: String? = nil, now: Date = Date()
    ) async throws -> NumberAssignment? {
        guard let project = layout.projects[projectKey] else { return nil }
        let visit = layout.visit(projectKey: projectKey, clientID: clientID, report: report, at: now)
        let isNewVisit = remember(visit)
        guard let pool = project.pool(for: visit.region) else {
            guard
                let live = try await book.renew(projectKey: projectKey, clientID: clientID, now: now, ttl: project.ttl)
            else { return nil }
            return renewed(live, project: project, visit: isNewVisit ? visit : nil)
        }
        let outcome: SharedPoolBook.Outcome
        switch try await book.renew(
            projectKey: projectKey, clientID: clientID, pool: pool.name, address: address,
            maxPerAddress: maxNumbersPerAddress, now: now, ttl: project.ttl)
        {
        case .renewed(let live): return renewed(live, project: project, visit: isNewVisit ? visit : nil)
        case .refused(let refusal):
            // The visit is stored all the same (reports count the visitors the pool could not serve), in a
            // batch: no call can be attributed to it, so nothing waits for it.
            if isNewVisit { persist(.visit(visit)) }
            outcome = refusal
        case .mayTake:
            outcome = try await book.take(
                projectKey: projectKey, pool: pool.name, clientID: clientID, address: address,
                maxPerAddress: maxNumbersPerAddress, now: now, ttl: project.ttl, visit: isNewVisit ? visit : nil)
        }
        switch outcome {
        case .reserved(let r):
            Telemetry.reservation(project: projectKey, kind: r.createdAt == now ? .dynamic : .renewed)
            return project.assignment(r)
        case .addressLimited:
            addressLimited.withLock { $0[projectKey, default: 0] += 1 }
            persist(.addressLimited(projectKey: projectKey, pool: pool.name, at: now, count: 1))
            Telemetry.reservation(project: projectKey, kind: .static)
            return project.staticAssignment(pool)
        case .exhausted:
            persist(.exhausted(projectKey: projectKey, pool: pool.name, at: now, count: 1))
            Telemetry.reservation(project: projectKey, kind: .static)
            Telemetry.poolExhausted(project: projectKey, pool: pool.name)
            return project.staticAssignment(pool)
        }
    }

    /// A live number held longer: its new expiry goes to the reports in a batch.
    private func renewed(_ live: Reservation, project: PoolLayout.Project, visit: Visit?) -> NumberAssignment {
        if let visit { persist(.visit(visit)) }
        persist(.reserved(live))
        Telemetry.reservation(project: project.key, kind: .renewed)
        return project.assignment(live)
    }

    public func liveReservationCount(projectKey: String, now: Date) async throws -> Int {
        try await book.held(now: now).filter { $0.key.project == projectKey }.values.reduce(0, +)
    }

    public func poolUse(at now: Date) async throws -> [PoolUse] {
        let held = try await book.held(now: now)
        return layout.projects.values.flatMap { project in
            project.pools.map { pool in
                PoolUse(
                    project: project.key, pool: pool.name,
                    held: held[.init(project: project.key, pool: pool.name)] ?? 0, size: pool.numbers.count)
            }
        }.sorted { ($0.project, $0.pool) < ($1.project, $1.pool) }
    }

    /// Only the visits this node remembers, to tell heartbeats from new visits: histories are in PostgreSQL.
    public var visitorsInMemory: (histories: Int, recent: Int) { (0, lastSeen.withLock { $0.count }) }

    public func addressLimitedCount(projectKey: String) -> Int { addressLimited.withLock { $0[projectKey] ?? 0 } }

    /// Whether the visit differs from what the visitor last reported through this node.
    private func remember(_ v: Visit) -> Bool {
        let fingerprint = v.fingerprint, key = v.projectKey + "\u{1f}" + v.clientID
        return lastSeen.withLock { seen in
            if seen.count >= Self.lastSeenCapacity { seen.removeAll() }
            return seen.updateValue(fingerprint, forKey: key) != fingerprint
        }
    }
}
