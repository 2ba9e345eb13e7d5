import CallTrackCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Storage
import TestSupport
import Testing
import Tracking

/// Reports, leads, sales and costs over a scripted two days in Moscow time, every figure
/// computed by hand below.
@Suite("Reports, leads, sales and costs") struct ReportTests {
    static let auth: HTTPFields = [.authorization: "Bearer \(APIFixture.token)", .contentType: "application/json"]

    /// 2026-11-20/21 in Moscow (UTC+3). `at` is Moscow wall time "DD HH:MM".
    static func moscow(_ day: Int, _ hour: Int, _ minute: Int = 0) -> Date {
        Date(
            timeIntervalSince1970: 1_795_132_800 + Double(day - 20) * 86400 + Double(hour - 3) * 3600 + Double(minute)
                * 60)
    }

    struct ScriptedCall {
        let id = CallID.next()
        let caller: String
        let did: String
        let at: Date
        let attribution: Attribution
        let ring: Double
        let talk: Double?  // nil: missed
    }

    static func visit(_ source: String, _ medium: String, _ campaign: String?, _ keyword: String?) -> Attribution {
        Attribution(
            kind: .dynamic, poolName: "main", clientID: "v-\(source)", reservationID: "r", source: source,
            medium: medium, campaign: campaign, keyword: keyword, landingPage: "http://shop.test/\(source)")
    }

    /// c1 google (first call of +79161234567), c2 yandex busy, c3 the first caller again via yandex
    /// (visitor v-repeat, who came from google first), c4 the static number unanswered, c5 a billboard,
    /// c6 facebook at 01:30 Moscow on the 21st (still the 20th in UTC).
    static let calls: [ScriptedCall] = {
        var repeatVisit = visit("yandex", "cpc", "chairs", "chair")
        repeatVisit.clientID = "v-repeat"
        return [
            ScriptedCall(
                caller: "79161234567", did: "+74990000001", at: moscow(20, 10),
                attribution: visit("google", "cpc", "tables", "oak table"), ring: 5, talk: 60),
            ScriptedCall(
                caller: "89162222222", did: "+74990000002", at: moscow(20, 11),
                attribution: visit("yandex", "cpc", "chairs", "chair"), ring: 3, talk: nil),
            ScriptedCall(
                caller: "+7 916 123-45-67", did: "+74990000001", at: moscow(21, 12), attribution: repeatVisit, ring: 10,
                talk: 120),
            ScriptedCall(
                caller: "79163333333", did: "+74990000000", at: moscow(21, 13),
                attribution: .unattributed(.static, pool: "main"), ring: 30, talk: nil),
            ScriptedCall(
                caller: "79164444444", did: "+74990000100", at: moscow(21, 14),
                attribution: Attribution(kind: .offline, source: "offline", medium: "billboard", channel: "billboard"),
                ring: 2, talk: 60),
            ScriptedCall(
                caller: "79165555555", did: "+74990000002", at: moscow(21, 1, 30),
                attribution: visit("facebook", "social", nil, nil), ring: 4, talk: 30),
        ]
    }()

    static func events(_ c: ScriptedCall) -> [CallEvent] {
        var e: [CallEvent] = [
            .started(
                CallStart(
                    id: c.id, projectKey: "shop", trunk: "carrier", didDialled: c.did, did: c.did, caller: c.caller,
                    callerName: nil, forwardTo: "sip:1@127.0.0.1", sipCallID: "x", startedAt: c.at,
                    attribution: c.attribution))
        ]
        if let talk = c.talk {
            e.append(.answered(callID: c.id, at: c.at + c.ring))
            e.append(
                .ended(
                    CallEnd(
                        id: c.id, endedAt: c.at + c.ring + talk, status: .answered, missedReason: nil, sipCode: 200,
                        hangupBy: .caller, endReason: .callerBye, callerToCallee: .init(), calleeToCaller: .init())))
        } else {
            e.append(
                .ended(
                    CallEnd(
                        id: c.id, endedAt: c.at + c.ring, status: .missed, missedReason: .busy, sipCode: 486,
                        hangupBy: .callee, endReason: .calleeBusy, callerToCallee: .init(), calleeToCaller: .init())))
        }
        return e
    }

    private func json(_ r: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any])
    }

    private func send(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ body: String = "",
        contentType: String = "application/json"
    ) async throws -> TestResponse {
        var headers = Self.auth
        headers[.contentType] = contentType
        return try await client.execute(uri: uri, method: method, headers: headers, body: ByteBuffer(string: body))
    }

    /// Puts the two days in place: calls, the repeat visitor's history, two sales, three cost rows.
    private func script(_ client: any TestClientProtocol, _ stores: APIFixture.Stores) async throws {
        try await stores.calls.apply(Self.calls.flatMap(Self.events))
        try await stores.tracking.apply([
            .visit(
                Visit(
                    projectKey: "shop", clientID: "v-repeat", at: Self.moscow(19, 9), page: "http://shop.test/google",
                    referrer: nil, source: "google", medium: "cpc", campaign: "tables", keyword: "oak table",
                    content: nil, gclid: nil, yclid: nil, region: nil)),
            .visit(
                Visit(
                    projectKey: "shop", clientID: "v-repeat", at: Self.moscow(21, 11), page: "http://shop.test/yandex",
                    referrer: nil, source: "yandex", medium: "cpc", campaign: "chairs", keyword: "chair", content: nil,
                    gclid: nil, yclid: nil, region: nil)),
        ])
        // A sale on the repeat call counts for the lead's first call (google); one by phone, typed
        // in another shape, for the facebook caller.
        let c3 = Self.calls[2].id.rawValue
        #expect(
            try await send(client, .post, "/v1/calls/\(c3)/sale", #"{"amount": 15000, "deal_id": "crm-1"}"#).status
                == .created)
        #expect(
            try await send(client, .post, "/v1/calls/\(c3)/sale", #"{"amount": 15000, "deal_id": "crm-1"}"#).status
                == .ok)
        #expect(
            try await send(
                client, .post, "/v1/projects/shop/sales",
                #"{"phone": "8 (916) 555-55-55", "amount": 5000, "deal_id": "crm-2"}"#
            ).status == .created)
        let csv =
            "date,source,medium,campaign,keyword,amount\n2026-11-20,google,cpc,tables,oak table,1200\n"
            + "2026-11-21,yandex,cpc,chairs,chair,800\n2026-11-21,google,cpc,tables,oak table,300\n"
        let imported = try await send(client, .put, "/v1/projects/shop/costs", csv, contentType: "text/csv")
        #expect(try json(imported)["imported"] as? Int == 3)
    }

    private func report(_ client: any TestClientProtocol, _ query: String) async throws -> (
        rows: [[String: Any]], totals: [String: Any]
    ) {
        let r = try await send(client, .get, "/v1/projects/shop/report?from=2026-11-20&to=2026-11-21&\(query)")
        #expect(r.status == .ok)
        let body = try json(r)
        return (try #require(body["rows"] as? [[String: Any]]), try #require(body["totals"] as? [String: Any]))
    }

    private func row(_ rows: [[String: Any]], _ key: String, _ value: String) -> [String: Any]? {
        rows.first { ($0["group"] as? [String: String])?[key] == value }
    }

    @Test("By source: every cell against the hand-computed figures, ROI included", arguments: Backend.allCases)
    func bySource(_ backend: Backend) async throws {
        try await APIFixture.run(on: backend, project: "    timezone: Europe/Moscow") { client, stores in
            try await script(client, stores)
            let (rows, totals) = try await report(client, "group_by=source")
            #expect(rows.count == 5)
            let google = try #require(row(rows, "source", "google"))
            #expect(google["calls"] as? Int == 1 && google["answered"] as? Int == 1 && google["missed"] as? Int == 0)
            #expect(google["unique_callers"] as? Int == 1 && google["first_time_callers"] as? Int == 1)
            #expect(google["avg_ring_seconds"] as? Double == 5 && google["talk_seconds"] as? Double == 60)
            #expect(google["sales"] as? Int == 1 && google["revenue"] as? Double == 15000)
            #expect(google["cost"] as? Double == 1500 && google["cost_per_call"] as? Double == 1500)
            #expect(google["cost_per_lead"] as? Double == 1500 && google["roi"] as? Double == 9)
            let yandex = try #require(row(rows, "source", "yandex"))
            #expect(yandex["calls"] as? Int == 2 && yandex["answered"] as? Int == 1 && yandex["missed"] as? Int == 1)
            #expect(yandex["unique_callers"] as? Int == 2 && yandex["first_time_callers"] as? Int == 1)
            #expect(yandex["avg_ring_seconds"] as? Double == 6.5 && yandex["talk_seconds"] as? Double == 120)
            #expect(yandex["revenue"] as? Double == 0 && yandex["cost"] as? Double == 800)
            #expect(
                yandex["cost_per_call"] as? Double == 400 && yandex["cost_per_lead"] as? Double == 800
                    && yandex["roi"] as? Double == -1)
            let staticRow = try #require(row(rows, "source", "(static)"))
            #expect(
                staticRow["calls"] as? Int == 1 && staticRow["missed"] as? Int == 1 && staticRow["cost"] as? Double == 0
            )
            #expect(staticRow["roi"] is NSNull, "ROI over no cost is unknown")
            let billboard = try #require(row(rows, "source", "billboard"))
            #expect(billboard["answered"] as? Int == 1 && billboard["talk_seconds"] as? Double == 60)
            let facebook = try #require(row(rows, "source", "facebook"))
            #expect(facebook["revenue"] as? Double == 5000 && facebook["sales"] as? Int == 1)
            #expect(totals["calls"] as? Int == 6 && totals["answered"] as? Int == 4 && totals["missed"] as? Int == 2)
            #expect(totals["unique_callers"] as? Int == 5 && totals["first_time_callers"] as? Int == 5)
            #expect(totals["avg_ring_seconds"] as? Double == 9 && totals["talk_seconds"] as? Double == 270)
            #expect(
                totals["sales"] as? Int == 2 && totals["revenue"] as? Double == 20000
                    && totals["cost"] as? Double == 2300)
            #expect(totals["cost_per_call"] as? Double == 383.333 && totals["cost_per_lead"] as? Double == 460)
            #expect(totals["roi"] as? Double == 7.696)
        }
    }

    @Test(
        "By campaign and by day in the project's time zone; another model moves the repeat call to its first source",
        arguments: Backend.allCases) func byCampaignDayAndModel(_ backend: Backend) async throws
    {
        try await APIFixture.run(on: backend, project: "    timezone: Europe/Moscow") { client, stores in
            try await script(client, stores)
            let (campaigns, _) = try await report(client, "group_by=source,campaign")
            let tables = try #require(
                campaigns.first { ($0["group"] as? [String: String]) == ["source": "google", "campaign": "tables"] })
            #expect(tables["calls"] as? Int == 1 && tables["cost"] as? Double == 1500)
            let noCampaign = try #require(
                campaigns.first { ($0["group"] as? [String: String]) == ["source": "facebook", "campaign": "(none)"] })
            #expect(noCampaign["calls"] as? Int == 1)
            let (days, _) = try await report(client, "group_by=day")
            #expect(days.map { ($0["group"] as? [String: String])?["day"] } == ["2026-11-20", "2026-11-21"])
            // The facebook call at 01:30 Moscow time belongs to the 21st (it is still the 20th in UTC).
            #expect(days.map { $0["calls"] as? Int } == [2, 4])
            #expect(days.map { $0["cost"] as? Double } == [1200, 1100])
            let (byNumber, _) = try await report(client, "group_by=number")
            #expect(byNumber.allSatisfy { $0["cost"] is NSNull }, "costs carry no tracking number")

            let (firstClick, _) = try await report(client, "group_by=source&model=first_click")
            #expect(row(firstClick, "source", "google")?["calls"] as? Int == 2)
            #expect(row(firstClick, "source", "yandex")?["calls"] as? Int == 1)
            let (stored, _) = try await report(client, "group_by=source")
            #expect(row(stored, "source", "yandex")?["calls"] as? Int == 2)

            let csv = try await send(
                client, .get, "/v1/projects/shop/report?from=2026-11-20&to=2026-11-21&group_by=day&format=csv")
            let lines = String(buffer: csv.body).split(separator: "\r\n")
            #expect(lines.first?.hasPrefix("day,calls,answered,missed,unique_callers,first_time_callers") == true)
            #expect(lines.count == 4 && lines[1].hasPrefix("2026-11-20,2,1,1,") && lines[3].hasPrefix("(total),6,4,2,"))
        }
    }

    @Test(
        "Leads: one per caller whatever the number's shape, with the first call's source and the lead's sales; first_time on calls",
        arguments: Backend.allCases) func leads(_ backend: Backend) async throws
    {
        try await APIFixture.run(on: backend, project: "    timezone: Europe/Moscow") { client, stores in
            try await script(client, stores)
            let r = try await send(client, .get, "/v1/projects/shop/leads?from=2026-11-20&to=2026-11-21")
            let leads = try #require(try json(r)["leads"] as? [[String: Any]])
            #expect(leads.count == 5)
            let first = try #require(leads.first { $0["phone"] as? String == "+79161234567" })
            #expect(
                first["calls"] as? Int == 2 && first["source"] as? String == "google"
                    && first["revenue"] as? Double == 15000)
            #expect(first["first_call_id"] as? String == Self.calls[0].id.rawValue)
            let billboard = try #require(leads.first { $0["phone"] as? String == "+79164444444" })
            #expect(billboard["source"] as? String == "billboard" && billboard["medium"] as? String == "offline")
            let repeatCall = try await send(client, .get, "/v1/calls/\(Self.calls[2].id.rawValue)")
            #expect(try json(repeatCall)["first_time"] as? Bool == false)
            let firstCall = try await send(client, .get, "/v1/calls/\(Self.calls[0].id.rawValue)")
            #expect(try json(firstCall)["first_time"] as? Bool == true)
            // Pages of two, oldest first, until next_cursor is null.
            var phones: [String] = [], cursor: String? = nil, pages = 0
            repeat {
                let page = try json(
                    try await send(
                        client, .get,
                        "/v1/projects/shop/leads?from=2026-11-20&to=2026-11-21&limit=2"
                            + (cursor.map { "&cursor=\($0)" } ?? "")))
                phones += (page["leads"] as? [[String: Any]] ?? []).compactMap { $0["phone"] as? String }
                cursor = page["next_cursor"] as? String
                pages += 1
            } while cursor != nil && pages < 10
            #expect(pages == 3 && phones == leads.compactMap { $0["phone"] as? String })
        }
    }

    @Test(
        "Bad input: 400 naming the parameter, 404 naming the field, a bad cost row stores nothing",
        arguments: Backend.allCases) func badInput(_ backend: Backend) async throws
    {
        try await APIFixture.run(on: backend) { client, stores in
            try await stores.calls.apply(Self.calls.prefix(1).flatMap(Self.events))
            func field(_ r: TestResponse) throws -> String? {
                (try json(r)["error"] as? [String: Any])?["field"] as? String
            }
            for (query, name) in [
                ("from=2026-11-22&to=2026-11-21", "from"), ("from=2026-13-01", "from"), ("to=yesterday", "to"),
                ("group_by=colour", "group_by"), ("model=random", "model"), ("format=xml", "format"),
            ] {
                let r = try await send(client, .get, "/v1/projects/shop/report?\(query)")
                #expect(r.status == .badRequest, "\(query)")
                #expect(try field(r) == name, "\(query)")
            }
            #expect(try await send(client, .get, "/v1/projects/nope/report").status == .notFound)
            let unknownCall = try await send(
                client, .post, "/v1/calls/ffffffffffffffffffffff/sale", #"{"amount": 1, "deal_id": "d"}"#)
            #expect(unknownCall.status == .notFound)
            #expect(try field(unknownCall) == "id")
            let unknownPhone = try await send(
                client, .post, "/v1/projects/shop/sales", #"{"phone": "+79990000000", "amount": 1, "deal_id": "d"}"#)
            #expect(unknownPhone.status == .notFound)
            #expect(try field(unknownPhone) == "phone")
            let noAmount = try await send(
                client, .post, "/v1/calls/\(Self.calls[0].id.rawValue)/sale", #"{"amount": "lots", "deal_id": "d"}"#)
            #expect(noAmount.status == .badRequest)
            #expect(try field(noAmount) == "amount")
            let badRow = try await send(
                client, .put, "/v1/projects/shop/costs",
                #"{"rows": [{"date": "2026-11-20", "source": "google", "medium": "cpc", "amount": 5}, {"date": "2026-11-20", "source": "google", "medium": "cpc", "amount": -1}]}"#
            )
            #expect(badRow.status == .badRequest)
            #expect(try field(badRow) == "rows[1].amount")
            let csvBad = try await send(
                client, .put, "/v1/projects/shop/costs",
                "date,source,medium,campaign,keyword,amount\n2026-11-20,google,cpc,,,x\n", contentType: "text/csv")
            #expect(csvBad.status == .badRequest)
            #expect(try field(csvBad) == "row 2.amount")
            await #expect(
                try stores.calls.costs(project: "shop", from: "2026-01-01", to: "2026-12-31").isEmpty, "nothing stored")
        }
    }

    @Test(
        "A spreadsheet's CSV: a byte-order mark, CRLF, quoted fields with commas, quotes and a line break",
        arguments: Backend.allCases) func quotedCSV(_ backend: Backend) async throws
    {
        try await APIFixture.run(on: backend) { client, stores in
            let csv =
                "\u{FEFF}Date,Source,Medium,Campaign,Keyword,Amount\r\n"
                + "2026-11-20,google,cpc,\"tables, oak\",\"say \"\"oak\"\"\",\"1200.5\"\r\n\r\n"
                + "2026-11-21, yandex ,cpc,\"two\nlines\",,800\r\n"
            let r = try await send(client, .put, "/v1/projects/shop/costs", csv, contentType: "text/csv")
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            let rows = try await stores.calls.costs(project: "shop", from: "2026-11-01", to: "2026-11-30").sorted {
                $0.date < $1.date
            }
            #expect(
                rows == [
                    CostRow(
                        date: "2026-11-20", source: "google", medium: "cpc", campaign: "tables, oak",
                        keyword: "say \"oak\"", amount: 1200.5),
                    CostRow(
                        date: "2026-11-21", source: "yandex", medium: "cpc", campaign: "two\nlines", keyword: nil,
                        amount: 800),
                ])
        }
    }
}
