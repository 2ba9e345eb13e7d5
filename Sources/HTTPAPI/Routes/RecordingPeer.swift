import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Storage

/// A recording kept by the node that took the call, asked of that node once: the same path with the same
/// `Authorization`, `Cookie` and `Range`, streamed back as it comes. A node that does not answer within
/// 2 s is a 503 `recording_node_unavailable` naming it, with `Retry-After`; the bytes are never lost by
/// it, only out of reach while their node is down.
struct RecordingPeer: Sendable {
    let cluster: ClusterMembership

    /// Marks a request one node passed to another, so that it is never passed on again.
    static let forwarded = HTTPField.Name("X-CallTrack-Forwarded")!
    static let headTimeout: TimeAmount = .seconds(2)
    static let passedToPeer: [HTTPField.Name] = [.authorization, .cookie, .range]
    static let passedBack: [HTTPField.Name] = [
        .contentType, .contentLength, .contentRange, .acceptRanges, .contentDisposition,
    ]

    func fetch(_ request: Request, from owner: String) async throws -> Response {
        guard request.headers[Self.forwarded] == nil else { throw unavailable(owner) }
        guard let base = try await cluster.advertisedHTTP(of: owner) else { throw unavailable(owner) }
        var outgoing = HTTPClientRequest(url: base.trimmingSuffix("/") + request.uri.path)
        outgoing.method = request.method == .head ? .HEAD : .GET
        for name in Self.passedToPeer {
            if let value = request.headers[name] { outgoing.headers.add(name: name.rawName, value: value) }
        }
        outgoing.headers.add(name: Self.forwarded.rawName, value: cluster.nodeID)
        let answer: HTTPClientResponse
        do { answer = try await HTTPClient.shared.execute(outgoing, timeout: Self.headTimeout) } catch {
            throw unavailable(owner)
        }
        guard answer.status.code < 500 else { throw unavailable(owner) }
        var headers = HTTPFields()
        for name in Self.passedBack {
            if let value = answer.headers.first(name: name.rawName) { headers[name] = value }
        }
        return Response(
            status: .init(code: Int(answer.status.code)), headers: headers,
            body: ResponseBody(asyncSequence: answer.body))
    }

    private func unavailable(_ owner: String) -> APIError {
        APIError(
            .serviceUnavailable, code: "recording_node_unavailable",
            message: "the recording is kept by node \(owner), which does not answer now; try again later",
            retryAfter: 10)
    }
}
