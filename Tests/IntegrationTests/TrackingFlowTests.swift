import Foundation
import Testing

/// The website snippet in a real browser, reservations over HTTP, and calls attributed to the visit.
@Suite("Dynamic number tracking", .serialized) struct TrackingFlowTests {
    /// Dials `number` through CallTrack with a callee that answers; returns the finished call.
    private func call(_ server: CallTrackServer, dialling number: String, index: Int = 1) async throws -> [String: Any]
    {
        try await server.placeAnsweredCall(dialling: number, talkMilliseconds: 300)
        let calls = try await server.finishedCalls(count: index)
        return try #require(calls.first)
    }

    @Test("Chromium shows a pool number in the page's format and tel: link; the call is attributed to the ad click")
    func browserToAttributedCall() async throws {
        try await withServer { server in
            let url =
                "http://127.0.0.1:\(server.ports.http)/demo/shop?utm_source=google&utm_medium=cpc&utm_campaign=tables&utm_term=buy+table"
            let dom = try Browser.renderedDOM(url)
            let shown: String = try #require(Browser.text(ofID: "phone-main", in: dom), "\(dom)")
            #expect(
                shown.range(of: #"^\+7 \(499\) 000-00-0[12]$"#, options: .regularExpression) != nil, "shown: \(shown)")
            #expect(Browser.text(ofID: "phone-national", in: dom)?.hasPrefix("8 499 000-00-0") == true)
            let link = try #require(Browser.href(ofID: "phone-link", in: dom))
            #expect(link.hasPrefix("tel:+7499000000"), "link: \(link)")
            let digits = String(shown.filter { $0.isNumber })
            #expect(link == "tel:+" + digits)
            // Elements matching the project's number_selector get the number too.
            #expect(dom.contains("<b class=\"showroom-phone\">\(shown)</b>"), "\(dom)")

            let record = try await call(server, dialling: "8" + digits.dropFirst())
            let a = try #require(record["attribution"] as? [String: Any], "\(record)")
            #expect(a["kind"] as? String == "dynamic")
            #expect(a["source"] as? String == "google")
            #expect(a["medium"] as? String == "cpc")
            #expect(a["campaign"] as? String == "tables")
            #expect(a["keyword"] as? String == "buy table")
            #expect((a["landing_page"] as? String)?.contains("/demo/shop") == true)
            #expect(a["late"] as? Bool == false)
        }
    }

    @Test("Pool of 2 + static: three visitors get two numbers and the static one; a static call lowers accuracy")
    func exhaustionAndAccuracy() async throws {
        try await withServer { server in
            let demo = "http://127.0.0.1:\(server.ports.http)/demo/shop"
            let shown = try (0..<3).map { _ in
                try Browser.text(ofID: "phone-plain", in: Browser.renderedDOM(demo)) ?? ""
            }
            #expect(Set(shown).count == 3, "\(shown)")
            #expect(shown.contains("84990000000"), "the third visitor should see the static number: \(shown)")
            #expect(shown.contains("84990000001") && shown.contains("84990000002"), "\(shown)")

            _ = try await call(server, dialling: "84990000001", index: 1)
            var health = try #require(try await server.get("/v1/projects/shop/health").json)
            #expect(health["accuracy_percent"] as? Double == 100)
            _ = try await call(server, dialling: "84990000000", index: 2)
            health = try #require(try await server.get("/v1/projects/shop/health").json)
            #expect(health["accuracy_percent"] as? Double == 50, "\(health)")
            #expect(health["calls"] as? Int == 2)
            #expect(health["static_calls"] as? Int == 2 - 1)
            #expect((health["pool_exhausted_count"] as? Int ?? 0) >= 1)
            #expect(try await server.get("/v1/projects/shop/health", token: nil).status == 401)
        }
    }

    @Test(
        "Real calls into the report: two visitors from two ads call, the same person twice; a sale by phone and a cost import give ROI"
    ) func callsIntoReport() async throws {
        try await withServer { server in
            // Two visitors from two ads get the two pool numbers; the same caller (sipp's 79161234567)
            // calls both: the first call makes the lead, the second is a repeat.
            let google = try await server.reserve(
                clientID: "g", page: "http://shop.test/?utm_source=google&utm_medium=cpc&utm_campaign=tables")
            let yandex = try await server.reserve(
                clientID: "y", page: "http://shop.test/?utm_source=yandex&utm_medium=cpc&utm_campaign=chairs")
            _ = try await call(server, dialling: try #require(google["number"] as? String), index: 1)
            let yandexNumber = try #require(yandex["number"] as? String)
            _ = try await call(server, dialling: yandexNumber, index: 2)
            // The yandex number went back to the pool with that call: a busy call to it now knows no
            // visitor, and a call to the static number has none either.
            try await server.placeBusyCalls(1, dialling: yandexNumber)
            _ = try await call(server, dialling: "84990000000", index: 4)
            let sale = try await server.request(
                "POST", "/v1/projects/shop/sales",
                body: Data(#"{"phone": "8 916 123-45-67", "amount": 9000, "deal_id": "crm-7"}"#.utf8),
                headers: ["Content-Type": "application/json"])
            #expect(sale.status == 201, "\(String(decoding: sale.body, as: UTF8.self))")
            let today = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withFullDate])
            let costs = try await server.request(
                "PUT", "/v1/projects/shop/costs",
                body: Data(
                    "date,source,medium,campaign,keyword,amount\n\(today),google,cpc,tables,,1000\n\(today),yandex,cpc,chairs,,500\n"
                        .utf8), headers: ["Content-Type": "text/csv"])
            #expect(costs.json?["imported"] as? Int == 2)
            let report = try #require(
                try await server.get("/v1/projects/shop/report?from=\(today)&to=\(today)&group_by=source").json)
            let rows = try #require(report["rows"] as? [[String: Any]])
            let g = try #require(rows.first { ($0["group"] as? [String: String])?["source"] == "google" })
            let y = try #require(rows.first { ($0["group"] as? [String: String])?["source"] == "yandex" })
            // The sale counts for the lead's first call (google): ROI (9000 − 1000) / 1000 = 8.
            #expect(g["calls"] as? Int == 1 && g["answered"] as? Int == 1 && g["first_time_callers"] as? Int == 1)
            #expect(g["revenue"] as? Double == 9000 && g["cost"] as? Double == 1000 && g["roi"] as? Double == 8)
            #expect(y["calls"] as? Int == 1 && y["first_time_callers"] as? Int == 0 && y["revenue"] as? Double == 0)
            #expect(y["cost"] as? Double == 500 && y["roi"] as? Double == -1)
            let unknown = try #require(rows.first { ($0["group"] as? [String: String])?["source"] == "(unknown)" })
            #expect(unknown["calls"] as? Int == 1 && unknown["missed"] as? Int == 1 && unknown["cost"] as? Double == 0)
            let staticRow = try #require(rows.first { ($0["group"] as? [String: String])?["source"] == "(static)" })
            #expect(staticRow["calls"] as? Int == 1 && staticRow["answered"] as? Int == 1)
            let totals = try #require(report["totals"] as? [String: Any])
            #expect(totals["calls"] as? Int == 4 && totals["answered"] as? Int == 3 && totals["missed"] as? Int == 1)
            #expect(
                totals["unique_callers"] as? Int == 1 && totals["first_time_callers"] as? Int == 1
                    && totals["cost"] as? Double == 1500)
        }
    }

    @Test(
        "The business's phone sees the source before answering: X-CallTrack-* headers (a Cyrillic keyword percent-encoded, first time or not) and a [source/medium] name; a visitor's CRLF stays inside its header"
    ) func sourceBeforeAnswer() async throws {
        var options = CallTrackServer.Options()
        options.projectExtra = ["caller_name_prefix: true"]
        try await withServer(options: options) { server in
            let p = server.ports
            // «купить стол», as an ad platform puts it in the URL.
            let keyword = "%D0%BA%D1%83%D0%BF%D0%B8%D1%82%D1%8C+%D1%81%D1%82%D0%BE%D0%BB"
            let visitor = try await server.reserve(
                clientID: "k",
                page: "http://shop.test/?utm_source=google&utm_medium=cpc&utm_campaign=tables&utm_term=\(keyword)")
            let attacker = try await server.reserve(
                clientID: "x", page: "http://shop.test/?utm_source=evil%0D%0AX-Injected:%201&utm_medium=cpc")
            let callee = try RawCallee(port: p.callee, mediaPort: p.sip + 41)
            defer { callee.stop() }
            func invite(dialling number: String, index: Int) async throws -> (String, [String: Any]) {
                let caller = try SIPp(
                    "caller", scenario: Scenario.callerHangsUp(), localPort: p.caller, mediaPort: p.callerMedia,
                    target: "127.0.0.1:\(p.sip)", service: number, pauseMilliseconds: 300)
                #expect(try await caller.wait() == 0, "\(caller.diagnostics())")
                let record = try #require(try await server.finishedCalls(count: index).first)
                // The INVITE of this call (the first of its Call-ID).
                var seen: [String] = []
                let invites = callee.received.filter { m in
                    guard m.hasPrefix("INVITE"), let id = RawSIP.header("Call-ID", in: m), !seen.contains(id) else {
                        return false
                    }
                    seen.append(id)
                    return true
                }
                return (try #require(invites.count == index ? invites.last : nil, "\(invites.count) INVITEs"), record)
            }
            let (forwarded, record) = try await invite(dialling: try #require(visitor["number"] as? String), index: 1)
            #expect(RawSIP.header("X-CallTrack-Source", in: forwarded) == "google")
            #expect(RawSIP.header("X-CallTrack-Medium", in: forwarded) == "cpc")
            #expect(RawSIP.header("X-CallTrack-Campaign", in: forwarded) == "tables")
            #expect(
                RawSIP.header("X-CallTrack-Keyword", in: forwarded)
                    == "%D0%BA%D1%83%D0%BF%D0%B8%D1%82%D1%8C%20%D1%81%D1%82%D0%BE%D0%BB")
            #expect(RawSIP.header("X-CallTrack-Keyword", in: forwarded)?.removingPercentEncoding == "купить стол")
            #expect(RawSIP.header("X-CallTrack-Number-Kind", in: forwarded) == "dynamic")
            #expect(RawSIP.header("X-CallTrack-First-Time", in: forwarded) == "yes", "the caller's first call")
            #expect(RawSIP.header("X-CallTrack-Call-ID", in: forwarded) == record["id"] as? String)
            #expect(
                RawSIP.header("From", in: forwarded)?.hasPrefix("\"[google/cpc] Alice\" <sip:79161234567@") == true,
                "\(RawSIP.header("From", in: forwarded) ?? "")")

            let (injected, _) = try await invite(dialling: try #require(attacker["number"] as? String), index: 2)
            #expect(RawSIP.header("X-CallTrack-Source", in: injected) == "evil%0D%0AX-Injected%3A%201")
            #expect(RawSIP.header("X-Injected", in: injected) == nil, "\(injected)")
            #expect(RawSIP.header("X-CallTrack-First-Time", in: injected) == "no", "the same caller again")
            #expect(
                RawSIP.header("From", in: injected)?.hasPrefix("\"[evilX-Injected: 1/cpc] Alice\"") == true,
                "control characters leave the name: \(RawSIP.header("From", in: injected) ?? "")")

            let (toStatic, _) = try await invite(dialling: "84990000000", index: 3)
            #expect(RawSIP.header("X-CallTrack-Number-Kind", in: toStatic) == "static")
            #expect(RawSIP.header("X-CallTrack-Source", in: toStatic) == nil)
            #expect(RawSIP.header("From", in: toStatic)?.hasPrefix("\"[static] Alice\"") == true)
        }
    }

    @Test("Restart keeps live reservations and visit history") func restartKeepsReservations() async throws {
        let server = try CallTrackServer()
        try await server.start()
        let first = try await server.reserve(
            clientID: "visitor-1", page: "http://shop.test/?utm_source=yandex&utm_medium=cpc&utm_campaign=sofas")
        try await server.stop()
        try await server.start()
        let again = try await server.reserve(clientID: "visitor-1", page: "http://shop.test/catalog")
        #expect(again["number"] as? String == first["number"] as? String)
        let record = try await call(server, dialling: try #require(first["number"] as? String))
        let a = try #require(record["attribution"] as? [String: Any])
        #expect(a["source"] as? String == "yandex" && a["campaign"] as? String == "sofas", "\(a)")
        try await server.stop()
    }

    @Test("A call shortly after the reservation expired is attributed and flagged late") func lateCall() async throws {
        var options = CallTrackServer.Options()
        options.reservationTTLSeconds = 10
        try await withServer(options: options) { server in
            let r = try await server.reserve(clientID: "slow", page: "http://shop.test/?gclid=abc")
            try await Task.sleep(for: .seconds(11))
            let record = try await call(server, dialling: try #require(r["number"] as? String))
            let a = try #require(record["attribution"] as? [String: Any])
            #expect(a["late"] as? Bool == true)
            #expect(a["source"] as? String == "google" && a["medium"] as? String == "cpc")
        }
    }

    @Test("Click-to-reveal: numbers are masked and no pool number is taken until the visitor clicks")
    func clickToReveal() async throws {
        try await withServer { server in
            let dom = try Browser.renderedDOM("http://127.0.0.1:\(server.ports.http)/demo/shop?reveal=1")
            #expect(dom.contains("calltrack-reveal"), "\(dom)")
            #expect(dom.contains("+7 (495) 123-\u{2022}\u{2022}-\u{2022}\u{2022}"), "\(dom)")
            #expect(!dom.contains("499"), "a pool number was shown before any click")
            let health = try #require(try await server.get("/v1/projects/shop/health").json)
            #expect(health["live_reservations"] as? Int == 0)
            #expect(health["visits"] as? Int == 0)
        }
    }

    @Test("The snippet on the business's own site (another origin): click-to-reveal reserves on click and swaps")
    func crossOriginSiteWithReveal() async throws {
        try await withServer { server in
            let sitePort = server.ports.sip + 46
            // The business's page: its own number, the snippet from CallTrack, and a visitor who clicks the masked number.
            let web = try PythonHelper.site(
                port: sitePort,
                pages: [
                    "index.html": """
                    <!doctype html><html><body>
                    <p>Call <span id="phone">8 (495) 123-45-67</span></p>
                    <script src="http://127.0.0.1:\(server.ports.http)/v1/projects/shop/snippet.js?reveal=1"></script>
                    <script>setTimeout(function () { document.querySelector('.calltrack-reveal').click(); }, 200);</script>
                    </body></html>
                    """
                ])
            defer { web.stop() }
            let dom = try Browser.renderedDOM("http://127.0.0.1:\(sitePort)/index.html?utm_source=vk&utm_medium=social")
            let shown = try #require(Browser.text(ofID: "phone", in: dom), "\(dom)")
            #expect(
                shown.range(of: #"^8 \(499\) 000-00-0[12]$"#, options: .regularExpression) != nil, "shown: \(shown)")
            let health = try #require(try await server.get("/v1/projects/shop/health").json)
            #expect(health["live_reservations"] as? Int == 1)
        }
    }
}
