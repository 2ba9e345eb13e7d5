import CallTrackCore
import Foundation
import HTTPTypes
import Hummingbird
import Storage

/// `/signin` and `/signout`: an admin token opens a session (an HttpOnly, SameSite=Strict cookie),
/// ten attempts a minute per address, the same answer for every wrong token (`signin.mustache`).
extension Dashboard {
    struct SignInView {
        let lang: String
        let t: [String: String]
        let error: String?
        let csrf, next, languageSwitch, otherLanguageName: String
    }

    /// Where to go after signing in: a path on this site only.
    static func safeNext(_ raw: String?) -> String {
        guard let raw, raw.hasPrefix("/"), !raw.hasPrefix("//"), !raw.contains("\\"), raw.count <= 2000,
            !raw.unicodeScalars.contains(where: { $0.value < 0x20 })
        else { return "/" }
        return raw
    }

    /// The sign-in form. Its own CSRF token is a random value in a short-lived cookie that the form
    /// repeats, so that another site cannot sign a browser in with an attacker's token.
    private func signInForm(
        _ request: Request, context: DashboardContext, next: String, language: DashboardLanguage, error: Phrase?,
        status: HTTPResponse.Status
    ) -> Response {
        let t = DashboardText(language: language)
        let token = DashboardSessionPolicy.randomToken()
        let other: DashboardLanguage = language == .en ? .ru : .en
        let view = SignInView(
            lang: language.rawValue, t: t.all, error: error.map { t[$0] }, csrf: token, next: next,
            languageSwitch: DashboardPage.url("/signin", [("next", next), ("lang", other.rawValue)]),
            otherLanguageName: other.name)
        var response = DashboardPage.htmlResponse(DashboardTemplates.render("signin", view), status: status)
        let secure = self.secure(request, context: context) ? "; Secure" : ""
        response.headers.append(
            HTTPField(
                name: .setCookie,
                value: "ct_signin=\(token); Path=/signin; Max-Age=3600; HttpOnly; SameSite=Strict\(secure)"))
        return response
    }

    @Sendable func signInPage(_ request: Request, context: DashboardContext) async throws -> Response {
        let query = FormData.parse(request.uri.query ?? "")
        let next = Self.safeNext(query["next"])
        if let id = Cookies(request)["ct_session"],
            try await sessions.session(id, now: Date().timeIntervalSince1970) != nil
        {
            return Response(status: .seeOther, headers: [.location: next])
        }
        let language = DashboardPage.language(request, query: query)
        var response = signInForm(request, context: context, next: next, language: language, error: nil, status: .ok)
        if query["lang"].flatMap(DashboardLanguage.init) != nil {
            response.headers.append(HTTPField(name: .setCookie, value: DashboardPage.languageCookie(language)))
        }
        return response
    }

    @Sendable func signIn(_ request: Request, context: DashboardContext) async throws -> Response {
        var request = request
        let form = FormData.parse(String(buffer: try await request.body(upTo: 16 << 10)))
        let next = Self.safeNext(form["next"])
        let cookies = Cookies(request)
        let language = DashboardLanguage.choose(
            query: form["lang"], cookie: cookies["ct_lang"], acceptLanguage: request.headers[.acceptLanguage])
        func again(_ error: Phrase, _ status: HTTPResponse.Status) -> Response {
            signInForm(request, context: context, next: next, language: language, error: error, status: status)
        }
        let address = clientAddress(request, peer: context.remoteAddress?.ipAddress, trustedProxies: trustedProxies)
            .address
        guard signInLimiter.allow(address) else { return again(.tooManyAttempts, .tooManyRequests) }
        guard let expected = cookies["ct_signin"], let presented = form["csrf"], !expected.isEmpty,
            constantTimeEquals(expected, presented)
        else { return again(.formExpired, .forbidden) }
        let token = form["token"] ?? ""
        var valid = false
        for admin in adminTokens where !admin.isEmpty && constantTimeEquals(admin, token) { valid = true }
        // The same answer for every wrong token: nothing says whether a token exists.
        guard valid else { return again(.wrongToken, .forbidden) }
        let (id, _) = try await sessions.create(now: Date().timeIntervalSince1970)
        let secure = self.secure(request, context: context) ? "; Secure" : ""
        var headers: HTTPFields = [.location: next]
        headers.append(
            HTTPField(name: .setCookie, value: "ct_session=\(id); Path=/; HttpOnly; SameSite=Strict\(secure)"))
        headers.append(
            HTTPField(
                name: .setCookie, value: "ct_signin=; Path=/signin; Max-Age=0; HttpOnly; SameSite=Strict\(secure)"))
        headers.append(HTTPField(name: .setCookie, value: DashboardPage.languageCookie(language)))
        return Response(status: .seeOther, headers: headers)
    }

    /// Behind the session middleware: the CSRF token was checked there.
    @Sendable func signOut(_ request: Request, context: DashboardContext) async throws -> Response {
        try await sessions.end(context.signedIn().id)
        var headers: HTTPFields = [.location: "/signin"]
        headers.append(HTTPField(name: .setCookie, value: "ct_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"))
        return Response(status: .seeOther, headers: headers)
    }
}
