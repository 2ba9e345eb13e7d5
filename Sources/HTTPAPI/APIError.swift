import CallTrackCore
import Foundation
import Hummingbird

/// An error answered as JSON: `{"error": {"code": "...", "message": "...", "field": "..."}}`.
public struct APIError: HTTPResponseError {
    public let status: HTTPResponse.Status
    public let code, message: String
    public let field: String?
    /// Seconds after which trying again may work (`Retry-After`).
    public let retryAfter: Int?

    public init(
        _ status: HTTPResponse.Status, code: String, message: String, field: String? = nil, retryAfter: Int? = nil
    ) {
        self.retryAfter = retryAfter
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    public static func badRequest(field: String, _ message: String) -> APIError {
        APIError(.badRequest, code: "invalid_field", message: message, field: field)
    }
    public static let unauthorized = APIError(
        .unauthorized, code: "unauthorized", message: "a valid admin token is required (Authorization: Bearer TOKEN)")
    public static func notFound(_ what: String) -> APIError { APIError(.notFound, code: "not_found", message: what) }

    private struct Body: Encodable {
        struct Inner: Encodable {
            let code, message: String
            let field: String?
        }
        let error: Inner
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try context.responseEncoder.encode(
            Body(error: .init(code: code, message: message, field: field)), from: request, context: context)
        response.status = status
        if status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer realm=\"calltrack\"" }
        if let retryAfter { response.headers[.retryAfter] = String(retryAfter) }
        return response
    }
}
