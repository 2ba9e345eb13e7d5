import CallTrackCore
import Foundation
import Hummingbird
import Storage

/// `GET /v1/cluster` (admin): this node and every node sharing its PostgreSQL, as their heartbeats say.
struct ClusterController<Context: RequestContext>: Sendable {
    let membership: ClusterMembership?

    func addRoutes(to group: RouterGroup<Context>) { group.get("cluster", use: show) }

    struct ClusterJSON: ResponseEncodable {
        struct NodeJSON: Encodable {
            let id, advertisedHTTP, status, lastSeen, startedAt, version: String
            let activeCalls: Int
            enum CodingKeys: String, CodingKey {
                case id, advertisedHTTP = "advertised_http", status, lastSeen = "last_seen", startedAt = "started_at"
                case version, activeCalls = "active_calls"
            }
        }
        let node: String
        let nodes: [NodeJSON]
    }

    @Sendable func show(_ request: Request, context: Context) async throws -> Response {
        guard let membership else {
            throw APIError.notFound("this node runs alone (storage.backend sqlite): there is no cluster")
        }
        let nodes = try await membership.members().map {
            ClusterJSON.NodeJSON(
                id: $0.id, advertisedHTTP: $0.advertisedHTTP, status: $0.status.rawValue,
                lastSeen: $0.lastSeen.iso8601Milliseconds, startedAt: $0.startedAt.iso8601Milliseconds,
                version: $0.version, activeCalls: $0.activeCalls)
        }
        return try ClusterJSON(node: membership.nodeID, nodes: nodes).response(from: request, context: context)
    }
}
