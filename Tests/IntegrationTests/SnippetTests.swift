import Foundation
import Testing

/// The snippet on a business's page served from another origin, in headless Chromium: content the
/// page adds later, single-page navigation, what it must never touch, and what it costs a busy page.
@Suite("The snippet on real pages", .serialized) struct SnippetTests {
    /// Polls `css`'s text until it holds a pool number (8 499 …) or `seconds` pass.
    static func swapped(_ driver: WebDriver, _ css: String, seconds: Double = 5) async throws -> String {
        var text = ""
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            text = try await driver.text(css) ?? ""
            if text.filter(\.isNumber).contains("499000000") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return text
    }

    @Test(
        "Numbers a page adds 1.5 s after load and shows after a pushState navigation are swapped without swap(); tel: links too; noswap, a textarea, editable content and JSON-LD stay as they were"
    ) func laterContent() async throws {
        try await withServer { server in
            let page = """
                <!doctype html><html><body>
                <p>Call <span id="first">8 (495) 123-45-67</span></p>
                <div data-calltrack-noswap><span id="noswap">8 (495) 123-45-67</span></div>
                <textarea id="ta">8 (495) 123-45-67</textarea>
                <div contenteditable="true" id="editable">8 (495) 123-45-67</div>
                <script type="application/ld+json" id="jsonld">{"telephone": "+7 (495) 123-45-67"}</script>
                <main id="view"></main>
                <script src="http://127.0.0.1:\(server.ports.http)/v1/projects/shop/snippet.js"></script>
                <script>
                setTimeout(function () {
                  var popup = document.createElement('div');
                  popup.innerHTML = 'Call us: <span id="late">+7 495 123 45 67</span> <a id="late-link" href="tel:+74951234567">call</a>';
                  document.body.appendChild(popup);
                }, 1500);
                function navigate() {
                  history.pushState({}, '', '/contacts');
                  document.getElementById('view').innerHTML = '<p id="spa">8 495 123-45-67</p>';
                }
                </script>
                </body></html>
                """
            let web = try PythonHelper.site(port: server.ports.sip + 46, pages: ["index.html": page])
            defer { web.stop() }
            let driver = try await WebDriver(port: server.ports.sip + 47)
            do {
                try await driver.open(
                    "http://127.0.0.1:\(server.ports.sip + 46)/index.html?utm_source=google&utm_medium=cpc")
                let first = try await Self.swapped(driver, "#first")
                #expect(
                    first.range(of: #"^8 \(499\) 000-00-0[12]$"#, options: .regularExpression) != nil, "first: \(first)"
                )
                let late = try await Self.swapped(driver, "#late")
                #expect(late.range(of: #"^\+7 499 000 00 0[12]$"#, options: .regularExpression) != nil, "late: \(late)")
                let href =
                    try await driver.run("return document.getElementById('late-link').getAttribute('href')") as? String
                #expect(href?.hasPrefix("tel:+7499000000") == true, "\(href ?? "")")
                _ = try await driver.run("navigate()")
                let spa = try await Self.swapped(driver, "#spa", seconds: 2)
                #expect(spa.range(of: #"^8 499 000-00-0[12]$"#, options: .regularExpression) != nil, "spa: \(spa)")
                // Left alone.
                #expect(try await driver.text("#noswap") == "8 (495) 123-45-67")
                #expect(
                    try await driver.run("return document.getElementById('ta').value") as? String == "8 (495) 123-45-67"
                )
                #expect(try await driver.text("#editable") == "8 (495) 123-45-67")
                #expect(
                    try await driver.run("return document.getElementById('jsonld').textContent") as? String
                        == #"{"telephone": "+7 (495) 123-45-67"}"#)
                await driver.quit()
            } catch {
                await driver.quit()
                throw error
            }
        }
    }

    @Test(
        "A page of 5,000 nodes changing every 100 ms for 10 s: the snippet's script time on the performance timeline stays under 5 % of the wall time"
    ) func busyPage() async throws {
        try await withServer { server in
            let page = """
                <!doctype html><html><body>
                <p>Call <span id="first">8 (495) 123-45-67</span></p>
                <div id="grid"></div>
                <script>
                var grid = document.getElementById('grid'), cells = [];
                for (var i = 0; i < 2500; i++) {
                  var row = document.createElement('div'), cell = document.createElement('span');
                  cell.textContent = 'price ' + i;
                  row.appendChild(cell);
                  grid.appendChild(row);
                  cells.push(cell);
                }
                var ticks = 0, startedAt = performance.now();
                var timer = setInterval(function () {
                  ticks++;
                  // A live price board: every text changes, and one row in fifty is replaced by a new node.
                  for (var i = 0; i < cells.length; i++) {
                    if (i % 50 === ticks % 50) {
                      var fresh = document.createElement('span');
                      fresh.textContent = 'call 8 495 123-45-67 #' + ticks;
                      cells[i].parentNode.replaceChild(fresh, cells[i]);
                      cells[i] = fresh;
                    } else {
                      cells[i].firstChild.nodeValue = 'price ' + i + ' @' + ticks;
                    }
                  }
                  if (ticks === 100) { clearInterval(timer); window.busyDone = performance.now() - startedAt; }
                }, 100);
                </script>
                <script src="http://127.0.0.1:\(server.ports.http)/v1/projects/shop/snippet.js?timing=1"></script>
                </body></html>
                """
            let web = try PythonHelper.site(port: server.ports.sip + 46, pages: ["busy.html": page])
            defer { web.stop() }
            let driver = try await WebDriver(port: server.ports.sip + 47)
            do {
                try await driver.open("http://127.0.0.1:\(server.ports.sip + 46)/busy.html")
                _ = try await Self.swapped(driver, "#first")
                var wall: Double?
                for _ in 0..<150 where wall == nil {
                    try await Task.sleep(for: .milliseconds(100))
                    wall = try await driver.run("return window.busyDone || null") as? Double
                }
                try await Task.sleep(for: .milliseconds(300))  // the last debounce
                let measured = try #require(wall, "the page's 10 s of changes did not finish")
                let total =
                    try await driver.run(
                        "return performance.getEntriesByName('calltrack').reduce(function (s, e) { return s + e.duration; }, 0)"
                    ) as? Double ?? -1
                let count = try await driver.run("return performance.getEntriesByName('calltrack').length") as? Int ?? 0
                let share = total / measured
                print(
                    "busy page: the snippet took \(String(format: "%.1f", total)) ms of script time in \(count) measures over \(String(format: "%.0f", measured)) ms (\(String(format: "%.2f", share * 100)) %)"
                )
                #expect(count > 100, "the snippet saw the changes: \(count) measures")
                #expect(total > 0 && share < 0.05, "\(total) ms of \(measured) ms")
                // The rows it replaced with the business number now show a pool number.
                let rows =
                    try await driver.run(
                        """
                        return Array.prototype.filter.call(document.querySelectorAll('#grid span'), function (s) {
                          return s.textContent.indexOf('call ') === 0; }).map(function (s) { return s.textContent; })
                        """) as? [String] ?? []
                #expect(!rows.isEmpty && rows.allSatisfy { $0.contains("499 000-00-0") }, "\(rows.prefix(3))")
                await driver.quit()
            } catch {
                await driver.quit()
                throw error
            }
        }
    }

    @Test(
        "AMP: the JSON amp-call-tracking expects, with AMP's CORS headers, for the page's origin and an AMP cache; a foreign origin is refused"
    ) func amp() async throws {
        try await withServer { server in
            let origin = "http://shop.test"
            let path = "/v1/projects/shop/amp?__amp_source_origin=\(origin.percentEncodedForTest)&client_id=amp-Xy_9"
            let own = try await server.get(path, token: nil, headers: ["Origin": origin])
            #expect(own.status == 200, "\(String(decoding: own.body, as: UTF8.self))")
            let json = try #require(own.json)
            let number = try #require(json["phoneNumber"] as? String)
            #expect(
                number.hasPrefix("+7499000000") && (json["formattedPhoneNumber"] as? String)?.contains("499") == true,
                "\(json)")
            #expect(
                own.headers["access-control-allow-origin"] == origin
                    && own.headers["access-control-allow-credentials"] == "true")
            #expect(own.headers["amp-access-control-allow-source-origin"] == origin)
            #expect(own.headers["access-control-expose-headers"] == "AMP-Access-Control-Allow-Source-Origin")
            // The same AMP client again keeps its number; through the AMP cache too.
            let cache = "https://shop-test.cdn.ampproject.org"
            let again = try await server.get(path, token: nil, headers: ["Origin": cache])
            #expect(again.status == 200 && again.json?["phoneNumber"] as? String == number)
            #expect(again.headers["access-control-allow-origin"] == cache)
            // A page the project does not own, or a stranger's origin, gets nothing.
            let foreign = try await server.get(
                "/v1/projects/shop/amp?__amp_source_origin=https%3A%2F%2Fevil.example&client_id=a", token: nil,
                headers: ["Origin": "https://evil.example"])
            #expect(foreign.status == 403 && foreign.headers["access-control-allow-origin"] == nil)
            let stranger = try await server.get(path, token: nil, headers: ["Origin": "https://evil.example"])
            #expect(stranger.status == 403)
            let lookalike = try await server.get(
                path, token: nil, headers: ["Origin": "https://evil.example/.cdn.ampproject.org"])
            #expect(lookalike.status == 403)
            #expect(
                try await server.get(
                    "/v1/projects/shop/amp?__amp_source_origin=\(origin.percentEncodedForTest)", token: nil
                ).status == 400)
            let health = try #require(try await server.get("/v1/projects/shop/health").json)
            #expect(health["live_reservations"] as? Int == 1)
        }
    }

    @Test(
        "cookie_domain: a visitor of www.shop.test is the same visitor on m.shop.test (names mapped to 127.0.0.1 inside Chromium, no DNS)"
    ) func sharedCookie() async throws {
        let ports = TestPorts.next()
        var options = CallTrackServer.Options()
        options.projectExtra = ["cookie_domain: .shop.test"]
        try await withServer(ports: ports, options: options) { server in
            let page = """
                <!doctype html><html><body><p id="first">8 (495) 123-45-67</p>
                <script src="http://127.0.0.1:\(server.ports.http)/v1/projects/shop/snippet.js"></script></body></html>
                """
            let web = try PythonHelper.site(port: ports.sip + 46, pages: ["index.html": page])
            defer { web.stop() }
            let driver = try await WebDriver(
                port: ports.sip + 47,
                arguments: [
                    "--host-resolver-rules=MAP www.shop.test 127.0.0.1, MAP m.shop.test 127.0.0.1, MAP other.test 127.0.0.1"
                ])
            do {
                func visitor(_ host: String) async throws -> String? {
                    try await driver.open("http://\(host):\(ports.sip + 46)/index.html")
                    for _ in 0..<30 {
                        if let id = try await driver.run(
                            "var m = document.cookie.match(/(?:^|; )_ct_cid=([^;]*)/); return m && m[1]") as? String
                        {
                            return id
                        }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    return nil
                }
                let www = try #require(try await visitor("www.shop.test"))
                #expect(try await visitor("m.shop.test") == www, "one visitor across the subdomains")
                // A site outside the domain keeps a cookie of its own.
                let other = try await visitor("other.test")
                #expect(other != nil && other != www)
                await driver.quit()
            } catch {
                await driver.quit()
                throw error
            }
        }
    }

    @Test(
        "The script has an ETag (304 when unchanged), 5 minutes of cache, a day for the current ?v=, and the cookie domain when configured"
    ) func caching() async throws {
        var options = CallTrackServer.Options()
        options.projectExtra = ["cookie_domain: .shop.test"]
        try await withServer(options: options) { server in
            let first = try await server.get("/v1/projects/shop/snippet.js", token: nil)
            let etag = try #require(first.headers["etag"])
            #expect(first.status == 200 && first.headers["cache-control"] == "public, max-age=300")
            #expect(String(decoding: first.body, as: UTF8.self).contains(#""cookieDomain":".shop.test""#))
            let unchanged = try await server.get(
                "/v1/projects/shop/snippet.js", token: nil, headers: ["If-None-Match": etag])
            #expect(unchanged.status == 304 && unchanged.body.isEmpty && unchanged.headers["etag"] == etag)
            let other = try await server.get(
                "/v1/projects/shop/snippet.js", token: nil, headers: ["If-None-Match": "\"0000\""])
            #expect(other.status == 200)
            #expect(
                try await server.get("/v1/projects/shop/snippet.js?v=2", token: nil).headers["cache-control"]
                    == "public, max-age=86400")
            #expect(
                try await server.get("/v1/projects/shop/snippet.js?v=1", token: nil).headers["cache-control"]
                    == "public, max-age=300")
        }
    }
}

extension String {
    var percentEncodedForTest: String { addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? self }
}
