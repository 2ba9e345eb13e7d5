import Foundation
import Hummingbird

/// Lets a request through only with `Authorization: Bearer TOKEN` naming a configured admin token.
public struct AdminAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    private let tokens: [[UInt8]]

    /// `tokens` come from the environment variable named by `admin.tokens_env`; none means every request gets 401.
    public init(tokens: [String]) { self.tokens = tokens.filter { !$0.isEmpty }.map { Array($0.utf8) } }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard let header = request.headers[.authorization], header.count > 7, header.prefix(7).lowercased() == "bearer "
        else { throw APIError.unauthorized }
        let presented = Array(header.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8)
        var match = false
        for token in tokens where Self.constantTimeEquals(token, presented) { match = true }
        guard match else { throw APIError.unauthorized }
        return try await next(request, context)
    }

    /// Compares without an early exit, so response time does not reveal how much of a token matched.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
