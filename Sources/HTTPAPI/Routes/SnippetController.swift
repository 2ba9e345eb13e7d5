import CallTrackCore
import Foundation
import Hummingbird

/// `GET /v1/projects/{key}/snippet.js` (the website snippet) and `GET /demo[/{key}]` (a landing page to try it).
public struct SnippetController<Context: RequestContext>: Sendable {
    let projects: [PublicProject]

    public init(projects: [PublicProject]) { self.projects = projects }

    public func addRoutes(to router: Router<Context>) {
        router.get("v1/projects/:key/snippet.js", use: snippet)
        router.get("demo", use: demo)
        router.get("demo/:key", use: demo)
    }

    private func project(_ key: String?) throws -> PublicProject {
        let found: PublicProject? = if let key { projects.first { $0.key == key } } else { projects.first }
        guard let p = found else { throw APIError.notFound("no project with this key") }
        return p
    }

    /// The snippet's version: `snippet.js?v=2` names this script's behaviour, and changes when it does.
    static var version: Int { snippetVersion }

    /// The script with the project's settings. `ETag` lets a browser revalidate for nothing; the plain
    /// URL is cached 5 minutes (a settings change reaches visitors within that), the versioned one of
    /// the current version a day; any other version gets the current script, cached 5 minutes.
    @Sendable func snippet(_ request: Request, context: Context) async throws -> Response {
        let p = try project(context.parameters.get("key"))
        // ?reveal=1 previews click-to-reveal on a project that does not use it (the demo page passes it on).
        let reveal = p.clickToReveal || request.uri.queryParameters["reveal"] == "1"
        var config: [String: Any] = [
            "key": p.key, "numbers": p.siteNumbers.map { String($0.filter(\.isASCIIDigit).suffix(p.nationalDigits)) },
            "digits": p.nationalDigits, "reveal": reveal,
        ]
        if let selector = p.numberSelector { config["selector"] = selector }
        if let domain = p.cookieDomain { config["cookieDomain"] = domain }
        if request.uri.queryParameters["timing"] == "1" { config["timing"] = true }
        let json = String(
            decoding: try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]), as: UTF8.self)
        let pinned = request.uri.queryParameters["v"].map { $0 == "\(Self.version)" } ?? false
        return StaticText.response(
            StaticText(snippetScript.replacingOccurrences(of: "__CONFIG__", with: json)),
            contentType: "application/javascript; charset=utf-8",
            cacheControl: pinned ? "public, max-age=86400" : "public, max-age=300", request: request)
    }

    /// The demo page's phone numbers, in the shapes real sites write them.
    struct DemoView { let name, key, digits, international, national, plain, reveal: String }

    @Sendable func demo(_ request: Request, context: Context) async throws -> Response {
        let p = try project(context.parameters.get("key"))
        let d = String((p.siteNumbers.first ?? "+74951234567").filter(\.isASCIIDigit).suffix(10))
        func at(_ r: Range<Int>) -> String { String(d.dropFirst(r.lowerBound).prefix(r.count)) }
        let view = DemoView(
            name: p.name, key: p.key, digits: d,
            international: "+7 (\(at(0..<3))) \(at(3..<6))-\(at(6..<8))-\(at(8..<10))",
            national: "8 \(at(0..<3)) \(at(3..<6))-\(at(6..<8))-\(at(8..<10))", plain: "8\(d)",
            reveal: request.uri.queryParameters["reveal"] == "1" ? "?reveal=1" : "")
        return Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: DashboardTemplates.render("demo", view))))
    }
}

/// The snippet's version (`snippet.js?v=`): raised whenever the script's behaviour changes.
let snippetVersion = 2

/// The snippet (`Resources/snippet.js`): no dependencies; keeps the business number when CallTrack
/// cannot be reached. It swaps the numbers on the page when its number arrives, then whatever the page
/// adds or changes later (popups, chat widgets, a single-page app's next view: a MutationObserver,
/// debounced, scanning only what changed and never its own edits), and never inside scripts, styles,
/// form fields, editable content or `data-calltrack-noswap`. `__CONFIG__` is the project's settings.
let snippetScript = String(decoding: PackageResources.snippet_js, as: UTF8.self)
