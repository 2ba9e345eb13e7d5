import Foundation
import Synchronization

/// Dashboard sessions in memory: a restart signs everyone out, and the table has a cap so that
/// sign-ins cannot grow it without bound (the least recently used session makes room).
public final class InMemoryDashboardSessions: DashboardSessionRepository {
    public let capacity: Int
    private let sessions = Mutex<[String: DashboardSession]>([:])

    public init(capacity: Int = 10_000) { self.capacity = capacity }

    public func create(now: Double = Date().timeIntervalSince1970) -> (id: String, session: DashboardSession) {
        let id = DashboardSessionPolicy.randomToken()
        let session = DashboardSession(csrf: DashboardSessionPolicy.randomToken(), created: now, lastUsed: now)
        sessions.withLock { all in
            if all.count >= capacity {
                all = all.filter { DashboardSessionPolicy.alive($0.value, now: now) }
                if all.count >= capacity, let oldest = all.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                    all[oldest.key] = nil
                }
            }
            all[id] = session
        }
        return (id, session)
    }

    public func session(_ id: String, now: Double = Date().timeIntervalSince1970) -> DashboardSession? {
        sessions.withLock { all in
            guard var s = all[id] else { return nil }
            guard DashboardSessionPolicy.alive(s, now: now) else {
                all[id] = nil
                return nil
            }
            s.lastUsed = now
            all[id] = s
            return s
        }
    }

    public func end(_ id: String) { sessions.withLock { $0[id] = nil } }

    public var count: Int { sessions.withLock { $0.count } }
}
