import CallTrackCore
import Foundation
import Tracking

/// Stored visits and reservations as the reports and the pool's health read them.
public protocol TrackingRepository: Sendable {
    /// A project's pool health over the period since `since` (see `PoolHealth`).
    func health(projectKey: String, since: Date, now: Date, ttlSeconds: Double) async throws -> PoolHealth
    /// What the pool planner replays: the project's visitors since `since`, and how long after their
    /// visitor's last heartbeat attributed calls came.
    func plannerInput(projectKey: String, since: Date, ttlSeconds: Double) async throws -> (
        visits: [PoolPlanner.Visit], callDelays: [Double]
    )
    /// One visitor's latest visits (at most `limit`), oldest first.
    func visits(projectKey: String, clientID: String, limit: Int) async throws -> [Visit]
}
