import Foundation
import Testing

/// A scripted day of visits and real SIP calls, read back through the report API and through the
/// dashboard in headless Chromium.
@Suite("Reports and the dashboard", .serialized) struct DashboardTests {
    static let offlinePools = """
              - name: main
                numbers: ["+74990000001", "+74990000002"]
                static: "+74990000000"
            offline:
              - number: "+74990000100"
                channel: billboard
        """

    /// Dials `number` as `caller` (digits) with the given callee behaviour; waits for the record.
    private func dial(
        _ server: CallTrackServer, _ number: String, from caller: String, callee: String, callerScenario: String,
        talkMilliseconds: Int = 300, finished: Int
    ) async throws -> [String: Any] {
        let p = server.ports
        let calleeSIPp = try SIPp(
            "callee", scenario: callee, localPort: p.callee, mediaPort: p.calleeMedia, target: nil)
        try await Task.sleep(for: .milliseconds(200))
        let callerSIPp = try SIPp(
            "caller", scenario: callerScenario.replacingOccurrences(of: "79161234567", with: caller),
            localPort: p.caller, mediaPort: p.callerMedia, target: "127.0.0.1:\(p.sip)", service: number,
            pauseMilliseconds: talkMilliseconds)
        #expect(try await callerSIPp.wait() == 0, "\(callerSIPp.diagnostics())")
        _ = try await calleeSIPp.wait()
        let calls = try await server.finishedCalls(count: finished)
        return try #require(
            calls.first {
                ($0["caller"] as? String) == caller
                    && ($0["did"] as? String).map { number.hasSuffix($0.suffix(10)) } == true
            }, "\(calls)")
    }

    private func number(_ assignment: [String: Any]) throws -> String {
        let n = try #require(assignment["number"] as? String)
        #expect(assignment["kind"] as? String == "dynamic", "\(assignment)")
        return n
    }

    private func row(_ report: [String: Any], _ key: String, _ value: String) throws -> [String: Any] {
        let rows = try #require(report["rows"] as? [[String: Any]])
        return try #require(
            rows.first { ($0["group"] as? [String: String])?[key] == value }, "no \(key)=\(value) in \(rows)")
    }

    /// Every figure of a report row against the hand-computed one (`nil` for JSON null).
    private func check(_ row: [String: Any], _ expected: [String: Double?], _ label: String) {
        for (key, want) in expected {
            let got = row[key]
            if let want {
                #expect(
                    (got as? NSNumber)?.doubleValue == want, "\(label) \(key): \(String(describing: got)), want \(want)"
                )
            } else {
                #expect(got is NSNull, "\(label) \(key): \(String(describing: got)), want null")
            }
        }
    }

    @Test(
        "A scripted day: visits, answered/busy/no-answer/static/offline calls, sales and costs in the report; the dashboard in Chromium"
    ) func scriptedDay() async throws {
        var options = CallTrackServer.Options()
        options.ringTimeoutSeconds = 2
        options.pools = Self.offlinePools
        try await withServer(options: options) { server in
            let today = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withFullDate])
            let site = "http://shop.test/?utm_medium=cpc&utm_source="
            let answers = Scenario.calleeAnswers(ringMilliseconds: 100, audio: false)
            // 1. A google visitor; caller A answers and talks (recorded).
            // Its page has a gclid, and the site's GA and Metrica counters had set their visitor ids.
            let g1 = try number(
                try await server.reserve(
                    clientID: "g1", page: site + "google&utm_campaign=tables&utm_term=buy+table&gclid=Cj0KCQtest-1",
                    extra: ["ym_client_id": "1700000000123456789", "ga_client_id": "123456789.1700000000"]))
            let first = try await dial(
                server, g1, from: "79160000001", callee: answers, callerScenario: Scenario.callerHangsUp(),
                talkMilliseconds: 2500, finished: 1)
            // 2. A yandex visitor; caller B, the business is busy.
            let y1 = try number(
                try await server.reserve(
                    clientID: "y1", page: site + "yandex&utm_campaign=chairs&utm_term=office+chair",
                    extra: ["ym_client_id": "1700000000987654321"]))
            _ = try await dial(
                server, y1, from: "79160000002", callee: Scenario.calleeRejects(486, "Busy Here"),
                callerScenario: Scenario.callerExpects(486), finished: 2)
            // 3. Another yandex visitor, whose keyword carries markup; caller C, nobody answers (ring timeout 2 s).
            let y2 = try number(
                try await server.reserve(
                    clientID: "y2", page: site + "yandex&utm_campaign=chairs&utm_term=%3Cb%20id%3Dxss%3Echair%3C%2Fb%3E"
                ))
            _ = try await dial(
                server, y2, from: "79160000003", callee: Scenario.calleeRingsUntilCancel,
                callerScenario: Scenario.callerExpects(480), finished: 3)
            // 4. A visitor who came from vk first and from a google ad later: caller A again (a repeat caller).
            _ = try await server.reserve(
                clientID: "r", page: "http://shop.test/?utm_source=vk&utm_medium=social&utm_campaign=spring")
            let r = try number(
                try await server.reserve(clientID: "r", page: site + "google&utm_campaign=sofas&utm_term=sofa"))
            let repeatCall = try await dial(
                server, r, from: "79160000001", callee: answers, callerScenario: Scenario.callerHangsUp(), finished: 4)
            // 5. Two visitors hold both numbers, so a third is shown the static number and calls it;
            // 6. the billboard's offline number.
            _ = try number(
                try await server.reserve(clientID: "h1", page: "http://shop.test/?utm_source=google&utm_medium=cpc"))
            _ = try number(
                try await server.reserve(clientID: "h2", page: "http://shop.test/?utm_source=google&utm_medium=cpc"))
            let shown = try await server.reserve(
                clientID: "s", page: "http://shop.test/?utm_source=google&utm_medium=cpc")
            #expect(shown["kind"] as? String == "static", "\(shown)")
            _ = try await dial(
                server, "84990000000", from: "79160000004", callee: answers, callerScenario: Scenario.callerHangsUp(),
                finished: 5)
            _ = try await dial(
                server, "84990000100", from: "79160000005", callee: answers, callerScenario: Scenario.callerHangsUp(),
                finished: 6)
            #expect(first["first_time"] as? Bool == true && repeatCall["first_time"] as? Bool == false)
            // Two sales: one by call id, one by the billboard caller's phone typed in another format.
            let firstID = try #require(first["id"] as? String)
            let sale1 = try await server.request(
                "POST", "/v1/calls/\(firstID)/sale", body: Data(#"{"amount": 15000, "deal_id": "crm-1"}"#.utf8),
                headers: ["Content-Type": "application/json"])
            #expect(sale1.status == 201)
            let sale2 = try await server.request(
                "POST", "/v1/projects/shop/sales",
                body: Data(#"{"phone": "8 (916) 000-00-05", "amount": 7000, "deal_id": "crm-2"}"#.utf8),
                headers: ["Content-Type": "application/json"])
            #expect(sale2.status == 201)

            // The dashboard: the costs go in through its form.
            let driver = try await WebDriver(port: server.ports.sip + 47)
            do {
                try await browse(driver, server: server, today: today, recordedCall: first)
                await driver.quit()
            } catch {
                try? await driver.screenshot(to: WebDriver.artifacts + "/dashboard-failure.png")
                await driver.quit()
                throw error
            }

            // Every cell of the report by source, by campaign and by day, computed by hand.
            let base = "/v1/projects/shop/report?from=\(today)&to=\(today)"
            let bySource = try #require(try await server.get(base + "&group_by=source").json)
            check(
                try row(bySource, "source", "google"),
                [
                    "calls": 2, "answered": 2, "missed": 0, "unique_callers": 1, "first_time_callers": 1, "sales": 1,
                    "revenue": 15000, "cost": 1500, "cost_per_call": 750, "cost_per_lead": 1500, "roi": 9,
                ], "google")
            check(
                try row(bySource, "source", "yandex"),
                [
                    "calls": 2, "answered": 0, "missed": 2, "unique_callers": 2, "first_time_callers": 2, "sales": 0,
                    "revenue": 0, "cost": 500, "cost_per_call": 250, "cost_per_lead": 250, "roi": -1, "talk_seconds": 0,
                ], "yandex")
            check(
                try row(bySource, "source", "(static)"),
                [
                    "calls": 1, "answered": 1, "missed": 0, "unique_callers": 1, "first_time_callers": 1, "sales": 0,
                    "revenue": 0, "cost": 0, "cost_per_call": 0, "cost_per_lead": 0, "roi": nil,
                ], "(static)")
            check(
                try row(bySource, "source", "billboard"),
                [
                    "calls": 1, "answered": 1, "missed": 0, "unique_callers": 1, "first_time_callers": 1, "sales": 1,
                    "revenue": 7000, "cost": 0, "cost_per_call": 0, "cost_per_lead": 0, "roi": nil,
                ], "billboard")
            #expect((bySource["rows"] as? [Any])?.count == 4)
            let totals = try #require(bySource["totals"] as? [String: Any])
            check(
                totals,
                [
                    "calls": 6, "answered": 4, "missed": 2, "unique_callers": 5, "first_time_callers": 5, "sales": 2,
                    "revenue": 22000, "cost": 2000, "cost_per_call": 333.333, "cost_per_lead": 400, "roi": 10,
                ], "totals")
            #expect(((totals["talk_seconds"] as? Double) ?? 0) > 2.5, "\(totals)")

            let byCampaign = try #require(try await server.get(base + "&group_by=campaign").json)
            check(
                try row(byCampaign, "campaign", "tables"),
                [
                    "calls": 1, "answered": 1, "missed": 0, "unique_callers": 1, "first_time_callers": 1, "sales": 1,
                    "revenue": 15000, "cost": 1000, "cost_per_call": 1000, "cost_per_lead": 1000, "roi": 14,
                ], "tables")
            check(
                try row(byCampaign, "campaign", "sofas"),
                [
                    "calls": 1, "answered": 1, "missed": 0, "unique_callers": 1, "first_time_callers": 0, "sales": 0,
                    "revenue": 0, "cost": 500, "cost_per_call": 500, "cost_per_lead": nil, "roi": -1,
                ], "sofas")
            check(
                try row(byCampaign, "campaign", "chairs"),
                [
                    "calls": 2, "answered": 0, "missed": 2, "unique_callers": 2, "first_time_callers": 2, "sales": 0,
                    "revenue": 0, "cost": 500, "cost_per_call": 250, "cost_per_lead": 250, "roi": -1, "talk_seconds": 0,
                ], "chairs")
            check(
                try row(byCampaign, "campaign", "(none)"),
                [
                    "calls": 2, "answered": 2, "missed": 0, "unique_callers": 2, "first_time_callers": 2, "sales": 1,
                    "revenue": 7000, "cost": 0, "cost_per_call": 0, "cost_per_lead": 0, "roi": nil,
                ], "(none)")
            #expect((byCampaign["rows"] as? [Any])?.count == 4)

            let byDay = try #require(try await server.get(base + "&group_by=day").json)
            check(
                try row(byDay, "day", today),
                [
                    "calls": 6, "answered": 4, "missed": 2, "unique_callers": 5, "first_time_callers": 5, "sales": 2,
                    "revenue": 22000, "cost": 2000, "cost_per_call": 333.333, "cost_per_lead": 400, "roi": 10,
                ], "day")
            #expect(try row(byDay, "day", today)["talk_seconds"] as? Double == totals["talk_seconds"] as? Double)
            #expect((byDay["rows"] as? [Any])?.count == 1)

            // Under first click the repeat visitor's call moves to vk, where they first came from.
            let firstClick = try #require(try await server.get(base + "&group_by=source&model=first_click").json)
            #expect(firstClick["model"] as? String == "first_click")
            check(
                try row(firstClick, "source", "vk"),
                ["calls": 1, "answered": 1, "first_time_callers": 0, "revenue": 0], "vk")
            check(
                try row(firstClick, "source", "google"),
                ["calls": 1, "first_time_callers": 1, "revenue": 15000, "cost": 1500, "roi": 9], "google first click")
            check(try row(firstClick, "source", "yandex"), ["calls": 2, "missed": 2], "yandex first click")

            // The exports for Metrica and Google Ads.
            let a = try #require(first["attribution"] as? [String: Any])
            #expect(
                a["gclid"] as? String == "Cj0KCQtest-1" && a["ga_client_id"] as? String == "123456789.1700000000"
                    && a["ym_client_id"] as? String == "1700000000123456789", "\(a)")
            let startedText = try #require(first["started_at"] as? String)
            let started = try #require(ISO8601DateFormatter.withMilliseconds.date(from: startedText))
            let metrica = try await server.get("/v1/projects/shop/exports/metrica-calls.csv?from=\(today)&to=\(today)")
            #expect(metrica.status == 200 && metrica.headers["content-type"]?.hasPrefix("text/csv") == true)
            let metricaLines = String(decoding: metrica.body, as: UTF8.self).components(separatedBy: "\r\n").filter {
                !$0.isEmpty
            }
            #expect(
                metricaLines.first
                    == "ClientId,DateTime,PhoneNumber,TalkDuration,HoldDuration,CallMissed,Tag,FirstTimeCaller,URL,StaticCall"
            )
            let metricaRows = metricaLines.dropFirst().map { $0.components(separatedBy: ",") }
            // The two visitors with a Metrica id, the static call and the offline one; the others Metrica cannot match.
            #expect(
                metricaRows.map { $0[6] } == ["google/cpc", "yandex/cpc", "(static)", "billboard/offline"],
                "\(metricaLines)")
            if metricaRows.count == 4 {
                let g = metricaRows[0]
                #expect(
                    g[0] == "1700000000123456789" && g[1] == String(Int(started.timeIntervalSince1970))
                        && g[2] == first["did"] as? String)
                #expect(
                    g[3] == String(Int(((first["talk_seconds"] as? Double) ?? 0).rounded())) && g[5] == "0"
                        && g[7] == "1" && g[9] == "0")
                #expect(g[8].hasPrefix("http://shop.test/?utm_medium=cpc&utm_source=google"), "\(g[8])")
                #expect(
                    metricaRows[1][0] == "1700000000987654321" && metricaRows[1][3] == "0" && metricaRows[1][5] == "1")
                #expect(
                    metricaRows[2][0] == "" && metricaRows[2][9] == "1" && metricaRows[3][9] == "1"
                        && metricaRows[3][8] == "")
            }
            let ads = try await server.get(
                "/v1/projects/shop/exports/google-ads-conversions.csv?from=\(today)&to=\(today)&conversion_name=Call%20from%20ad"
            )
            let adsLines = String(decoding: ads.body, as: UTF8.self).components(separatedBy: "\r\n").filter {
                !$0.isEmpty
            }
            let utc = DateFormatter()
            utc.locale = Locale(identifier: "en_US_POSIX")
            utc.timeZone = TimeZone(identifier: "UTC")
            utc.dateFormat = "yyyy-MM-dd HH:mm:ss"
            #expect(adsLines.count == 3 && adsLines[0].hasPrefix("Parameters:TimeZone="), "\(adsLines)")
            #expect(
                adsLines.dropFirst().first
                    == "Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency")
            #expect(adsLines.last == "Cj0KCQtest-1,Call from ad,\(utc.string(from: started)),15000,RUB")
            let longCalls = try await server.get(
                "/v1/projects/shop/exports/google-ads-conversions.csv?from=\(today)&to=\(today)&min_talk_seconds=3600")
            #expect(
                String(decoding: longCalls.body, as: UTF8.self).components(separatedBy: "\r\n").filter { !$0.isEmpty }
                    .count == 2)
            #expect(
                try await server.get("/v1/projects/shop/exports/google-ads-conversions.csv?min_talk_seconds=-1").status
                    == 400)
            #expect(try await server.get("/v1/projects/nope/exports/metrica-calls.csv").status == 404)
            #expect(try await server.get("/v1/projects/shop/exports/metrica-calls.csv", token: nil).status == 401)

            // The API's calls list takes the dashboard's filters.
            func listed(_ query: String) async throws -> [[String: Any]] {
                let r = try await server.get("/v1/calls?project=shop&\(query)")
                #expect(r.status == 200, "\(query): \(String(decoding: r.body, as: UTF8.self))")
                return (r.json?["calls"] as? [[String: Any]]) ?? []
            }
            #expect(try await listed("status=missed").count == 2)
            #expect(try await listed("source=%28static%29").count == 1)
            #expect(try await listed("source=billboard").count == 1)
            #expect(try await listed("source=yandex&status=missed").count == 2)
            #expect(try await listed("number=8%20916%20000-00-01").count == 2)
            #expect(try await listed("from=\(today)&to=\(today)").count == 6)
            #expect(try await server.get("/v1/calls?status=lost").status == 400)
            #expect(try await server.get("/v1/calls?from=2026-02-30").status == 400)
        }
    }

    @Test(
        """
        The snippet passes the site's Google Analytics and Metrica visitor ids; the call carries them, GA4 gets phone_call \
        for that client id, and Metrica's scheduled upload (refused once) carries the calls ended meanwhile in one file
        """) func analyticsIDs() async throws
    {
        let ports = TestPorts.next()
        let ga4 = try WebhookReceiver(port: ports.sip + 48)
        defer { ga4.stop() }
        // Metrica's API stand-in refuses the first upload.
        let metrica = try WebhookReceiver(port: ports.sip + 49, failures: [503])
        defer { metrica.stop() }
        var options = CallTrackServer.Options()
        options.environment = [
            "CALLTRACK_TEST_GA4_SECRET": "ga4-secret", "CALLTRACK_TEST_METRICA_TOKEN": "y0_metrica-token",
        ]
        options.projectExtra = [
            "ga4: {measurement_id: G-TEST123, api_secret_env: CALLTRACK_TEST_GA4_SECRET, endpoint: \"http://127.0.0.1:\(ga4.port)/mp/collect\"}",
            "metrica: {counter_id: 12345678, token_env: CALLTRACK_TEST_METRICA_TOKEN, endpoint: \"http://127.0.0.1:\(metrica.port)\", upload_interval_seconds: 8}",
        ]
        options.sections = "delivery: {retry_base_seconds: 0.5}"
        try await withServer(ports: ports, options: options) { server in
            let driver = try await WebDriver(port: server.ports.sip + 47)
            var record: [String: Any] = [:]
            do {
                let demo = "http://127.0.0.1:\(server.ports.http)/demo/shop"
                try await driver.open(demo)
                // The counters' cookies, as their scripts set them.
                _ = try await driver.run(
                    "document.cookie = '_ga=GA1.1.987654321.1700000001; path=/'; document.cookie = '_ym_uid=1700000000555; path=/';"
                )
                try await driver.open(demo + "?utm_source=google&utm_medium=cpc&gclid=Cj0-browser")
                var shown = ""
                for _ in 0..<50 where !shown.contains("499") {
                    try await Task.sleep(for: .milliseconds(100))
                    shown = try await driver.text("#phone-plain") ?? ""
                }
                let digits = String(shown.filter(\.isNumber))
                #expect(digits.hasPrefix("8499000000"), "shown: \(shown)")
                record = try await dial(
                    server, digits, from: "79160000009",
                    callee: Scenario.calleeAnswers(ringMilliseconds: 100, audio: false),
                    callerScenario: Scenario.callerHangsUp(), finished: 1)
                let a = try #require(record["attribution"] as? [String: Any])
                #expect(
                    a["ga_client_id"] as? String == "987654321.1700000001"
                        && a["ym_client_id"] as? String == "1700000000555", "\(a)")
                #expect(a["gclid"] as? String == "Cj0-browser" && a["source"] as? String == "google")
                await driver.quit()
            } catch {
                await driver.quit()
                throw error
            }
            // GA4's Measurement Protocol: one phone_call for the visitor's GA client id.
            let sent = try await ga4.wait { !$0.isEmpty }
            #expect(
                sent.count == 1 && sent[0].path == "/mp/collect?measurement_id=G-TEST123&api_secret=ga4-secret",
                "\(sent.map(\.path))")
            let body = try #require(sent.first?.json)
            #expect(body["client_id"] as? String == "987654321.1700000001")
            let event = try #require((body["events"] as? [[String: Any]])?.first)
            let params = try #require(event["params"] as? [String: Any])
            #expect(
                event["name"] as? String == "phone_call" && params["source"] as? String == "google"
                    && params["medium"] as? String == "cpc")
            #expect(
                params["answered"] as? Int == 1 && params["first_time"] as? Int == 1
                    && params["call_id"] as? String == record["id"] as? String)

            // Metrica: the first upload (this call) was refused; calls ended within the upload interval
            // after it (another visitor's, and one to the static number from the site's footer) go up with it in the next upload.
            let other = try number(
                try await server.reserve(
                    clientID: "m2", page: "http://shop.test/?utm_source=yandex&utm_medium=cpc",
                    extra: ["ym_client_id": "1700000000777"]))
            _ = try await dial(
                server, other, from: "79160000010", callee: Scenario.calleeRejects(486, "Busy Here"),
                callerScenario: Scenario.callerExpects(486), finished: 2)
            _ = try await dial(
                server, "84990000000", from: "79160000011",
                callee: Scenario.calleeAnswers(ringMilliseconds: 100, audio: false),
                callerScenario: Scenario.callerHangsUp(), finished: 3)
            let uploads = try await metrica.wait(timeout: .seconds(40)) { got in
                got.flatMap(Self.metricaRows).count >= 3
            }
            let rows = uploads.flatMap(Self.metricaRows)
            #expect(rows.count == 3 && uploads.count <= 2, "each call once, at most two uploads: \(rows)")
            #expect(Self.metricaRows(uploads[0]).count >= 2, "the refused call and the next went up together: \(rows)")
            for upload in uploads {
                #expect(
                    upload.path
                        == "/management/v1/counter/12345678/offline_conversions/upload_calls?client_id_type=CLIENT_ID")
                #expect(upload.headers["authorization"] == "OAuth y0_metrica-token")
                #expect(upload.headers["content-type"]?.hasPrefix("multipart/form-data; boundary=") == true)
            }
            let byClient = Dictionary(rows.map { ($0[0], $0) }, uniquingKeysWith: { a, _ in a })
            #expect(byClient["1700000000555"]?[5] == "0" && byClient["1700000000555"]?[6] == "google/cpc", "\(rows)")
            #expect(byClient["1700000000777"]?[5] == "1" && byClient["1700000000777"]?[6] == "yandex/cpc", "\(rows)")
            #expect(byClient[""]?[9] == "1" && byClient[""]?[6] == "(static)", "\(rows)")
            // The delivery log: the refused call's row took two attempts.
            let log = try #require(
                try await server.get("/v1/deliveries?status=delivered").json?["deliveries"] as? [[String: Any]])
            let uploaded = log.filter { $0["event"] as? String == "metrica.call" }
            #expect(uploaded.count == 3 && uploaded.contains { $0["attempts"] as? Int == 2 }, "\(uploaded)")
        }
    }

    /// The CSV rows of a Metrica upload: the multipart field `file`, header checked, then its rows.
    static func metricaRows(_ upload: WebhookReceiver.Received) -> [[String]] {
        let text = String(decoding: upload.body, as: UTF8.self)
        guard let boundary = upload.headers["content-type"]?.components(separatedBy: "boundary=").last,
            let part = text.components(separatedBy: "--" + boundary).dropFirst().first,
            part.contains("Content-Disposition: form-data; name=\"file\"; filename=\"calls.csv\""),
            let csv = part.components(separatedBy: "\r\n\r\n").dropFirst().first
        else { return [] }
        let lines = csv.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        guard
            lines.first
                == "ClientId,DateTime,PhoneNumber,TalkDuration,HoldDuration,CallMissed,Tag,FirstTimeCaller,URL,StaticCall"
        else { return [] }
        return lines.dropFirst().map { $0.components(separatedBy: ",") }
    }

    /// The dashboard as a person uses it; screenshots go to .build/test-artifacts/.
    private func browse(_ driver: WebDriver, server: CallTrackServer, today: String, recordedCall: [String: Any])
        async throws
    {
        let site = "http://127.0.0.1:\(server.ports.http)"
        let shots = WebDriver.artifacts
        // Without a session every page is the sign-in page; a wrong token stays there with an error.
        try await driver.open(site + "/calls?project=shop")
        #expect(try await driver.url.contains("/signin"))
        try await driver.type("#token", "not-the-token")
        try await driver.click("#sign-in")
        #expect(try await driver.url.contains("/signin"))
        #expect(try await driver.text("#signin-error") == "This token is not valid.")
        #expect(try await driver.element("#calls") == nil)
        try await driver.screenshot(to: shots + "/dashboard-signin-error.png")
        try await driver.type("#token", CallTrackServer.adminToken)
        try await driver.click("#sign-in")
        // Back where the browser was going.
        let landed = try await driver.url { !$0.contains("/signin") }
        #expect(landed.hasSuffix("/calls?project=shop"), "\(landed)")

        // Costs through the setup page: a bad row is named and nothing is stored, then the real ones.
        try await driver.open(site + "/setup?project=shop")
        #expect(
            try await driver.text("#snippet-tag")
                == "<script src=\"http://127.0.0.1:\(server.ports.http)/v1/projects/shop/snippet.js\"></script>")
        try await driver.type(
            "#costs-csv", "date,source,medium,campaign,keyword,amount\n\(today),google,cpc,tables,buy table,lots\n")
        try await driver.click("#costs-import")
        let problem = try await driver.text("#problem") ?? ""
        #expect(problem.contains("row 2.amount"), "\(problem)")
        #expect(
            try await server.get("/v1/projects/shop/report?from=\(today)&to=\(today)").json?["totals"].flatMap {
                ($0 as? [String: Any])?["cost"] as? Double
            } == 0)
        // The good costs come as a file, the way an ad platform's export does (quoted, CRLF).
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("costs-\(UUID().uuidString).csv")
        try
            ("date,source,medium,campaign,keyword,amount\r\n\(today),google,cpc,tables,\"buy table\",1000\r\n"
            + "\(today),google,cpc,sofas,sofa,500\r\n\(today),yandex,cpc,chairs,office chair,\"500\"\r\n").write(
                to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        try await driver.type("#costs-file", file.path)
        var loaded = ""
        for _ in 0..<50 where !loaded.contains("sofa") {
            try await Task.sleep(for: .milliseconds(100))
            loaded = try await driver.run("return document.getElementById('costs-csv').value;") as? String ?? ""
        }
        #expect(loaded.contains("office chair"), "the file went into the form: \(loaded)")
        try await driver.click("#costs-import")
        #expect(try await driver.text("#imported") == "Imported 3 rows.")

        // The report: table, chart and the static number's share; a light page.
        try await driver.open(site + "/?project=shop&from=\(today)&to=\(today)")
        let report = try #require(try await driver.text("#report"))
        for source in ["google", "yandex", "(static)", "billboard"] { #expect(report.contains(source), "\(report)") }
        #expect(report.contains("900 %"), "google's ROI shows as 900 %: \(report)")
        let bars = try await driver.run("return document.querySelectorAll('#calls-chart rect.bar').length;") as? Int
        #expect(bars == 4, "one bar segment per source for the day")
        let legend = try await driver.text(".legend") ?? ""
        #expect(legend.contains("google (2)") && legend.contains("yandex (2)"), "\(legend)")
        #expect(try await driver.text("#static-share")?.hasPrefix("The static number took 16.7 % of calls.") == true)
        let weight =
            try await driver.run("return performance.getEntriesByType('navigation')[0].decodedBodySize;") as? Int ?? 0
        #expect(weight > 0 && weight < 150_000, "the first page weighs \(weight) bytes")
        try await driver.screenshot(to: shots + "/dashboard-report.png")

        // The calls list: every scripted call with its source; the recording plays and seeks.
        try await driver.open(site + "/calls?project=shop")
        let sources =
            try await driver.run(
                "return Array.from(document.querySelectorAll('#calls td.source')).map(e => e.textContent);")
            as? [String] ?? []
        #expect(
            sources.sorted() == [
                "(static)", "billboard / offline", "google / cpc", "google / cpc", "yandex / cpc", "yandex / cpc",
            ], "\(sources)")
        let statuses =
            try await driver.run(
                "return Array.from(document.querySelectorAll('#calls td.status')).map(e => e.textContent);")
            as? [String] ?? []
        #expect(statuses.contains("Missed: busy") && statuses.contains("Missed: no answer"), "\(statuses)")
        // The keyword's markup is shown as text, never made into an element.
        #expect(try await driver.run("return document.getElementById('xss') === null;") as? Bool == true)
        #expect(try await driver.text("#calls")?.contains("<b id=xss>chair</b>") == true)
        let id = try #require(recordedCall["id"] as? String)
        let recording = try #require(try await server.get("/v1/calls/\(id)").json?["recording"] as? [String: Any])
        let seconds = try #require(recording["duration_seconds"] as? Double)
        let played =
            try await driver.runAsync(
                """
                const done = arguments[arguments.length - 1];
                const a = document.querySelector('tr[data-call="' + arguments[0] + '"] audio');
                a.addEventListener('error', () => done({error: String(a.error && a.error.code)}));
                a.addEventListener('loadedmetadata', () => {
                  const duration = a.duration;
                  a.addEventListener('seeked', () => done({duration: duration, at: a.currentTime}), {once: true});
                  a.currentTime = duration / 2;
                }, {once: true});
                a.load();
                """, [id]) as? [String: Any] ?? [:]
        let duration = try #require(played["duration"] as? Double, "\(played)")
        #expect(abs(duration - seconds) < 0.05 && duration > 2, "player \(duration) s, recording \(seconds) s")
        #expect(abs((played["at"] as? Double ?? 0) - duration / 2) < 0.1, "seeked to \(played)")
        try await driver.screenshot(to: shots + "/dashboard-calls.png")
        // The filter form: missed calls only.
        try await driver.open(site + "/calls?project=shop&status=missed")
        #expect(try await driver.run("return document.querySelectorAll('#calls tbody tr').length;") as? Int == 2)

        // Leads: five callers.
        try await driver.open(site + "/leads?project=shop&from=\(today)&to=\(today)")
        #expect(try await driver.run("return document.querySelectorAll('#leads tbody tr').length;") as? Int == 5)

        // The pool page says how many numbers to add, as the planner computes it.
        let health = try #require(try await server.get("/v1/projects/shop/health").json)
        let plan = try #require(try await server.get("/v1/projects/shop/pool-plan?days=7&target=95").json)
        let poolSize = try #require(health["pool_size"] as? Int)
        let needed =
            (plan["recommended_pool_size"] as? Int)
            ?? max(health["recommended_pool_size"] as? Int ?? 0, plan["peak_estimate_pool_size"] as? Int ?? 0)
        let add = max(0, needed - poolSize)
        #expect(add > 0, "three visitors at once on two numbers: the planner asks for more (\(plan))")
        let percent = String(
            format: "%.1f", Double(health["static_calls"] as? Int ?? 0) * 100 / Double(health["calls"] as? Int ?? 1))
        let advice = add > 0 ? ": add \(add) number\(add == 1 ? "" : "s")." : "."
        try await driver.open(site + "/pool?project=shop")
        #expect(try await driver.text("#pool-warning") == "The static number took \(percent) % of calls\(advice)")
        try await driver.screenshot(to: shots + "/dashboard-pool.png")

        // Russian, from the switch in the header; the choice sticks for the next page.
        try await driver.click("#language")
        #expect(try await driver.run("return document.documentElement.lang;") as? String == "ru")
        #expect(try await driver.text("h1") == "Пул номеров")
        #expect(
            try await driver.text("#pool-warning")?.hasPrefix(
                "Статический номер принял \(percent.replacingOccurrences(of: ".", with: ",")) % звонков") == true)
        try await driver.screenshot(to: shots + "/dashboard-pool-ru.png")
        try await driver.open(site + "/?project=shop&from=\(today)&to=\(today)")
        #expect(try await driver.text("h1") == "Отчёт")
        #expect(try await driver.text("#report")?.contains("Итого") == true)
        try await driver.screenshot(to: shots + "/dashboard-report-ru.png")

        // Signing out ends the session: the next page is the sign-in page again.
        try await driver.click("#sign-out")
        #expect(try await driver.url.contains("/signin"))
        try await driver.open(site + "/calls?project=shop")
        #expect(try await driver.url.contains("/signin"))
        #expect(try await server.get("/calls/\(id)/audio", token: nil).status == 401)
    }
}

extension ISO8601DateFormatter {
    /// `2026-11-24T20:17:40.426Z`, as the API writes times.
    static var withMilliseconds: ISO8601DateFormatter {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }
}
