/// Work that one node does for the whole cluster (an endpoint's deliveries, a retention sweep): a node
/// does it only while it holds the job's lease. A lease is held until the node stops; when a node dies,
/// its leases pass to the next node that asks.
public protocol JobLeases: Sendable {
    /// Whether this node holds `job` now (taking it when free).
    func hold(_ job: String) async -> Bool
}

/// A single node holds every lease.
public struct SoleNode: JobLeases {
    public init() {}
    public func hold(_ job: String) async -> Bool { true }
}
