import CallTrackCore
import Foundation
import Synchronization

/// Signed-in browsers. The session id (256 random bits) travels only in an HttpOnly, SameSite=Strict
/// cookie; each session has its own CSRF token that its forms carry. Sessions live in memory: a
/// restart signs everyone out, and the table has a cap so that sign-ins cannot grow it without bound.
final class DashboardSessions: Sendable {
    struct Session: Sendable {
        let csrf: String
        let created: Double
        var lastUsed: Double
    }

    /// A session ends after this long without a request, and in any case after `maxAgeSeconds`.
    static let idleSeconds = 8 * 3600.0
    static let maxAgeSeconds = 7 * 86400.0
    let capacity: Int
    private let sessions = Mutex<[String: Session]>([:])

    init(capacity: Int = 10_000) { self.capacity = capacity }

    /// A new session; at the cap the least recently used one makes room.
    func create(now: Double = Date().timeIntervalSince1970) -> (id: String, session: Session) {
        let id = Self.randomToken(), session = Session(csrf: Self.randomToken(), created: now, lastUsed: now)
        sessions.withLock { all in
            if all.count >= capacity {
                all = all.filter { Self.alive($0.value, now: now) }
                if all.count >= capacity, let oldest = all.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                    all[oldest.key] = nil
                }
            }
            all[id] = session
        }
        return (id, session)
    }

    /// The live session with this id, marked as used now.
    func session(_ id: String, now: Double = Date().timeIntervalSince1970) -> Session? {
        sessions.withLock { all in
            guard var s = all[id] else { return nil }
            guard Self.alive(s, now: now) else { all[id] = nil; return nil }
            s.lastUsed = now
            all[id] = s
            return s
        }
    }

    func end(_ id: String) { sessions.withLock { $0[id] = nil } }

    var count: Int { sessions.withLock { $0.count } }

    private static func alive(_ s: Session, now: Double) -> Bool {
        now - s.lastUsed < idleSeconds && now - s.created < maxAgeSeconds
    }

    /// 32 random bytes as hex, from the system's generator.
    static func randomToken() -> String { Hex.random(words: 4) }
}

/// Compares without an early exit, so response time does not reveal how much of a secret matched.
func constantTimeEquals(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
    AdminAuthMiddleware<APIRequestContext>.constantTimeEquals(Array(a.utf8), Array(b.utf8))
}
