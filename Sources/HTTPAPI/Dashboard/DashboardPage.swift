import Foundation
import HTTPTypes
import Hummingbird
import Storage

/// What every dashboard page knows about the request it answers: who is signed in, in which
/// language, for which project, and the query it came with; and how a page is drawn (the layout
/// template around the page's own).
struct DashboardPage {
    let text: DashboardText
    let project: PublicProject
    let projects: [PublicProject]
    /// The signed-in session's CSRF token, for the forms on the page.
    let csrf: String
    /// Allows the page's own script and nothing else (Content-Security-Policy).
    let nonce = DashboardSessionPolicy.randomToken()
    let path: String
    let query: [String: String]
    /// Set when `?lang=` chose the language, so that a cookie keeps it.
    let languageChosen: Bool

    var language: DashboardLanguage { text.language }

    /// The page for a signed-in request; nil when no project is configured.
    init?(_ request: Request, context: DashboardContext, projects: [PublicProject], path: String) throws {
        let query = FormData.parse(request.uri.query ?? "")
        // A form names its project among its fields.
        let key = query["project"] ?? context.form["project"]
        guard let project = key.flatMap({ key in projects.first { $0.key == key } }) ?? projects.first else {
            return nil
        }
        text = DashboardText(language: Self.language(request, query: query))
        self.project = project
        self.projects = projects
        csrf = try context.signedIn().session.csrf
        self.path = path
        self.query = query
        languageChosen = query["lang"].flatMap(DashboardLanguage.init) != nil
    }

    /// `?lang=` first, then the `ct_lang` cookie, then Accept-Language.
    static func language(_ request: Request, query: [String: String]) -> DashboardLanguage {
        DashboardLanguage.choose(
            query: query["lang"], cookie: Cookies(request)["ct_lang"], acceptLanguage: request.headers[.acceptLanguage])
    }

    /// A query parameter, `nil` when absent or empty.
    func value(_ name: String) -> String? { query[name].flatMap { $0.isEmpty ? nil : $0 } }

    /// A link to `path` in this project with `parameters` (empty values left out).
    func link(_ path: String, _ parameters: [(String, String?)] = []) -> String {
        Self.url(path, [("project", project.key)] + parameters)
    }

    static func url(_ path: String, _ parameters: [(String, String?)]) -> String {
        let items = parameters.compactMap { name, value in
            value.flatMap { $0.isEmpty ? nil : "\(name)=\(FormData.encode($0))" }
        }
        return items.isEmpty ? path : path + "?" + items.joined(separator: "&")
    }

    /// A message above the page's own content.
    struct Notice {
        let kind: String
        let id: String?
        let text: String

        static func error(_ text: String, id: String? = nil) -> Notice { Notice(kind: "error", id: id, text: text) }
        static func ok(_ text: String, id: String) -> Notice { Notice(kind: "ok", id: id, text: text) }
    }

    /// What the layout template draws around every page (templates see stored properties only).
    struct Layout {
        struct Link {
            let href, label: String
            let current: Bool
        }
        struct Option {
            let value, label: String
            let selected: Bool
        }
        let title, lang: String
        let nav: [Link]
        /// The project's name, and the project switch when there is more than one project.
        let projectName: String
        let projectOptions: [Option]
        let projectPicker: Bool
        let path, languageSwitch, otherLanguage, otherLanguageName, csrf, nonce: String
        let notices: [Notice]
        let script: Bool
    }

    private struct Rendering {
        let page: Layout
        let t: [String: String]
        let content: Any
    }

    /// The page: the layout around the template `name`, which reads `content`.
    func render(
        _ name: String, title: String, content: Any, status: HTTPResponse.Status = .ok, notices: [Notice] = [],
        script: Bool = false
    ) -> Response {
        let nav: [(String, Phrase)] = [
            ("/", .report), ("/calls", .calls), ("/leads", .leads), ("/pool", .pool), ("/deliveries", .deliveries),
            ("/setup", .setup),
        ]
        let other: DashboardLanguage = language == .en ? .ru : .en
        var switchQuery = query
        switchQuery["lang"] = other.rawValue
        let layout = Layout(
            title: title, lang: language.rawValue,
            nav: nav.map { Layout.Link(href: link($0.0), label: text[$0.1], current: $0.0 == path) },
            projectName: project.name,
            projectOptions: projects.count < 2
                ? [] : projects.map { .init(value: $0.key, label: $0.name, selected: $0.key == project.key) },
            projectPicker: projects.count > 1, path: path,
            languageSwitch: Self.url(path, switchQuery.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }),
            otherLanguage: other.rawValue, otherLanguageName: other.name, csrf: csrf, nonce: nonce, notices: notices,
            script: script)
        let html = DashboardTemplates.render(name, Rendering(page: layout, t: text.all, content: content))
        var response = Self.htmlResponse(html, status: status, nonce: nonce)
        if languageChosen { response.headers.append(HTTPField(name: .setCookie, value: Self.languageCookie(language))) }
        return response
    }

    static func languageCookie(_ language: DashboardLanguage) -> String {
        "ct_lang=\(language.rawValue); Path=/; Max-Age=31536000; SameSite=Strict"
    }

    /// A page of one message (a form that expired, no projects configured).
    static func message(_ text: String, language: DashboardLanguage, status: HTTPResponse.Status) -> Response {
        struct Message { let lang, text: String }
        return htmlResponse(
            DashboardTemplates.render("message", Message(lang: language.rawValue, text: text)), status: status)
    }

    /// An HTML answer with the headers every dashboard page carries: nothing cached, not framed, the
    /// dashboard's own style sheet, its script only with this page's nonce, no outside requests.
    static func htmlResponse(_ page: String, status: HTTPResponse.Status = .ok, nonce: String? = nil) -> Response {
        let scripts = nonce.map { "'nonce-\($0)'" } ?? "'none'"
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy: "default-src 'none'; script-src \(scripts); style-src 'self'; img-src 'self'; "
                    + "media-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                HTTPField.Name("X-Frame-Options")!: "DENY", HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                HTTPField.Name("Referrer-Policy")!: "no-referrer",
            ], body: .init(byteBuffer: ByteBuffer(string: page)))
    }
}
