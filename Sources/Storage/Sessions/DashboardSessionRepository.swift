import CallTrackCore
import Foundation

/// A signed-in browser: its CSRF token, when it signed in and when it was last seen.
public struct DashboardSession: Sendable, Equatable {
    public let csrf: String
    public let created: Double
    public var lastUsed: Double
}

/// Signed-in dashboard browsers. The id (256 random bits) travels only in an HttpOnly,
/// SameSite=Strict cookie. A session ends after `idleSeconds` without a request, after
/// `maxAgeSeconds` in any case, or on sign-out.
public protocol DashboardSessionRepository: Sendable {
    /// A new session.
    func create(now: Double) async throws -> (id: String, session: DashboardSession)
    /// The live session with this id, marked as used now.
    func session(_ id: String, now: Double) async throws -> DashboardSession?
    func end(_ id: String) async throws
}

public enum DashboardSessionPolicy {
    public static let idleSeconds = 8 * 3600.0
    public static let maxAgeSeconds = 7 * 86400.0

    static func alive(_ s: DashboardSession, now: Double) -> Bool {
        now - s.lastUsed < idleSeconds && now - s.created < maxAgeSeconds
    }

    /// 32 random bytes as hex, from the system's generator: session ids and CSRF tokens.
    public static func randomToken() -> String { Hex.random(words: 4) }
}
