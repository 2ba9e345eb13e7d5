import CallTrackCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import HTTPAPI
@testable import Storage

/// Every page of the dashboard drawn with hostile text in every field a visitor, a caller or an admin
/// controls: markup, both quotes and a Mustache tag must all arrive as text.
@Suite("Dashboard escaping") struct DashboardEscapingTests {
    /// Markup, both quotes, and a template tag that would print "Report" if it were ever read as one.
    static let hostile = #"<script>alert(1)</script>"'{{t.report}}"#
    static let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;{{t.report}}"

    /// A project named with hostile text, whose calls carry it in every visitor- and caller-set field.
    static let project = """
          - key: evil
            name: '<script>alert(1)</script>"''{{t.report}}'
            forward_to: sip:1@127.0.0.1
        """

    static func calls() -> [CallEvent] {
        let at = Date().addingTimeInterval(-3600)
        var events: [CallEvent] = []
        for (i, caller) in [hostile, "+79161234567"].enumerated() {
            let id = CallID.next()
            let a = Attribution(
                kind: .dynamic, poolName: "main", clientID: "v\(i)", source: hostile, medium: hostile,
                campaign: hostile, keyword: hostile, landingPage: hostile, referrer: hostile, gclid: hostile)
            events.append(
                .started(
                    CallStart(
                        id: id, projectKey: "evil", trunk: "t", didDialled: "84990000001", did: "+74990000001",
                        caller: caller, callerName: hostile, forwardTo: "sip:1@127.0.0.1", sipCallID: hostile,
                        startedAt: at, attribution: a)))
            events.append(
                .ended(
                    CallEnd(
                        id: id, endedAt: at + 30, status: .missed, missedReason: .busy, sipCode: 486, hangupBy: .callee,
                        endReason: .calleeBusy, callerToCallee: .init(), calleeToCaller: .init())))
        }
        return events
    }

    /// The page as a browser gets it, checked: the hostile text shows (escaped) at least `times`
    /// times, and never as markup, an attribute break or an expanded tag.
    static func check(_ page: String, _ name: String, times: Int = 1, sourceLocation: SourceLocation = #_sourceLocation)
    {
        #expect(!page.contains("<script>alert"), "\(name): raw markup", sourceLocation: sourceLocation)
        #expect(
            !page.contains(#""'{{"#) && !page.contains(#"</script>""#), "\(name): an unescaped quote",
            sourceLocation: sourceLocation)
        #expect(
            page.components(separatedBy: escaped).count - 1 >= times, "\(name): the hostile text is not shown as text",
            sourceLocation: sourceLocation)
    }

    @Test(
        "Report, chart, calls, leads, pool, setup, deliveries, sign-in and the demo page: every hostile field escaped")
    func everyPage() async throws {
        try await APIFixture.run(project: Self.project) { client, stores in
            try await stores.calls.apply(Self.calls())
            let today = ReportPeriod(lastDaysIn: .gmt).to
            let csv =
                "date,source,medium,campaign,keyword,amount\n\(today),\"\(Self.hostile.replacingOccurrences(of: "\"", with: "\"\""))\",cpc,x,y,10\n"
            try await stores.calls.importCosts(project: "evil", rows: try CostImport.csv(csv))
            try await stores.database.execute(
                """
                INSERT INTO outbox (id, project, endpoint, event, call_id, created_at, next_attempt_at, last_result)
                VALUES (?, 'evil', ?, 'call.ended', NULL, ?, ?, ?)
                """,
                [
                    "evt_" + String(repeating: "b", count: 32), Self.hostile, Date().timeIntervalSince1970,
                    Date().timeIntervalSince1970, Self.hostile,
                ])
            var browser = DashboardAuthTests.Browser()
            _ = try await browser.signIn(client)
            func page(_ path: String) async throws -> String {
                let r = try await browser.send(client, .get, path)
                #expect(r.status == .ok || r.status == .badRequest, "\(path): \(r.status)")
                return String(buffer: r.body)
            }
            // The project's name is in every page's header.
            let report = try await page("/?project=evil&group_by=source,campaign,keyword")
            Self.check(report, "report", times: 6)  // the name, three columns, a bar's title, the legend
            Self.check(try await page("/?project=evil&group_by=landing_page"), "report by landing page", times: 2)
            let calls = try await page("/calls?project=evil")
            // The project's name; per call the caller's name, source / medium, campaign / keyword; one caller.
            Self.check(calls, "calls", times: 8)
            Self.check(try await page("/leads?project=evil"), "leads", times: 3)
            Self.check(try await page("/pool?project=evil"), "pool")
            Self.check(try await page("/setup?project=evil"), "setup")
            Self.check(try await page("/deliveries?project=evil"), "deliveries", times: 3)
            // Filters a link can carry come back in the form as text.
            let q = FormData.encode(Self.hostile)
            Self.check(try await page("/calls?project=evil&source=\(q)&number=\(q)"), "calls filter", times: 3)
            var stranger = DashboardAuthTests.Browser()
            let signIn = String(buffer: try await stranger.send(client, .get, "/signin?next=/\(q)").body)
            #expect(
                !signIn.contains("<script>alert") && signIn.contains("value=\"/" + Self.escaped + "\""), "\(signIn)")
            Self.check(String(buffer: try await stranger.send(client, .get, "/demo/evil").body), "demo", times: 2)
        }
    }

    @Test("Every template parses, and none writes a value unescaped") func templates() {
        for (name, bytes) in DashboardTemplates.sources {
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(!text.contains("{{{") && !text.contains("{{&"), "\(name)")
            #expect(DashboardTemplates.library.getTemplate(named: name) != nil, "\(name)")
        }
    }
}
