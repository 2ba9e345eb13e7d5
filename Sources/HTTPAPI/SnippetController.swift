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
            "key": p.key,
            "numbers": p.siteNumbers.map { String($0.filter(\.isASCIIDigit).suffix(p.nationalDigits)) },
            "digits": p.nationalDigits,
            "reveal": reveal,
        ]
        if let selector = p.numberSelector { config["selector"] = selector }
        if let domain = p.cookieDomain { config["cookieDomain"] = domain }
        if request.uri.queryParameters["timing"] == "1" { config["timing"] = true }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]), as: UTF8.self)
        let js = snippetScript.replacingOccurrences(of: "__CONFIG__", with: json)
        let etag = "\"" + Self.fingerprint(js) + "\""
        let pinned = request.uri.queryParameters["v"].map { $0 == "\(Self.version)" } ?? false
        let headers: HTTPFields = [.contentType: "application/javascript; charset=utf-8", .eTag: etag,
                                   .cacheControl: pinned ? "public, max-age=86400" : "public, max-age=300"]
        if let asked = request.headers[.ifNoneMatch], asked.split(separator: ",").contains(where: {
            $0.trimmingCharacters(in: .whitespaces) == etag || $0.trimmingCharacters(in: .whitespaces) == "*"
        }) {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: js)))
    }

    /// FNV-1a over the script: the same text, the same tag, across restarts and nodes.
    static func fingerprint(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return Hex.fixed(hash)
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
            <p data-calltrack-noswap>Head office (never swapped): <span id="phone-office">\(formats[0])</span></p>
            <nav><a id="nav-contacts" href="#contacts">Contacts (a single-page view)</a></nav>
            <main id="view"></main>
            <script type="application/ld+json" id="jsonld">{"@context": "https://schema.org", "@type": "Store", "telephone": "\(formats[0])"}</script>
            <script src="/v1/projects/\(p.key)/snippet.js\(request.uri.queryParameters["reveal"] == "1" ? "?reveal=1" : "")"></script>
            <script>
            // What real sites do after load: a popup 2 s later, and a single-page navigation.
            setTimeout(function () {
              var popup = document.createElement('div');
              popup.id = 'popup';
              popup.innerHTML = 'Questions? Call <a id="popup-link" href="tel:+7\(d)">\(formats[1])</a>';
              document.body.appendChild(popup);
            }, 2000);
            document.getElementById('nav-contacts').addEventListener('click', function (e) {
              e.preventDefault();
              history.pushState({}, '', '#contacts');
              document.getElementById('view').innerHTML = '<h2>Contacts</h2><p id="contacts-phone">\(formats[0])</p>';
            });
            </script>
            </body></html>
            """
        return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: html)))
    }

}

/// The snippet's version (`snippet.js?v=`): raised whenever the script's behaviour changes.
let snippetVersion = 2

/// The snippet: no dependencies; keeps the business number when CallTrack cannot be reached. It swaps
/// the numbers on the page when its number arrives, then whatever the page adds or changes later
/// (popups, chat widgets, a single-page app's next view: a MutationObserver, debounced, scanning only
/// what changed and never its own edits), and never inside scripts, styles, form fields, editable
/// content or `data-calltrack-noswap`.
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
            // The shared domain (www. and m. as one visitor) where this page is in it; a browser ignores it elsewhere.
            var shared = (cfg.cookieDomain || '').replace(/^\./, '').toLowerCase(), host = location.hostname.toLowerCase();
            var inShared = shared && (host === shared || host.slice(-shared.length - 1) === '.' + shared);
            document.cookie = '_ct_cid=' + encodeURIComponent(id) + '; path=/; max-age=31536000; SameSite=Lax' +
              (inShared ? '; domain=' + shared : '');
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
          // Never edited: code, styles, form fields, editable content, and what the site marks.
          var untouchable = /^(SCRIPT|STYLE|NOSCRIPT|TEXTAREA|INPUT|SELECT|OPTION|TEMPLATE|IFRAME)$/;
          // (Attributes, not isContentEditable: that one makes the browser recompute styles on a busy page.)
          function untouched(el) {
            if (untouchable.test(el.nodeName) || el.hasAttribute('data-calltrack-noswap')) return true;
            var editable = el.getAttribute('contenteditable');
            return editable !== null && editable !== 'false';
          }
          function inUntouched(node) {
            for (var e = node.nodeType === 1 ? node : node.parentNode; e && e.nodeType === 1; e = e.parentNode) {
              if (untouched(e)) return true;
            }
            return false;
          }
          // The text nodes under root (root itself when it is one) that may be edited.
          function eachText(root, fn) {
            if (!root || inUntouched(root)) return;
            if (root.nodeType === 3) return fn(root);
            if (root.nodeType !== 1) return;
            var walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT, {
              acceptNode: function (n) {
                return n.nodeType === 3 ? NodeFilter.FILTER_ACCEPT : untouched(n) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_SKIP;
              }
            }), n, list = [];
            while ((n = walker.nextNode())) list.push(n);
            list.forEach(fn);
          }
          function within(root, selector) {
            if (root.nodeType !== 1) return [];
            var found = Array.prototype.slice.call(root.querySelectorAll(selector));
            if (root.matches(selector)) found.push(root);
            return found.filter(function (el) { return !inUntouched(el); });
          }
          // Swaps the numbers under root; swap() does the whole page.
          function swapIn(root) {
            if (!current) return;
            var d = national(current.number);
            eachText(root, function (n) {
              var t = replaceIn(n.nodeValue, d);
              if (t !== n.nodeValue) n.nodeValue = t;
            });
            if (cfg.selector) within(root, cfg.selector).forEach(function (el) {
              if (el.textContent !== current.formatted) el.textContent = current.formatted;
            });
            within(root, 'a[href^="tel:"]').forEach(function (a) {
              var h = a.getAttribute('href'), r = replaceIn(h, d);
              if (r !== h) a.setAttribute('href', r);
            });
          }
          var swap = timed(function () {
            edit(function () { swapIn(document.body); });
            if (current) current.old = national(current.number);
          });
          // What the page changes later is swapped too: the changed nodes only, a moment after the
          // change (one pass for a burst), and never in reaction to the snippet's own edits.
          var observer = null, pending = [], timer = null;
          function edit(fn) {
            fn();
            if (observer) observer.takeRecords();
          }
          var phoneLike = /\+?\d[\d\s().\-]{6,}\d/;
          function later(node) {
            // A text that changed to something without a number in it needs nothing: on a busy page
            // (a ticker, a price board) that is nearly every change.
            if (node.nodeType === 3 && !phoneLike.test(node.nodeValue)) return;
            pending.push(node);
            if (!timer) timer = setTimeout(flush, 50);
          }
          // With ?timing=1 on the script's URL, the snippet's work shows in the browser's performance
          // timeline as "calltrack" measures (DevTools' Performance panel, performance.getEntriesByName).
          function timed(fn) {
            return function () {
              if (!cfg.timing) return fn.apply(this, arguments);
              var t0 = performance.now();
              try { return fn.apply(this, arguments); } finally { performance.measure('calltrack', { start: t0, end: performance.now() }); }
            };
          }
          var flush = timed(function () {
            timer = null;
            var roots = pending;
            pending = [];
            edit(function () {
              roots.forEach(function (n) {
                if (!n.isConnected) return;
                if (current) swapIn(n);
                else if (cfg.reveal && !heartbeat) mask(n);
              });
            });
          });
          function watch() {
            if (!window.MutationObserver || !document.body) return;
            observer = new MutationObserver(timed(function (records) {
              for (var i = 0; i < records.length; i++) {
                var r = records[i];
                if (r.type === 'childList') for (var j = 0; j < r.addedNodes.length; j++) later(r.addedNodes[j]);
                else later(r.target);
              }
            }));
            observer.observe(document.body, { childList: true, subtree: true, characterData: true, attributes: true,
                                              attributeFilter: ['href'] });
            // A single-page app's navigation: the next view is swapped whole.
            ['pushState', 'replaceState'].forEach(function (m) {
              var original = history[m];
              if (typeof original !== 'function') return;
              history[m] = function () {
                var result = original.apply(this, arguments);
                later(document.body);
                return result;
              };
            });
            window.addEventListener('popstate', function () { later(document.body); });
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
              edit(unmask);
              swap();
            }).catch(function () { /* CallTrack unreachable: the page keeps the business number */ });
          }
          // Click-to-reveal: numbers are shown masked until the visitor clicks one, and only then is a
          // pool number reserved, so a tight pool serves the visitors who want to call.
          var masks = [];
          function mask(root) {
            eachText(root, function (n) {
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
          function begin() {
            if (cfg.reveal) edit(function () { mask(document.body); }); else start();
            watch();
          }
          if (document.body) begin(); else document.addEventListener('DOMContentLoaded', begin);
        })();
        """#
