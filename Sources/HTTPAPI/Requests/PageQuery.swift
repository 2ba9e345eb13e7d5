import CallTrackCore
import Foundation
import Hummingbird

/// `limit` and `cursor` of a paged list: the page size, and the id the previous page ended on.
struct PageQuery {
    let limit: Int
    let after: CallID?

    /// The `limit` parameter: 1 to `maxLimit`, `defaultLimit` when absent.
    static func limit(_ request: Request, defaultLimit: Int, maxLimit: Int) throws -> Int {
        try request.uri.queryParameters["limit"].map { raw in
            guard let v = Int(String(raw)), (1...maxLimit).contains(v) else {
                throw APIError.badRequest(field: "limit", "limit must be an integer from 1 to \(maxLimit)")
            }
            return v
        } ?? defaultLimit
    }

    init(_ request: Request, defaultLimit: Int, maxLimit: Int) throws {
        let query = request.uri.queryParameters
        limit = try Self.limit(request, defaultLimit: defaultLimit, maxLimit: maxLimit)
        after = try query["cursor"].map { raw in
            guard let id = CallID(String(raw)) else {
                throw APIError.badRequest(field: "cursor", "cursor must be the next_cursor of a previous page")
            }
            return id
        }
    }
}
