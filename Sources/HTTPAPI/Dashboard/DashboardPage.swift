import Foundation
import HTTPTypes
import Hummingbird

/// What every dashboard page knows about the request it answers: who is signed in, in which
/// language, for which project, and the query it came with.
struct DashboardPage {
    let text: DashboardText
    let project: PublicProject
    let projects: [PublicProject]
    /// The signed-in session's CSRF token, for the forms on the page.
    let csrf: String
    /// Allows the page's own inline script and nothing else (Content-Security-Policy).
    let nonce = DashboardSessions.randomToken()
    let path: String
    let query: [String: String]
    /// Set when `?lang=` chose the language, so that a cookie keeps it.
    let languageChosen: Bool

    var language: DashboardLanguage { text.language }

    /// A query parameter, `nil` when absent or empty.
    func value(_ name: String) -> String? { query[name].flatMap { $0.isEmpty ? nil : $0 } }

    /// A link to `path` in this project with `parameters` (empty values left out).
    func link(_ path: String, _ parameters: [(String, String?)] = []) -> String {
        Self.url(path, [("project", project.key)] + parameters)
    }

    static func url(_ path: String, _ parameters: [(String, String?)]) -> String {
        let items = parameters.compactMap { name, value in value.flatMap { $0.isEmpty ? nil : "\(name)=\(formEncode($0))" } }
        return items.isEmpty ? path : path + "?" + items.joined(separator: "&")
    }

    /// The whole page: head, navigation, `body`.
    func response(title: String, body: String, status: HTTPResponse.Status = .ok, notice: String? = nil) -> Response {
        let nav: [(String, Phrase)] = [("/", .report), ("/calls", .calls), ("/leads", .leads), ("/pool", .pool),
                                       ("/deliveries", .deliveries), ("/setup", .setup)]
        let links = nav.map { target, phrase in
            "<a href=\"\(html(link(target)))\"\(target == path ? " class=\"current\"" : "")>\(html(text[phrase]))</a>"
        }.joined()
        let otherLanguage: DashboardLanguage = language == .en ? .ru : .en
        var switchQuery = query
        switchQuery["lang"] = otherLanguage.rawValue
        let switchLink = Self.url(path, switchQuery.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        let projectPicker = projects.count < 2 ? "<span class=\"project\">\(html(project.name))</span>" : """
            <form method="get" action="\(html(path))" class="project"><select name="project" aria-label="\(html(text[.project]))">\
            \(projects.map { "<option value=\"\(html($0.key))\"\($0.key == project.key ? " selected" : "")>\(html($0.name))</option>" }.joined())\
            </select><button>\(html(text[.show]))</button></form>
            """
        let page = """
            <!doctype html>
            <html lang="\(language.rawValue)"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(html(title)) · CallTrack</title>
            <style>\(Self.style)</style></head>
            <body><header><strong>CallTrack</strong>\(projectPicker)<nav>\(links)</nav>
            <a id="language" href="\(html(switchLink))" lang="\(otherLanguage.rawValue)">\(otherLanguage.name)</a>
            <form method="post" action="/signout"><input type="hidden" name="csrf" value="\(csrf)">\
            <button id="sign-out">\(html(text[.signOut]))</button></form></header>
            <main><h1>\(html(title))</h1>\(notice ?? "")\(body)</main></body></html>
            """
        var response = Self.htmlResponse(page, status: status, nonce: nonce)
        if languageChosen { response.headers.append(HTTPField(name: .setCookie, value: Self.languageCookie(language))) }
        return response
    }

    static func languageCookie(_ language: DashboardLanguage) -> String {
        "ct_lang=\(language.rawValue); Path=/; Max-Age=31536000; SameSite=Strict"
    }

    /// An HTML answer with the headers every dashboard page carries: nothing cached, not framed,
    /// scripts only with this page's nonce, no outside requests of any kind.
    static func htmlResponse(_ page: String, status: HTTPResponse.Status = .ok, nonce: String? = nil) -> Response {
        let scripts = nonce.map { "'nonce-\($0)'" } ?? "'none'"
        return Response(status: status, headers: [
            .contentType: "text/html; charset=utf-8",
            .cacheControl: "no-store",
            .contentSecurityPolicy: "default-src 'none'; script-src \(scripts); style-src 'unsafe-inline'; img-src 'self'; "
                + "media-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            HTTPField.Name("X-Frame-Options")!: "DENY",
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            HTTPField.Name("Referrer-Policy")!: "no-referrer",
        ], body: .init(byteBuffer: ByteBuffer(string: page)))
    }

    static let style = """
        body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#f6f7f9}
        header{display:flex;gap:16px;align-items:center;padding:8px 16px;background:#1f3b5c;color:#fff;flex-wrap:wrap}
        header a{color:#dde7f3;text-decoration:none}header a.current{color:#fff;font-weight:bold;border-bottom:2px solid #fff}
        header nav{display:flex;gap:14px;flex:1}header form{margin:0}main{padding:8px 16px 32px;max-width:1200px}
        h1{font-size:20px}h2{font-size:16px;margin-top:24px}table{border-collapse:collapse;background:#fff;width:100%}
        th,td{border-bottom:1px solid #e3e6ea;padding:4px 8px;text-align:left;vertical-align:middle}
        td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}td.n{white-space:nowrap}tfoot td{font-weight:bold}
        form.filters{display:flex;gap:8px;flex-wrap:wrap;align-items:end;margin:8px 0 16px}
        form.filters label{display:flex;flex-direction:column;font-size:12px;color:#555}
        .warning{background:#fff4d6;border:1px solid #e7c45a;padding:8px 12px;margin:8px 0}
        .error{background:#fde7e7;border:1px solid #d66;padding:8px 12px;margin:8px 0}
        .ok{background:#e5f5e9;border:1px solid #6b6;padding:8px 12px;margin:8px 0}
        .badge{background:#3a9d5d;color:#fff;border-radius:3px;padding:0 4px;font-size:11px;margin-left:4px}
        .missed{color:#b03030}svg{background:#fff;width:100%;max-width:900px;height:auto}
        .legend{list-style:none;padding:0;display:flex;gap:12px;flex-wrap:wrap}
        .swatch{display:inline-block;width:10px;height:10px;margin-right:4px}
        pre{background:#fff;border:1px solid #ccc;padding:8px;white-space:pre-wrap}audio{height:28px}
        #plan{width:auto;min-width:360px}dl{display:grid;grid-template-columns:max-content auto;gap:4px 16px}dd{margin:0;font-weight:bold}
        textarea{width:100%;max-width:800px;height:160px}.signin{max-width:360px;margin:80px auto;background:#fff;padding:24px}
        .signin input{width:100%;box-sizing:border-box;margin:4px 0 12px;padding:6px}
        """
}

/// `application/x-www-form-urlencoded`: what forms send in a query or a POST body.
enum FormData {
    /// The fields of `raw`; a field repeated keeps its first value; at most `limit` fields.
    static func parse(_ raw: String, limit: Int = 64) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in raw.split(separator: "&").prefix(limit) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String? { s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let name = decode(parts[0]), fields[name] == nil else { continue }
            fields[name] = parts.count > 1 ? decode(parts[1]) ?? "" : ""
        }
        return fields
    }
}

/// Encodes a value for a query string.
func formEncode(_ s: String) -> String { s.percentEncodedUnreserved }
