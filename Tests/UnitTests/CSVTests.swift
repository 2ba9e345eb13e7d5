import CallTrackCore
import Foundation
import Testing

@testable import Storage

/// What CallTrack writes as CSV opens in a spreadsheet as the text it was: formulas from outside defused.
@Suite("CSV") struct CSVTests {
    @Test(
        "Text from outside that a spreadsheet would run (= + - @, a tab, a carriage return) gets an apostrophe",
        arguments: [
            ("=HYPERLINK(\"http://evil.test\")", "\"'=HYPERLINK(\"\"http://evil.test\"\")\""), ("+7 495", "'+7 495"),
            ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\r=1", "\"'\r=1\""),
            ("Cj0KCQ-real_gclid", "Cj0KCQ-real_gclid"), ("", ""),
        ]) func outside(text: String, written: String)
    { #expect(CSV.line([.outside(text)]) == written) }

    @Test("CallTrack's own values are written as they are; quoting sees a lone \\r and \\n as line breaks") func own() {
        #expect(CSV.line([.own("+74990000001"), .own("-1.5"), .own("a,b")]) == "+74990000001,-1.5,\"a,b\"")
        #expect(CSV.line([.own("one\rtwo")]) == "\"one\rtwo\"" && CSV.line([.own("one\ntwo")]) == "\"one\ntwo\"")
        #expect(CSV.line([.own("say \"hi\"\r\n")]) == "\"say \"\"hi\"\"\r\n\"")
        #expect(CSV.line(["ClientId", "DateTime"]) == "ClientId,DateTime")
    }

    @Test("Metrica's row: the visitor's id, tag and page are text from outside; the number and times are not")
    func metricaRow() throws {
        let call = ExportCall(
            startedAt: Date(timeIntervalSince1970: 1_700_000_000), answeredAt: nil,
            endedAt: Date(timeIntervalSince1970: 1_700_000_009), did: "+74990000001", kind: .dynamic,
            source: "=cmd|' /C calc'!A0", medium: "cpc", campaign: nil, landingPage: "http://shop.test/", channel: nil,
            gclid: nil, ymClientID: "1700000000555", firstTime: true, revenue: 0)
        let line = CSV.line(try #require(call.metricaRow))
        #expect(line == "1700000000555,1700000000,+74990000001,0,9,1,'=cmd|' /C calc'!A0/cpc,1,http://shop.test/,0")
    }
}
