import CallTrackCore
import Foundation
import Hummingbird

/// An error answered as JSON: `{"error": {"code": "...", "message": "...", "field": "..."}}`.
public struct APIError: HTTPResponseError {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public let field: String?

    public init(_ status: HTTPResponse.Status, code: String, message: String, field: String? = nil) {
        self.status = status; self.code = code; self.message = message; self.field = field
    }

    public static func badRequest(field: String, _ message: String) -> APIError {
        APIError(.badRequest, code: "invalid_field", message: message, field: field)
    }
    public static let unauthorized = APIError(.unauthorized, code: "unauthorized",
                                              message: "a valid admin token is required (Authorization: Bearer TOKEN)")
    public static func notFound(_ what: String) -> APIError { APIError(.notFound, code: "not_found", message: what) }

    private struct Body: Encodable {
        struct Inner: Encodable { let code: String; let message: String; let field: String? }
        let error: Inner
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try context.responseEncoder.encode(Body(error: .init(code: code, message: message, field: field)),
                                                          from: request, context: context)
        response.status = status
        if status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer realm=\"calltrack\"" }
        return response
    }
}

extension Request {
    /// The whole body, or 413 when it is over `limit` bytes.
    mutating func body(upTo limit: Int) async throws -> ByteBuffer {
        do { return try await collectBody(upTo: limit) } catch {
            throw APIError(.contentTooLarge, code: "body_too_large", message: "the body is over \(limit) bytes")
        }
    }
}

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
