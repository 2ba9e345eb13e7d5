import CallTrackCore
import Foundation
import Synchronization

/// The live state of every project's number pools and reservations, in memory, with the visit
/// histories of the visitors who hold a number.
///
/// HTTP reserves through it; the SIP path asks it who a number belongs to when an INVITE
/// arrives (a short lock, no I/O). Every change is also handed to `persist`, which must not
/// block; Storage writes it asynchronously and hands it back through `TrackingSnapshot` at start.
/// Memory grows with live state only: a visitor's history is read from storage (`history`, off
/// the SIP path) when they get a number and forgotten once they can no longer call on it.
public final class NumberPoolBook: Sendable {
    struct State {
        var byClient: [String: Reservation] = [:]
        var byNumber: [PhoneNumber: Reservation] = [:]
        /// Expired reservations kept for late callers until the number is handed out again.
        var expired: [PhoneNumber: Reservation] = [:]
        var releasedAt: [PhoneNumber: Date] = [:]
        /// Histories of visitors holding a live or grace reservation, by `project␟client`.
        var visits: [String: [Visit]] = [:]
        /// What each recent visitor last reported (a heartbeat from the same page is not a new
        /// visit); bounded by time and count, so fresh client ids cannot grow it without end.
        var lastSeen: [String: (fingerprint: Int, at: Date)] = [:]
        var lastSeenPrunedAt = Date.distantPast
        /// Live reservations per `project␟address`.
        var perAddress: [String: Int] = [:]
        /// Visitors refused a number because their address held its share, since start, per project.
        var addressLimited: [String: Int] = [:]
        /// No live reservation expires before this: `expire` has nothing to do until then.
        var nextExpiry = Date.distantPast
        /// The expiry last handed to persistence per reservation, so heartbeats are stored sparingly.
        var persistedExpiry: [String: Date] = [:]
        /// Live reservations per pool (`project␟pool`), so an exhausted pool is seen without a scan.
        var taken: [String: Int] = [:]
        /// Exhaustions and address refusals not yet handed to persistence, per pool and kind:
        /// stored at most once a second.
        var pendingExhaustions: [String: (project: String, pool: String, first: Date, count: Int, byAddress: Bool)] =
            [:]
        var exhaustionsReportedAt = Date.distantPast

        mutating func hold(_ r: Reservation) {
            taken[NumberPoolBook.clientKey(r.projectKey, r.poolName), default: 0] += 1
            if let a = r.address { perAddress[NumberPoolBook.clientKey(r.projectKey, a), default: 0] += 1 }
        }
        mutating func free(_ r: Reservation) {
            taken[NumberPoolBook.clientKey(r.projectKey, r.poolName), default: 1] -= 1
            if let a = r.address {
                let key = NumberPoolBook.clientKey(r.projectKey, a)
                perAddress[key, default: 1] -= 1
                if perAddress[key]! <= 0 { perAddress.removeValue(forKey: key) }
            }
        }

        /// Drops a visitor's history once they hold no number, live or in its grace period.
        mutating func forgetVisits(project: String, client: String) {
            let key = NumberPoolBook.clientKey(project, client)
            guard byClient[key] == nil,
                !expired.values.contains(where: { $0.projectKey == project && $0.clientID == client })
            else { return }
            visits.removeValue(forKey: key)
        }
    }

    /// A call this long after its reservation expired is still attributed (flagged late).
    public let lateGrace: TimeInterval
    /// The projects' pools and how their numbers are written, from the configuration.
    public let layout: PoolLayout
    var projects: [String: PoolLayout.Project] { layout.projects }
    var plan: NumberPlan { layout.plan }
    let state = Mutex(State())
    let persist: @Sendable (TrackingChange) -> Void
    /// A visitor's stored visits, oldest first (read from storage when they get a number).
    private let history: @Sendable (_ project: String, _ client: String) -> [Visit]
    /// Live numbers one client address may hold per project.
    public let maxNumbersPerAddress: Int
    static let visitsKept = 50
    /// Recent visitors remembered for heartbeat detection, at most.
    static let lastSeenCapacity = 200_000

    public init(
        config: CallTrackConfig, snapshot: TrackingSnapshot = .init(), lateGrace: TimeInterval = 1800,
        history: @escaping @Sendable (_ project: String, _ client: String) -> [Visit] = { _, _ in [] },
        persist: @escaping @Sendable (TrackingChange) -> Void
    ) {
        self.lateGrace = lateGrace
        self.persist = persist
        self.history = history
        maxNumbersPerAddress = config.tracking.maxNumbersPerAddress
        layout = PoolLayout(config: config)
        let plan = layout.plan
        state.withLock { s in
            for r in snapshot.reservations where plan[r.number] != nil {
                s.byClient[Self.clientKey(r.projectKey, r.clientID)] = r
                s.byNumber[r.number] = r
                s.persistedExpiry[r.id] = r.expiresAt
                s.hold(r)
            }
            s.releasedAt = snapshot.releasedAt
            // Only the histories of visitors who can still call on a number are kept.
            for v in snapshot.visits.sorted(by: { $0.at < $1.at }) {
                let key = Self.clientKey(v.projectKey, v.clientID)
                guard s.byClient[key] != nil else { continue }
                s.visits[key, default: []].append(v)
                if s.visits[key]!.count > Self.visitsKept { s.visits[key]!.removeFirst() }
                s.lastSeen[key] = (v.fingerprint, v.at)
            }
        }
    }

    static func clientKey(_ project: String, _ client: String) -> String { project + "\u{1f}" + client }

    public func hasProject(_ key: String) -> Bool { projects[key] != nil }

    /// Records the visit and gives the visitor a number: their live one (renewed), a free one
    /// (least recently released first), or the static number when the pool is exhausted or the
    /// client `address` already holds `maxNumbersPerAddress` of this project's numbers.
    public func reserve(
        projectKey: String, clientID: String, report: VisitReport, address: String? = nil, now: Date = Date()
    ) -> NumberAssignment? {
        guard let project = projects[projectKey] else { return nil }
        let visit = layout.visit(projectKey: projectKey, clientID: clientID, report: report, at: now)
        var changes: [TrackingChange] = []
        var needsHistory = false
        var kind = Telemetry.ReservationKind.dynamic, exhaustedPool: String?
        let assignment: NumberAssignment? = state.withLock { s in
            expire(&s, now: now, changes: &changes)
            if !s.pendingExhaustions.isEmpty, now.timeIntervalSince(s.exhaustionsReportedAt) >= 1 {
                takeExhaustions(&s, now: now, into: &changes)
            }
            let key = Self.clientKey(projectKey, clientID)
            let fingerprint = visit.fingerprint
            let isNewVisit = s.lastSeen[key]?.fingerprint != fingerprint
            s.lastSeen[key] = (fingerprint, now)
            if isNewVisit { changes.append(.visit(visit)) }
            if var live = s.byClient[key] {
                if isNewVisit { keep(visit, for: key, in: &s) }
                live.expiresAt = now.addingTimeInterval(project.ttl)
                s.byClient[key] = live
                s.byNumber[live.number] = live
                // A heartbeat is stored once a tenth of the TTL has passed since the stored expiry:
                // after a crash the reservation lives on at most that much shorter.
                if live.expiresAt.timeIntervalSince(s.persistedExpiry[live.id] ?? .distantPast) >= project.ttl / 10 {
                    s.persistedExpiry[live.id] = live.expiresAt
                    changes.append(.reserved(live))
                }
                kind = .renewed
                return project.assignment(live)
            }
            guard let pool = project.pool(for: visit.region) else { return nil }
            if let address, s.perAddress[Self.clientKey(projectKey, address), default: 0] >= maxNumbersPerAddress {
                s.addressLimited[projectKey, default: 0] += 1
                countShortfall(&s, project: projectKey, pool: pool.name, byAddress: true, now: now, into: &changes)
                kind = .static
                return project.staticAssignment(pool)
            }
            let exhausted = s.taken[Self.clientKey(projectKey, pool.name), default: 0] >= pool.numbers.count
            // (index(forKey:) looks a number up without copying its reservation)
            let free = exhausted ? [] : pool.numbers.filter { s.byNumber.index(forKey: $0) == nil }
            guard let number = free.min(by: { (s.releasedAt[$0] ?? .distantPast) < (s.releasedAt[$1] ?? .distantPast) })
            else {
                countShortfall(&s, project: projectKey, pool: pool.name, byAddress: false, now: now, into: &changes)
                kind = .static
                exhaustedPool = pool.name
                return project.staticAssignment(pool)
            }
            let r = Reservation(
                id: UUID().uuidString.lowercased(), projectKey: projectKey, clientID: clientID, number: number,
                poolName: pool.name, createdAt: now, expiresAt: now.addingTimeInterval(project.ttl), address: address)
            if let previous = s.expired.removeValue(forKey: number) {
                s.forgetVisits(project: previous.projectKey, client: previous.clientID)
            }
            s.byClient[key] = r
            s.byNumber[number] = r
            s.nextExpiry = min(s.nextExpiry, r.expiresAt)
            s.persistedExpiry[r.id] = r.expiresAt
            s.hold(r)
            changes.append(.reserved(r))
            // A new holder: their earlier visits (first click, last non-direct) come from storage.
            needsHistory = s.visits[key] == nil
            keep(visit, for: key, in: &s)
            return project.assignment(r)
        }
        changes.forEach(persist)
        if needsHistory { loadHistory(projectKey: projectKey, clientID: clientID) }
        if assignment != nil { Telemetry.reservation(project: projectKey, kind: kind) }
        if let exhaustedPool { Telemetry.poolExhausted(project: projectKey, pool: exhaustedPool) }
        return assignment
    }

    /// Merges a new holder's stored visits under the ones already in memory (outside the lock: it reads storage).
    private func loadHistory(projectKey: String, clientID: String) {
        let stored = history(projectKey, clientID)
        guard !stored.isEmpty else { return }
        state.withLock { s in
            let key = Self.clientKey(projectKey, clientID)
            guard s.byClient[key] != nil else { return }
            let recent = s.visits[key] ?? []
            let known = Set(recent.map { "\($0.at.timeIntervalSince1970)|\($0.page)" })
            var merged = stored.filter { !known.contains("\($0.at.timeIntervalSince1970)|\($0.page)") } + recent
            merged.sort { $0.at < $1.at }
            s.visits[key] = Array(merged.suffix(Self.visitsKept))
        }
    }

    private func keep(_ visit: Visit, for key: String, in s: inout State) {
        s.visits[key, default: []].append(visit)
        if s.visits[key]!.count > Self.visitsKept { s.visits[key]!.removeFirst() }
    }

    private func countShortfall(
        _ s: inout State, project: String, pool: String, byAddress: Bool, now: Date,
        into changes: inout [TrackingChange]
    ) {
        let key = Self.clientKey(project, pool) + (byAddress ? "\u{1f}address" : "")
        s.pendingExhaustions[key, default: (project, pool, now, 0, byAddress)].count += 1
        if now.timeIntervalSince(s.exhaustionsReportedAt) >= 1 { takeExhaustions(&s, now: now, into: &changes) }
    }

    private func takeExhaustions(_ s: inout State, now: Date, into changes: inout [TrackingChange]) {
        for e in s.pendingExhaustions.values {
            changes.append(
                e.byAddress
                    ? .addressLimited(projectKey: e.project, pool: e.pool, at: e.first, count: e.count)
                    : .exhausted(projectKey: e.project, pool: e.pool, at: e.first, count: e.count))
        }
        s.pendingExhaustions.removeAll()
        s.exhaustionsReportedAt = now
    }

    /// Hands every change still held back (exhaustion counts) to persistence; called at shutdown.
    public func flush() {
        var changes: [TrackingChange] = []
        state.withLock { takeExhaustions(&$0, now: Date(), into: &changes) }
        changes.forEach(persist)
    }

    func expire(_ s: inout State, now: Date, changes: inout [TrackingChange]) {
        if now.timeIntervalSince(s.lastSeenPrunedAt) >= 60 { pruneLastSeen(&s, now: now) }
        guard now >= s.nextExpiry else { return }
        var next = Date.distantFuture
        for (number, r) in s.byNumber {
            guard r.expiresAt <= now else {
                next = min(next, r.expiresAt)
                continue
            }
            s.byNumber.removeValue(forKey: number)
            s.byClient.removeValue(forKey: Self.clientKey(r.projectKey, r.clientID))
            s.persistedExpiry.removeValue(forKey: r.id)
            s.free(r)
            s.expired[number] = r
            s.releasedAt[number] = r.expiresAt
            changes.append(.released(reservationID: r.id, number: number, at: r.expiresAt))
        }
        for (number, r) in s.expired where now.timeIntervalSince(r.expiresAt) > lateGrace {
            s.expired.removeValue(forKey: number)
            s.forgetVisits(project: r.projectKey, client: r.clientID)
        }
        // Expired entries kept for late callers also need a look once their grace ends.
        if let oldest = s.expired.values.map(\.expiresAt).min() {
            next = min(next, oldest.addingTimeInterval(lateGrace))
        }
        s.nextExpiry = next
    }

    /// Forgets visitors not heard from for two reservation times (the longest TTL); under a flood of
    /// fresh client ids the table is emptied rather than grown (a few heartbeats then count as visits).
    private func pruneLastSeen(_ s: inout State, now: Date) {
        s.lastSeenPrunedAt = now
        let keep = 2 * (projects.values.map(\.ttl).max() ?? 360)
        s.lastSeen = s.lastSeen.filter { now.timeIntervalSince($0.value.at) < keep }
        if s.lastSeen.count > Self.lastSeenCapacity { s.lastSeen.removeAll() }
    }

    /// Each pool's numbers and how many of them are held now, for the metrics.
    public func poolUse() -> [(project: String, pool: String, held: Int, size: Int)] {
        let taken = state.withLock { $0.taken }
        return projects.values.flatMap { project in
            project.pools.map { pool in
                (project.key, pool.name, taken[Self.clientKey(project.key, pool.name), default: 0], pool.numbers.count)
            }
        }.sorted { ($0.project, $0.pool) < ($1.project, $1.pool) }
    }

    /// Live reservations per project (for health figures).
    public func liveReservations(projectKey: String, now: Date = Date()) -> Int {
        state.withLock { s in s.byNumber.values.filter { $0.projectKey == projectKey && $0.expiresAt > now }.count }
    }

    /// A visitor's history as held in memory, oldest first (empty unless they hold a number).
    public func visits(projectKey: String, clientID: String) -> [Visit] {
        state.withLock { $0.visits[Self.clientKey(projectKey, clientID)] ?? [] }
    }

    /// Visitors whose histories are held in memory (those who hold a number), and recent visitors remembered.
    public var visitorsInMemory: (histories: Int, recent: Int) {
        state.withLock { ($0.visits.count, $0.lastSeen.count) }
    }

    /// Visitors refused a number since start because their address held its share, per project.
    public func addressLimitedCount(projectKey: String) -> Int { state.withLock { $0.addressLimited[projectKey] ?? 0 } }
}
