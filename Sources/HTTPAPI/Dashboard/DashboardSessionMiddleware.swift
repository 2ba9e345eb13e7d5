import CallTrackCore
import Foundation
import HTTPTypes
import Hummingbird
import Storage

/// The dashboard's door, in front of every page and form: the session cookie is checked once here,
/// and a POST's CSRF token against the session's, before any handler runs. A stranger is sent to
/// sign in (the player's audio gets 401), and a stranger's body is never read.
struct DashboardSessionMiddleware: RouterMiddleware {
    typealias Context = DashboardContext
    let sessions: any DashboardSessionRepository
    /// The largest form a signed-in browser may post (a costs CSV).
    static let formLimit = 4 << 20

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let id = Cookies(request)["ct_session"],
            let session = try await sessions.session(id, now: Date().timeIntervalSince1970)
        else { return Self.stranger(request) }
        var context = context
        context.session = SignedIn(id: id, session: session)
        guard request.method == .post else { return try await next(request, context) }
        var request = request
        let form = FormData.parse(String(buffer: try await request.body(upTo: Self.formLimit)))
        guard let token = form["csrf"], constantTimeEquals(token, session.csrf) else {
            let language = DashboardPage.language(request, query: [:])
            return DashboardPage.message(
                DashboardText(language: language)[.formExpired], language: language, status: .forbidden)
        }
        context.form = form
        return try await next(request, context)
    }

    /// Without a session: the sign-in page, then back here (a page), or plain 401 (the player's audio).
    static func stranger(_ request: Request) -> Response {
        if request.uri.path.hasSuffix("/audio") {
            return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Cookie"])
        }
        guard request.method == .get || request.method == .head else {
            return Response(status: .seeOther, headers: [.location: "/signin"])
        }
        let next = request.uri.query.map { request.uri.path + "?" + $0 } ?? request.uri.path
        return Response(status: .seeOther, headers: [.location: DashboardPage.url("/signin", [("next", next)])])
    }
}
