import CallTrackCore
import Foundation
import Hummingbird
import NIOCore
import Storage

/// The request context of the dashboard's routes: the API's, plus the signed-in session and the form
/// a POST carried, both set once by `DashboardSessionMiddleware` for every route behind it.
struct DashboardContext: ChildRequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    var session: SignedIn?
    /// A POST's fields, read after the session and its CSRF token were checked.
    var form: [String: String] = [:]

    init(context: APIRequestContext) {
        coreContext = context.coreContext
        remoteAddress = context.remoteAddress
    }

    /// The signed-in browser; behind the session middleware there always is one.
    func signedIn() throws -> SignedIn {
        guard let session else { throw APIError.unauthorized }
        return session
    }
}

/// A signed-in browser: its session's id and the session.
struct SignedIn: Sendable {
    let id: String
    let session: DashboardSession
}

/// The cookies of a request: the first value of each name.
struct Cookies {
    private var values: [String: String] = [:]

    init(_ request: Request) {
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let kv = part.split(separator: "=", maxSplits: 1)
                guard kv.count == 2 else { continue }
                let name = kv[0].trimmingCharacters(in: .whitespaces)
                if values[name] == nil { values[name] = kv[1].trimmingCharacters(in: .whitespaces) }
            }
        }
    }

    subscript(_ name: String) -> String? { values[name] }
}

/// `application/x-www-form-urlencoded`: what forms send in a query or a POST body.
enum FormData {
    /// The fields of `raw`; a field repeated keeps its first value; at most `limit` fields.
    static func parse(_ raw: String, limit: Int = 64) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in raw.split(separator: "&").prefix(limit) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String? {
                s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            }
            guard let name = decode(parts[0]), fields[name] == nil else { continue }
            fields[name] = parts.count > 1 ? decode(parts[1]) ?? "" : ""
        }
        return fields
    }

    /// A value for a query string.
    static func encode(_ s: String) -> String { s.percentEncodedUnreserved }
}

/// Compares without an early exit, so response time does not reveal how much of a secret matched.
func constantTimeEquals(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
    AdminAuthMiddleware<APIRequestContext>.constantTimeEquals(Array(a.utf8), Array(b.utf8))
}
