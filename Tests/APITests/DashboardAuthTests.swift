import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Storage
import Testing

@testable import HTTPAPI

/// The dashboard's door: sessions, CSRF, sign-in limits, and what a stranger gets.
@Suite("Dashboard sign-in and sessions") struct DashboardAuthTests {
    /// A browser's cookie jar, just enough for one site.
    struct Browser {
        var cookies: [String: String] = [:]

        mutating func send(
            _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String,
            form: [String: String]? = nil, headers extra: HTTPFields = [:]
        ) async throws -> TestResponse {
            var headers = extra
            if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
            var body = ByteBuffer()
            if let form {
                headers[.contentType] = "application/x-www-form-urlencoded"
                body = ByteBuffer(
                    string: form.map {
                        "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
                    }.joined(separator: "&"))
            }
            let r = try await client.execute(uri: uri, method: method, headers: headers, body: body)
            for set in r.headers[values: .setCookie] {
                let pair = set.split(separator: ";")[0].split(
                    separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = String(pair[0]), value = pair.count > 1 ? String(pair[1]) : ""
                if value.isEmpty || set.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
            }
            return r
        }

        /// The hidden CSRF field of the page.
        static func csrf(_ r: TestResponse) -> String? {
            let page = String(buffer: r.body)
            guard let at = page.range(of: "name=\"csrf\" value=\"") else { return nil }
            return String(page[at.upperBound...].prefix(64))
        }

        mutating func signIn(_ client: any TestClientProtocol, token: String = APIFixture.token) async throws
            -> TestResponse
        {
            let page = try await send(client, .get, "/signin")
            return try await send(
                client, .post, "/signin", form: ["csrf": Self.csrf(page) ?? "", "token": token, "next": "/calls"])
        }
    }

    @Test(
        "Without a session every page leads to sign-in; the sign-in page sets a strict, HttpOnly form cookie and a tight CSP"
    ) func strangers() async throws {
        try await APIFixture.run { client, _ in
            var browser = Browser()
            for path in ["/", "/calls", "/leads", "/pool", "/setup?project=shop"] {
                let r = try await browser.send(client, .get, path)
                #expect(r.status == .seeOther, "\(path)")
                #expect(
                    r.headers[.location] == "/signin?next=" + path.addingPercentEncoding(
                        withAllowedCharacters: .alphanumerics)!, "\(path)")
            }
            #expect(try await browser.send(client, .get, "/calls/ffffffffffffffffffffff/audio").status == .unauthorized)
            let costs = try await browser.send(
                client, .post, "/setup/costs", form: ["csv": "date,source,medium,campaign,keyword,amount"])
            #expect(costs.status == .seeOther && costs.headers[.location]?.hasPrefix("/signin") == true)
            let page = try await browser.send(client, .get, "/signin")
            #expect(page.status == .ok)
            let cookie = try #require(page.headers[.setCookie])
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "\(cookie)")
            let csp = try #require(page.headers[.contentSecurityPolicy])
            #expect(
                csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'")
                    && csp.contains("script-src 'none'"))
            #expect(page.headers[.cacheControl] == "no-store")
        }
    }

    @Test(
        "A wrong token gets the sign-in page again, the same for any wrong token; a right one a strict HttpOnly session"
    ) func signIn() async throws {
        try await APIFixture.run { client, _ in
            var browser = Browser()
            let wrong = try await browser.signIn(client, token: "guess-1")
            #expect(wrong.status == .forbidden)
            #expect(String(buffer: wrong.body).contains("This token is not valid."))
            #expect(browser.cookies["ct_session"] == nil)
            let other = try await browser.signIn(client, token: "")
            // Only the form's own random token differs between the two answers.
            func strip(_ r: TestResponse) -> String {
                String(buffer: r.body).replacingOccurrences(
                    of: #"value="[0-9a-f]{64}""#, with: "", options: .regularExpression)
            }
            #expect(strip(other) == strip(wrong))
            let right = try await browser.signIn(client)
            #expect(right.status == .seeOther && right.headers[.location] == "/calls")
            let session = try #require(right.headers[values: .setCookie].first { $0.hasPrefix("ct_session=") })
            #expect(
                session.contains("HttpOnly") && session.contains("SameSite=Strict") && session.contains("Path=/"),
                "\(session)")
            let calls = try await browser.send(client, .get, "/calls")
            #expect(calls.status == .ok && String(buffer: calls.body).contains("id=\"sign-out\""))
            // The API's bearer token does not open the dashboard, nor the session the API.
            var apiOnly = Browser()
            #expect(
                try await apiOnly.send(client, .get, "/calls", headers: [.authorization: "Bearer \(APIFixture.token)"])
                    .status == .seeOther)
            #expect(try await browser.send(client, .get, "/v1/calls").status == .unauthorized)
        }
    }

    @Test("Sign-in needs the form's own token (no signing in from another site), and goes only to paths on this site")
    func signInForgery() async throws {
        try await APIFixture.run { client, _ in
            var browser = Browser()
            let forged = try await browser.send(
                client, .post, "/signin", form: ["token": APIFixture.token, "csrf": "0"])
            #expect(forged.status == .forbidden && browser.cookies["ct_session"] == nil)
            for next in ["//evil.example/", "https://evil.example/", "/\\evil.example", "calls"] {
                var b = Browser()
                let page = try await b.send(client, .get, "/signin")
                let r = try await b.send(
                    client, .post, "/signin",
                    form: ["csrf": Browser.csrf(page) ?? "", "token": APIFixture.token, "next": next])
                #expect(r.status == .seeOther && r.headers[.location] == "/", "\(next) → \(r.headers[.location] ?? "")")
            }
        }
    }

    @Test("Ten sign-in attempts a minute per address; the eleventh gets 429 even with the right token")
    func signInLimit() async throws {
        try await APIFixture.run { client, _ in
            var browser = Browser()
            for i in 0..<10 { #expect(try await browser.signIn(client, token: "guess-\(i)").status == .forbidden) }
            let limited = try await browser.signIn(client)
            #expect(limited.status == .tooManyRequests)
            #expect(browser.cookies["ct_session"] == nil)
        }
    }

    @Test("Forms need the session's CSRF token: costs and sign-out without it change nothing") func csrf() async throws
    {
        try await APIFixture.run { client, stores in
            var browser = Browser()
            _ = try await browser.signIn(client)
            let setup = try await browser.send(client, .get, "/setup?project=shop")
            let token = try #require(Browser.csrf(setup))
            let csv = "date,source,medium,campaign,keyword,amount\n2026-11-20,google,cpc,,,100\n"
            let forged = try await browser.send(
                client, .post, "/setup/costs", form: ["project": "shop", "csv": csv, "csrf": "f00"])
            #expect(forged.status == .forbidden)
            #expect(try await stores.calls.costs(project: "shop", from: "2026-11-01", to: "2026-11-30").isEmpty)
            let bad = try await browser.send(
                client, .post, "/setup/costs",
                form: ["project": "shop", "csv": csv + "2026-11-21,google,cpc,,,x\n", "csrf": token])
            #expect(bad.status == .badRequest && String(buffer: bad.body).contains("row 3.amount"))
            await #expect(
                try stores.calls.costs(project: "shop", from: "2026-11-01", to: "2026-11-30").isEmpty, "all or nothing")
            let good = try await browser.send(
                client, .post, "/setup/costs", form: ["project": "shop", "csv": csv, "csrf": token])
            #expect(good.status == .seeOther && good.headers[.location] == "/setup?project=shop&imported=1")
            #expect(try await stores.calls.costs(project: "shop", from: "2026-11-01", to: "2026-11-30").count == 1)

            #expect(try await browser.send(client, .post, "/signout", form: ["csrf": "f00"]).status == .forbidden)
            #expect(try await browser.send(client, .get, "/calls").status == .ok, "still signed in")
            let session = try #require(browser.cookies["ct_session"])
            let out = try await browser.send(client, .post, "/signout", form: ["csrf": token])
            #expect(out.status == .seeOther && out.headers[.location] == "/signin")
            // The old cookie is worthless now, even replayed.
            var replay = Browser(cookies: ["ct_session": session])
            #expect(try await replay.send(client, .get, "/calls").status == .seeOther)
        }
    }

    @Test("Language: Accept-Language picks Russian, ?lang= switches and sticks in a cookie") func language()
        async throws
    {
        try await APIFixture.run { client, _ in
            var browser = Browser()
            let ru = try await browser.send(
                client, .get, "/signin", headers: [.acceptLanguage: "ru-RU,ru;q=0.9,en;q=0.8"])
            #expect(String(buffer: ru.body).contains("<html lang=\"ru\">") && String(buffer: ru.body).contains("Войти"))
            var stranger = Browser()
            let enByQ = try await stranger.send(
                client, .get, "/signin", headers: [.acceptLanguage: "ru;q=0.1, en;q=0.9"])
            #expect(String(buffer: enByQ.body).contains("<html lang=\"en\">"))
            _ = try await browser.signIn(client)
            let page = try await browser.send(client, .get, "/pool?lang=en")
            #expect(String(buffer: page.body).contains("<h1>Number pool</h1>"))
            let next = try await browser.send(client, .get, "/pool", headers: [.acceptLanguage: "ru"])
            #expect(
                String(buffer: next.body).contains("<h1>Number pool</h1>"),
                "the chosen language outlives Accept-Language")
        }
    }

    @Test("Whatever a visitor puts in UTM tags reaches the pages as text") func escaping() async throws {
        try await APIFixture.run { client, _ in
            var browser = Browser()
            _ = try await browser.signIn(client)
            // Costs carry the same free text as tags do, and the report shows them.
            let page = try await browser.send(client, .get, "/setup?project=shop")
            let evil = "<script>alert(1)</script>"
            let csv =
                "date,source,medium,campaign,keyword,amount\n2026-11-20,\"\(evil)\",cpc,\"\"\"><img src=x>\",,100\n"
            _ = try await browser.send(
                client, .post, "/setup/costs", form: ["project": "shop", "csv": csv, "csrf": Browser.csrf(page) ?? ""])
            let report = String(
                buffer: try await browser.send(
                    client, .get, "/?project=shop&from=2026-11-20&to=2026-11-20&group_by=source,campaign"
                ).body)
            #expect(
                report.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
                    && report.contains("&quot;&gt;&lt;img src=x&gt;"), "\(report)")
            #expect(!report.contains(evil) && !report.contains("<img src=x>"))
            let problem = String(buffer: try await browser.send(client, .get, "/?project=shop&from=%3Cb%3E").body)
            #expect(!problem.contains("<b>"))
        }
    }

    @Test("Sessions are bounded: the least recently used one makes room at the cap; idle and old ones end")
    func sessionTable() {
        let sessions = InMemoryDashboardSessions(capacity: 3)
        let a = sessions.create(now: 0).id, b = sessions.create(now: 1).id, c = sessions.create(now: 2).id
        #expect(sessions.session(a, now: 3) != nil)  // a is used again: b is now the least recently used
        let d = sessions.create(now: 4).id
        #expect(sessions.count == 3)
        #expect(
            sessions.session(b, now: 5) == nil && sessions.session(a, now: 5) != nil
                && sessions.session(d, now: 5) != nil)
        #expect(sessions.session(c, now: 5 + DashboardSessionPolicy.idleSeconds) == nil, "idle too long")
        var t = 5.0
        while t < DashboardSessionPolicy.maxAgeSeconds + 10 {
            _ = sessions.session(d, now: t)
            t += 3600
        }
        #expect(sessions.session(d, now: t) == nil, "kept busy, but older than the longest a session lives")
        #expect(
            DashboardSessionPolicy.randomToken() != DashboardSessionPolicy.randomToken()
                && DashboardSessionPolicy.randomToken().count == 64)
    }

    @Test("Every phrase of the dashboard is in English and in Russian") func everyPhraseTranslated() {
        for phrase in Phrase.allCases {
            #expect(DashboardText.english[phrase] != nil && DashboardText.russian[phrase] != nil, "\(phrase)")
        }
        #expect(DashboardText.russianPlural(1, "номер", "номера", "номеров") == "номер")
        #expect(DashboardText.russianPlural(3, "номер", "номера", "номеров") == "номера")
        #expect(DashboardText.russianPlural(12, "номер", "номера", "номеров") == "номеров")
        #expect(DashboardText.russianPlural(21, "номер", "номера", "номеров") == "номер")
    }

    @Test("The deliveries page lists the outbox; a retry needs the CSRF token and a real id") func deliveriesPage()
        async throws
    {
        try await APIFixture.run { client, _ in
            var browser = Browser()
            _ = try await browser.signIn(client)
            let page = try await browser.send(client, .get, "/deliveries?project=shop")
            #expect(page.status == .ok && String(buffer: page.body).contains("id=\"no-deliveries\""))
            let token = try #require(Browser.csrf(page))
            let unknown = "evt_" + String(repeating: "0", count: 32)
            #expect(
                try await browser.send(client, .post, "/deliveries/retry", form: ["csrf": "x", "id": unknown]).status
                    == .forbidden)
            #expect(
                try await browser.send(client, .post, "/deliveries/retry", form: ["csrf": token, "id": unknown]).status
                    == .notFound)
            #expect(
                try await browser.send(client, .post, "/deliveries/retry", form: ["csrf": token, "id": "../x"]).status
                    == .notFound)
        }
    }
}
