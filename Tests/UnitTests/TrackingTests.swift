import CallTrackCore
import Foundation
import Logging
import Storage
import Testing

@testable import Tracking

@Suite("Number pools and attribution") struct TrackingTests {
    static let yaml = """
        projects:
          - key: shop
            forward_to: sip:+74951234567@127.0.0.1
            site_numbers: ["+7 (495) 123-45-67"]
            reservation_ttl_seconds: 60
            attribution: last_non_direct
            pools:
              - name: msk
                regions: [moscow]
                numbers: ["+74990000001"]
                static: "+74990000009"
              - name: main
                numbers: ["+74990000011", "+74990000012"]
                static: "+74990000000"
            offline:
              - number: "+74990000100"
                channel: billboard
        """

    func book(_ changes: ChangeLog = ChangeLog(), snapshot: TrackingSnapshot = .init(), model: String? = nil) throws
        -> NumberPoolBook
    {
        let yaml = model.map { Self.yaml.replacingOccurrences(of: "last_non_direct", with: $0) } ?? Self.yaml
        return NumberPoolBook(
            config: try ConfigLoader.parse(yaml: yaml), snapshot: snapshot, persist: { changes.append($0) })
    }

    final class ChangeLog: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [TrackingChange] = []
        func append(_ c: TrackingChange) {
            lock.lock()
            items.append(c)
            lock.unlock()
        }
        var all: [TrackingChange] {
            lock.lock()
            defer { lock.unlock() }
            return items
        }
    }

    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    func page(_ query: String = "") -> VisitReport { VisitReport(page: "https://shop.example/" + query) }

    @Test("Pool of 2 + static: three visitors get two distinct dynamic numbers and the static one") func exhaustion()
        throws
    {
        let b = try book()
        let a1 = try #require(b.reserve(projectKey: "shop", clientID: "a", report: page(), now: t0))
        let a2 = try #require(b.reserve(projectKey: "shop", clientID: "b", report: page(), now: t0))
        let a3 = try #require(b.reserve(projectKey: "shop", clientID: "c", report: page(), now: t0))
        #expect(a1.kind == .dynamic && a2.kind == .dynamic && a1.number != a2.number)
        #expect(a3.kind == .static)
        #expect(a3.number.e164 == "+74990000000")
        #expect(a1.formatted == "+7 (499) 000-00-11")
    }

    @Test("Heartbeat keeps the number; expiry frees it; least recently released goes out first")
    func heartbeatExpiryAndOrder() throws {
        let b = try book()
        let first = try #require(b.reserve(projectKey: "shop", clientID: "a", report: page(), now: t0))
        let again = try #require(b.reserve(projectKey: "shop", clientID: "a", report: page(), now: t0 + 50))
        #expect(again.number == first.number)
        #expect(again.reservation?.expiresAt == t0 + 110)
        let second = try #require(b.reserve(projectKey: "shop", clientID: "b", report: page(), now: t0 + 60))
        #expect(second.number != first.number)
        // a expires at 110, b at 120: after both, the first freed (a's) must go out first.
        let next = try #require(b.reserve(projectKey: "shop", clientID: "c", report: page(), now: t0 + 200))
        #expect(next.number == first.number)
        let after = try #require(b.reserve(projectKey: "shop", clientID: "d", report: page(), now: t0 + 201))
        #expect(after.number == second.number)
    }

    @Test("A call shortly after expiry is attributed and flagged late; much later it is not") func lateCall() throws {
        let b = try book()
        let r = try #require(
            b.reserve(projectKey: "shop", clientID: "a", report: page("?utm_source=google&utm_medium=cpc"), now: t0))
        let onTime = try #require(b.attribute(r.number, at: t0 + 30))
        #expect(onTime.kind == .dynamic && !onTime.late && onTime.source == "google" && onTime.clientID == "a")
        let late = try #require(b.attribute(r.number, at: t0 + 120))
        #expect(late.late && late.clientID == "a" && late.medium == "cpc")
        let tooLate = try #require(b.attribute(r.number, at: t0 + 60 + b.lateGrace + 1))
        #expect(tooLate.clientID == nil)
    }

    @Test("The three attribution models on one history") func models() throws {
        func history(_ b: NumberPoolBook) throws -> Attribution {
            _ = b.reserve(
                projectKey: "shop", clientID: "v", report: page("?utm_source=yandex&utm_medium=cpc&utm_campaign=first"),
                now: t0)
            _ = b.reserve(
                projectKey: "shop", clientID: "v",
                report: VisitReport(page: "https://shop.example/a", referrer: "https://www.google.com/"), now: t0 + 10)
            let last = try #require(b.reserve(projectKey: "shop", clientID: "v", report: page("b"), now: t0 + 20))
            return try #require(b.attribute(last.number, at: t0 + 30))
        }
        let lastClick = try history(try book(model: "last_click"))
        #expect(lastClick.source == "(direct)" && lastClick.medium == "(none)")
        let lastNonDirect = try history(try book(model: "last_non_direct"))
        #expect(lastNonDirect.source == "google" && lastNonDirect.medium == "organic")
        let firstClick = try history(try book(model: "first_click"))
        #expect(firstClick.source == "yandex" && firstClick.campaign == "first")
    }

    @Test("Static and offline numbers") func staticAndOffline() throws {
        let b = try book()
        let s = try #require(b.attribute(PhoneNumber(e164: "+74990000000")!))
        #expect(s.kind == .static && s.source == nil)
        let o = try #require(b.attribute(PhoneNumber(e164: "+74990000100")!))
        #expect(o.kind == .offline && o.channel == "billboard")
    }

    @Test("Regions choose the pool") func regions() throws {
        let b = try book()
        var report = page()
        report.region = "Moscow"
        #expect(b.reserve(projectKey: "shop", clientID: "m", report: report, now: t0)?.number.e164 == "+74990000001")
        #expect(
            b.reserve(projectKey: "shop", clientID: "n", report: page(), now: t0)?.number.e164.hasPrefix("+7499000001")
                == true)
    }

    @Test("Release after a call frees the number at once") func releaseAfterCall() throws {
        let b = try book()
        let r = try #require(b.reserve(projectKey: "shop", clientID: "a", report: page(), now: t0)?.reservation)
        _ = b.reserve(projectKey: "shop", clientID: "b", report: page(), now: t0)
        b.release(reservationID: r.id, number: r.number, at: t0 + 5)
        #expect(b.reserve(projectKey: "shop", clientID: "c", report: page(), now: t0 + 6)?.number == r.number)
    }

    @Test(
        "Source classification",
        arguments: [
            ("?utm_source=vk&utm_medium=social", nil, "vk", "social"), ("?gclid=abc", nil, "google", "cpc"),
            ("?yclid=123", nil, "yandex", "cpc"), ("", "https://yandex.ru/search/?text=tables", "yandex", "organic"),
            ("", "https://www.google.com/", "google", "organic"),
            ("", "https://www.partner.example/review", "partner.example", "referral"),
            ("", "https://shop.example/other", "(direct)", "(none)"), ("", nil, "(direct)", "(none)"),
        ] as [(String, String?, String, String)]) func classify(
            query: String, referrer: String?, source: String, medium: String
        )
    {
        let r = VisitReport(page: "https://shop.example/" + query, referrer: referrer).completedFromPageURL()
        let c = SourceClassifier.classify(r)
        #expect(c.source == source && c.medium == medium)
    }

    @Test("Tags in the page URL are form-decoded: + is a space, %2B a plus, %D0%B4 a Cyrillic letter")
    func formDecodedTags() {
        let r = VisitReport(
            page:
                "https://shop.example/?utm_source=google&utm_term=buy+oak+table&utm_campaign=c%2B%2B&utm_content=%D0%B4"
        ).completedFromPageURL()
        #expect(r.utmTerm == "buy oak table" && r.utmCampaign == "c++" && r.utmContent == "д")
    }

    @Test("Numbers keep the page's format") func formats() {
        let n = PhoneNumber(e164: "+74990000001")!
        #expect(NumberFormat.format(n, like: "+7 (495) 123-45-67") == "+7 (499) 000-00-01")
        #expect(NumberFormat.format(n, like: "8 495 123-45-67") == "8 499 000-00-01")
        #expect(NumberFormat.format(n, like: "84951234567") == "84990000001")
        #expect(NumberFormat.format(n, like: nil) == "+74990000001")
    }

    @Test("Reservations and visits survive a restart through SQLite") func persistence() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("t-\(UUID().uuidString)/db.sqlite")
            .path
        let store = try TrackingStore(database: SQLiteDatabase(path: path))
        let log = ChangeLog()
        let now = Date()
        let b = try book(log)
        let r = try #require(
            b.reserve(projectKey: "shop", clientID: "a", report: page("?utm_source=google&utm_medium=cpc"), now: now))
        try await store.apply(log.all)
        let restored = try await book(
            snapshot: try TrackingStore(database: SQLiteDatabase(path: path)).snapshot(now: now))
        #expect(
            restored.reserve(
                projectKey: "shop", clientID: "a", report: page("?utm_source=google&utm_medium=cpc"), now: now + 1)?
                .number == r.number)
        #expect(restored.attribute(r.number, at: now + 2)?.source == "google")
        #expect(restored.visits(projectKey: "shop", clientID: "a").count == 1)
    }

    @Test("Only visitors holding a number keep a history in memory, and only while they can call on it")
    func historiesFollowLiveState() throws {
        let b = try book()
        for client in ["a", "b", "c", "d"] {
            _ = b.reserve(projectKey: "shop", clientID: client, report: page("?utm_source=\(client)"), now: t0)
        }
        // Two numbers in the main pool: a and b hold them; c and d got the static number.
        #expect(b.visitorsInMemory.histories == 2)
        #expect(b.visits(projectKey: "shop", clientID: "c").isEmpty)
        // Expired (TTL 60 s) but within the grace for late callers: kept.
        _ = b.attribute(PhoneNumber(e164: "+74990000011")!, at: t0 + 120)
        #expect(b.visitorsInMemory.histories == 2)
        // Past the grace: forgotten.
        _ = b.attribute(PhoneNumber(e164: "+74990000011")!, at: t0 + 60 + b.lateGrace + 1)
        #expect(b.visitorsInMemory.histories == 0)
    }

    @Test("A new holder's earlier visits come from storage, so first click still sees the first visit")
    func historyLoadedForNewHolders() throws {
        let stored = Visit(
            projectKey: "shop", clientID: "c", at: t0 - 3600, page: "https://shop.example/?utm_source=first",
            referrer: nil, source: "first", medium: "cpc", campaign: nil, keyword: nil, content: nil, gclid: nil,
            yclid: nil, region: nil)
        let yaml = Self.yaml.replacingOccurrences(of: "last_non_direct", with: "first_click")
        let b = NumberPoolBook(
            config: try ConfigLoader.parse(yaml: yaml), history: { _, client in client == "c" ? [stored] : [] },
            persist: { _ in })
        let r = try #require(b.reserve(projectKey: "shop", clientID: "c", report: page("?utm_source=later"), now: t0))
        #expect(b.attribute(r.number, at: t0 + 1)?.source == "first")
    }

    @Test("One address holds at most max_numbers_per_address numbers; the next visitor gets the static number")
    func numbersPerAddress() throws {
        let yaml = Self.yaml + "\ntracking:\n  max_numbers_per_address: 1\n"
        let b = NumberPoolBook(config: try ConfigLoader.parse(yaml: yaml), persist: { _ in })
        let first = try #require(
            b.reserve(projectKey: "shop", clientID: "a", report: page(), address: "192.0.2.1", now: t0))
        let second = try #require(
            b.reserve(projectKey: "shop", clientID: "b", report: page(), address: "192.0.2.1", now: t0))
        let other = try #require(
            b.reserve(projectKey: "shop", clientID: "c", report: page(), address: "192.0.2.2", now: t0))
        #expect(first.kind == .dynamic && second.kind == .static && other.kind == .dynamic)
        #expect(b.addressLimitedCount(projectKey: "shop") == 1)
        // The same visitor renews the number it holds.
        #expect(
            b.reserve(projectKey: "shop", clientID: "a", report: page(), address: "192.0.2.1", now: t0 + 10)?.number
                == first.number)
        // Once a's number is released after a call, the address may hold another.
        b.release(reservationID: try #require(first.reservation?.id), number: first.number, at: t0 + 20)
        #expect(
            b.reserve(projectKey: "shop", clientID: "b", report: page(), address: "192.0.2.1", now: t0 + 30)?.kind
                == .dynamic)
    }

    @Test("Visit retention deletes what is older than its days from a real SQLite file") func visitRetention()
        async throws
    {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("t-\(UUID().uuidString)/db.sqlite")
            .path
        let store = try TrackingStore(database: SQLiteDatabase(path: path))
        let now = Date()
        func visit(_ client: String, daysAgo: Double) -> TrackingChange {
            .visit(
                Visit(
                    projectKey: "shop", clientID: client, at: now.addingTimeInterval(-daysAgo * 86400),
                    page: "https://shop.example/", referrer: nil, source: "(direct)", medium: "(none)", campaign: nil,
                    keyword: nil, content: nil, gclid: nil, yclid: nil, region: nil))
        }
        try await store.apply([visit("old", daysAgo: 100), visit("old", daysAgo: 95), visit("new", daysAgo: 1)])
        let sweeper = VisitRetention(store: store, days: 90, intervalSeconds: 3600, logger: .init(label: "test"))
        #expect(try await sweeper.sweep(now: now) == 2)
        #expect(try await store.visits(projectKey: "shop", clientID: "old").isEmpty)
        #expect(try await store.visits(projectKey: "shop", clientID: "new").count == 1)
    }
}
