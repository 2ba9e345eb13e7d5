import CallTrackCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Storage
import TestSupport
import Testing

/// The files CallTrack hands out for spreadsheets and ad platforms, with a visitor's formula in them.
@Suite("Exports in a spreadsheet") struct ExportTests {
    static let formula = "=HYPERLINK(\"http://evil.test\",\"x\")"

    @Test(
        "A gclid, a campaign and a keyword that are formulas arrive as text in every CSV; CallTrack's own values do not change",
        arguments: Backend.allCases) func formulasAreText(_ backend: Backend) async throws
    {
        try await APIFixture.run(on: backend) { client, stores in
            let id = CallID.next(), at = Date().addingTimeInterval(-600)
            let a = Attribution(
                kind: .dynamic, poolName: "main", clientID: "v1", source: "google", medium: "cpc",
                campaign: Self.formula, keyword: "+1 day\rsale", landingPage: "http://shop.test/", gclid: Self.formula,
                ymClientID: "1700000000555")
            try await stores.calls.apply([
                .started(
                    CallStart(
                        id: id, projectKey: "shop", trunk: "t", didDialled: "84990000001", did: "+74990000001",
                        caller: "+79161234567", callerName: nil, forwardTo: "sip:1@127.0.0.1", sipCallID: "x",
                        startedAt: at, attribution: a)), .answered(callID: id, at: at + 5),
                .ended(
                    CallEnd(
                        id: id, endedAt: at + 65, status: .answered, missedReason: nil, sipCode: 200, hangupBy: .caller,
                        endReason: .callerBye, callerToCallee: .init(), calleeToCaller: .init())),
            ])
            let auth: HTTPFields = [.authorization: "Bearer \(APIFixture.token)"]
            func csv(_ uri: String) async throws -> String {
                let r = try await client.execute(uri: uri, method: .get, headers: auth)
                #expect(r.status == .ok, "\(uri)")
                return String(buffer: r.body)
            }
            let defused = "\"'=HYPERLINK(\"\"http://evil.test\"\",\"\"x\"\")\""
            let ads = try await csv("/v1/projects/shop/exports/google-ads-conversions.csv")
            #expect(ads.contains(defused + ",Phone call,") && !ads.contains("\n=") && !ads.contains(",="), "\(ads)")
            let report = try await csv("/v1/projects/shop/report?group_by=campaign,keyword&format=csv")
            #expect(report.contains(defused + ",\"'+1 day\rsale\","), "\(report)")
            let metrica = try await csv("/v1/projects/shop/exports/metrica-calls.csv")
            #expect(metrica.contains("1700000000555,") && metrica.contains(",+74990000001,"), "\(metrica)")
        }
    }
}
