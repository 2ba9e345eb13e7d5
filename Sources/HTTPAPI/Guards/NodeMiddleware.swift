import HTTPTypes
import Hummingbird
import Storage

/// What every answer of a node says and how storage failures reach the client: `X-CallTrack-Node` on every
/// response (errors too), so an operator behind HAProxy sees which node answered; and storage that cannot
/// answer now (PostgreSQL down, SQLite locked past its timeout) is a 503 `storage_unavailable`, not a 500.
struct NodeMiddleware<Context: RequestContext>: RouterMiddleware {
    let node: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var response: Response
        do { response = try await next(request, context) } catch let error as DatabaseError
            where error.kind == .unavailable || error.kind == .busy
        {
            response = try APIError(
                .serviceUnavailable, code: "storage_unavailable",
                message: "storage cannot answer now; try again shortly", retryAfter: 1
            ).response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            guard node != nil else { throw error }
            response = try error.response(from: request, context: context)
        }
        if let node { response.headers[.calltrackNode] = node }
        return response
    }
}

extension HTTPField.Name { static let calltrackNode = Self("X-CallTrack-Node")! }
