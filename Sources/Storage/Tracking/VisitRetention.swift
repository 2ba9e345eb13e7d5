import CallTrackCore
import Foundation
import Logging
import ServiceLifecycle

/// Deletes visits (and finished reservations) older than `tracking.visit_retention_days`, in the background,
/// so the database grows with the retention period, not with everything visitors ever sent.
public final class VisitRetention: Service {
    private let store: TrackingStore
    private let days: Int
    private let interval: Duration
    private let logger: Logger
    /// With several nodes, one sweeps: the one holding the lease.
    private let leases: any JobLeases

    public init(
        store: TrackingStore, days: Int, intervalSeconds: Int, leases: any JobLeases = SoleNode(), logger: Logger
    ) {
        self.leases = leases
        self.store = store
        self.days = days
        self.interval = .seconds(intervalSeconds)
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do { if await leases.hold("visit-retention") { _ = try await sweep(now: Date()) } } catch {
                logger.error("visit retention sweep failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
        }
    }

    /// Deletes what is older than `days` before `now`; returns how many visits went.
    @discardableResult public func sweep(now: Date) async throws -> Int {
        let deleted = try await store.deleteHistory(before: now.addingTimeInterval(-Double(days) * 86400))
        if deleted > 0 {
            logger.info("old visits deleted", metadata: ["count": "\(deleted)", "retention_days": "\(days)"])
        }
        return deleted
    }
}
