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
        guard let p = found else {
            throw APIError.notFound("no project with this key")
        }
        return p
    }

    @Sendable func snippet(_ request: Request, context: Context) async throws -> Response {
        let p = try project(context.parameters.get("key"))
        // ?reveal=1 previews click-to-reveal on a project that does not use it (the demo page passes it on).
        let reveal = p.clickToReveal || request.uri.queryParameters["reveal"] == "1"
        var config: [String: Any] = [
            "key": p.key,
            "numbers": p.siteNumbers.map { String($0.filter(\.isASCIIDigit).suffix(p.nationalDigits)) },
            "digits": p.nationalDigits,
            "reveal": reveal,
        ]
        if let selector = p.numberSelector { config["selector"] = selector }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]), as: UTF8.self)
        let js = snippetScript.replacingOccurrences(of: "__CONFIG__", with: json)
        return Response(status: .ok, headers: [.contentType: "application/javascript; charset=utf-8",
                                               .cacheControl: "public, max-age=300"],
                        body: .init(byteBuffer: ByteBuffer(string: js)))
    }

    @Sendable func demo(_ request: Request, context: Context) async throws -> Response {
        let p = try project(context.parameters.get("key"))
        let number = p.siteNumbers.first ?? "+74951234567"
        let d = String(number.filter(\.isASCIIDigit).suffix(10))
        func at(_ r: Range<Int>) -> String { String(d.dropFirst(r.lowerBound).prefix(r.count)) }
        let formats = [
            "+7 (\(at(0..<3))) \(at(3..<6))-\(at(6..<8))-\(at(8..<10))",
            "8 \(at(0..<3)) \(at(3..<6))-\(at(6..<8))-\(at(8..<10))",
            "8\(d)",
        ]
        let escaped = p.name.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escaped) — CallTrack demo</title></head>
            <body>
            <h1>\(escaped)</h1>
            <p>Call us: <span id="phone-main">\(formats[0])</span></p>
            <p>From anywhere in Russia: <span id="phone-national">\(formats[1])</span></p>
            <p>Plain digits: <span id="phone-plain">\(formats[2])</span></p>
            <p><a id="phone-link" href="tel:+7\(d)">Tap to call</a></p>
            <p>Showroom: <b class="showroom-phone">call the showroom</b></p>
            <script src="/v1/projects/\(p.key)/snippet.js\(request.uri.queryParameters["reveal"] == "1" ? "?reveal=1" : "")"></script>
            </body></html>
            """
        return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: html)))
    }

}

/// The snippet: no dependencies; keeps the business number when CallTrack cannot be reached.
let snippetScript = #"""
        (function () {
          var cfg = __CONFIG__;
          var me = document.currentScript;
          var api = me && me.src ? new URL(me.src).origin : location.origin;
          var current = null, heartbeat = null;

          function cookie(name) {
            var m = document.cookie.match(new RegExp('(?:^|; )' + name + '=([^;]*)'));
            return m ? decodeURIComponent(m[1]) : null;
          }
          function clientId() {
            var id = cookie('_ct_cid');
            if (!id) {
              var ga = cookie('_ga');  // GA1.1.123.456: reuse the analytics id so reports can be joined
              id = ga ? ga.split('.').slice(-2).join('.') : cookie('_ym_uid');
            }
            if (!id) id = Date.now().toString(36) + '.' + Math.random().toString(36).slice(2, 10);
            document.cookie = '_ct_cid=' + encodeURIComponent(id) + '; path=/; max-age=31536000; SameSite=Lax';
            return id;
          }
          var national = function (s) { return s.replace(/\D/g, '').slice(-cfg.digits); };
          // Writes the new national digits into the old number's digit places, keeping its format.
          function rewrite(text, digits) {
            var i = digits.length, out = '';
            for (var k = text.length - 1; k >= 0; k--) {
              var c = text.charAt(k);
              out = (/\d/.test(c) && i > 0 ? digits.charAt(--i) : c) + out;
            }
            return out;
          }
          var pattern = /\+?\d[\d\s().\-]{6,}\d/g;
          function replaceIn(text, digits) {
            return text.replace(pattern, function (m) {
              return cfg.numbers.indexOf(national(m)) >= 0 || (current && national(m) === current.old) ? rewrite(m, digits) : m;
            });
          }
          function eachText(fn) {
            var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT), n, list = [];
            while ((n = walker.nextNode())) list.push(n);
            list.forEach(fn);
          }
          function swap() {
            if (!current) return;
            var d = national(current.number);
            eachText(function (n) {
              var t = replaceIn(n.nodeValue, d);
              if (t !== n.nodeValue) n.nodeValue = t;
            });
            if (cfg.selector) {
              var marked = document.querySelectorAll(cfg.selector);
              for (var s = 0; s < marked.length; s++) marked[s].textContent = current.formatted;
            }
            var links = document.querySelectorAll('a[href^="tel:"]');
            for (var j = 0; j < links.length; j++) {
              var h = links[j].getAttribute('href'), r = replaceIn(h, d);
              if (r !== h) links[j].setAttribute('href', r);
            }
            current.old = d;
          }
          function reserve() {
            if (!window.fetch) return;
            var q = new URLSearchParams(location.search);
            var body = { client_id: clientId(), page: location.href, referrer: document.referrer || null };
            ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content', 'gclid', 'yclid'].forEach(function (k) {
              if (q.get(k)) body[k] = q.get(k);
            });
            // The analytics counters' own visitor ids, so calls can be sent to GA4 and Metrica.
            var ga = cookie('_ga'), ym = cookie('_ym_uid');
            if (ga && /^GA\d\.\d+\.\d+\.\d+$/.test(ga)) body.ga_client_id = ga.split('.').slice(-2).join('.');
            if (ym && /^\d{1,32}$/.test(ym)) body.ym_client_id = ym;
            fetch(api + '/v1/projects/' + cfg.key + '/reservations', {
              method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body)
            }).then(function (r) { return r.ok ? r.json() : null; }).then(function (res) {
              if (!res) return;
              var old = current ? current.old : null;
              current = { number: res.number, kind: res.kind, formatted: res.formatted, old: old };
              unmask();
              swap();
            }).catch(function () { /* CallTrack unreachable: the page keeps the business number */ });
          }
          // Click-to-reveal: numbers are shown masked until the visitor clicks one, and only then is a
          // pool number reserved, so a tight pool serves the visitors who want to call.
          var masks = [];
          function mask() {
            eachText(function (n) {
              var text = n.nodeValue, m, last = 0, frag = document.createDocumentFragment();
              pattern.lastIndex = 0;
              while ((m = pattern.exec(text))) {
                if (cfg.numbers.indexOf(national(m[0])) < 0) continue;
                frag.appendChild(document.createTextNode(text.slice(last, m.index)));
                var span = document.createElement('span');
                span.className = 'calltrack-reveal';
                span.setAttribute('role', 'button');
                span.setAttribute('data-number', m[0]);
                span.textContent = m[0].replace(/\d(?=(\D*\d){0,3}\D*$)/g, '\u2022') + ' \u00bb';
                span.addEventListener('click', start);
                frag.appendChild(span);
                masks.push(span);
                last = m.index + m[0].length;
              }
              if (last > 0) {
                frag.appendChild(document.createTextNode(text.slice(last)));
                n.parentNode.replaceChild(frag, n);
              }
            });
          }
          function unmask() {
            masks.forEach(function (s) { s.parentNode && s.parentNode.replaceChild(document.createTextNode(s.getAttribute('data-number')), s); });
            masks = [];
          }
          function start() {
            if (heartbeat) return;
            reserve();
            heartbeat = setInterval(function () { if (document.visibilityState === 'visible') reserve(); }, 60000);
          }
          window.CallTrack = { swap: swap, reveal: start, number: function () { return current && current.number; } };
          if (cfg.reveal) mask(); else start();
        })();
        """#
