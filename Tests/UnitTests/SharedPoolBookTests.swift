import CallTrackCore
import Foundation
import Logging
import Storage
import TestSupport
import Testing
import Tracking

/// The pool book several nodes share, on a real PostgreSQL: two clients of one database stand for two
/// nodes, and visitors race through both.
@Suite("Shared pool book (PostgreSQL)") struct SharedPoolBookTests {
    static let numbers = (1...10).map { PhoneNumber(e164: "+7499000\(String(format: "%04d", $0))")! }
    static let ttl = 360.0

    /// Runs `body` with two pool books ("nodes") on one new database holding `numbers` in pool `main`.
    private func withTwoNodes(_ body: (SharedPoolBook, SharedPoolBook) async throws -> Void) async throws {
        let server = try TestPostgres.shared()
        try await server.withDatabase { db in
            let a = try #require(db as? PostgresDatabase)
            let b = PostgresDatabase(settings: a.settings, logger: Logger(label: "test.node-b"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await b.run() }
                defer { group.cancelAll() }
                let nodeA = SharedPoolBook(database: a), nodeB = SharedPoolBook(database: b)
                try await nodeA.arrange([("shop", "main", Self.numbers)])
                try await body(nodeA, nodeB)
            }
        }
    }

    private func take(_ book: SharedPoolBook, _ client: String, address: String? = nil, max: Int = 100, at now: Date)
        async throws -> SharedPoolBook.Outcome
    {
        try await book.take(
            projectKey: "shop", pool: "main", clientID: client, address: address, maxPerAddress: max, now: now,
            ttl: Self.ttl, visit: visit(client, at: now))
    }

    /// The outcomes of `count` reservations made at once, the even ones through `a`, the odd through `b`.
    private func race(
        _ count: Int, _ a: SharedPoolBook, _ b: SharedPoolBook,
        _ reserve: @escaping @Sendable (Int, SharedPoolBook) async throws -> SharedPoolBook.Outcome
    ) async throws -> [SharedPoolBook.Outcome] {
        try await withThrowingTaskGroup(of: SharedPoolBook.Outcome.self) { group in
            for i in 0..<count { group.addTask { try await reserve(i, i % 2 == 0 ? a : b) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    private func reservations(in outcomes: [SharedPoolBook.Outcome]) -> [Reservation] {
        outcomes.compactMap { if case .reserved(let r) = $0 { r } else { nil } }
    }

    private func visit(_ client: String, at: Date) -> Visit {
        Visit(
            projectKey: "shop", clientID: client, at: at, page: "https://shop.test/?utm_source=google", referrer: nil,
            source: "google", medium: "cpc", campaign: "c-\(client)", keyword: nil, content: nil, gclid: nil,
            yclid: nil, region: nil)
    }

    @Test("40 visitors racing through two nodes for 10 numbers: 10 get one each, never the same, 30 are told exhausted")
    func racingVisitors() async throws {
        try await withTwoNodes { a, b in
            let now = Date()
            let outcomes = try await race(40, a, b) { i, node in try await take(node, "v\(i)", at: now) }
            let held = reservations(in: outcomes)
            #expect(held.count == 10)
            #expect(Set(held.map(\.number)).count == 10, "no number held twice")
            #expect(outcomes.filter { $0 == .exhausted }.count == 30)
            #expect(try await a.held(now: now) == [.init(project: "shop", pool: "main"): 10])
        }
    }

    @Test("The same visitor through both nodes at once gets one number; a renewal through the other node keeps it")
    func oneVisitorOneNumber() async throws {
        try await withTwoNodes { a, b in
            let now = Date()
            let outcomes = try await race(8, a, b) { _, node in try await take(node, "same", at: now) }
            let held = reservations(in: outcomes)
            #expect(held.count == 8 && Set(held.map(\.id)).count == 1 && Set(held.map(\.number)).count == 1)
            let renewed = try #require(try await b.renew(projectKey: "shop", clientID: "same", now: now + 60, ttl: 360))
            #expect(renewed.id == held[0].id && renewed.number == held[0].number)
            #expect(renewed.expiresAt == Date(timeIntervalSince1970: (now + 60).timeIntervalSince1970 + 360))
            #expect(try await a.renew(projectKey: "shop", clientID: "nobody", now: now, ttl: 360) == nil)
        }
    }

    @Test("An address's limit holds across nodes: 6 visitors behind one address racing, at most 2 numbers")
    func addressLimit() async throws {
        try await withTwoNodes { a, b in
            let now = Date()
            let outcomes = try await race(6, a, b) { i, node in
                try await take(node, "n\(i)", address: "192.0.2.7", max: 2, at: now)
            }
            #expect(reservations(in: outcomes).count == 2)
            #expect(outcomes.filter { $0 == .addressLimited }.count == 4)
            // Another address is not held back.
            if case .reserved = try await take(b, "other", address: "192.0.2.8", max: 2, at: now) {
            } else {
                Issue.record("another address was refused")
            }
        }
    }

    @Test("The holder and their visits on any node, late within the grace; a released number goes out last")
    func holderAndRelease() async throws {
        try await withTwoNodes { a, b in
            let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded())
            guard case .reserved(let r) = try await take(a, "caller", at: now) else {
                Issue.record("no number")
                return
            }
            // The call reaches node B a moment later: the holder and the visit stored with the number.
            let found = try #require(try await b.holder(of: r.number, now: now + 1, grace: 1800))
            #expect(found.reservation.id == r.id && !found.late)
            #expect(found.visits.map(\.campaign) == ["c-caller"])
            // After the hold lapses: late for the grace period, then no one's.
            let lapsed = now + Self.ttl + 5
            #expect(try await b.holder(of: r.number, now: lapsed, grace: 1800)?.late == true)
            #expect(try await b.holder(of: r.number, now: now + Self.ttl + 1801, grace: 1800) == nil)
            // Released after the call: free again, and handed out after every number never released.
            #expect(try await b.release(reservationID: r.id, number: r.number, at: now + 2))
            #expect(!(try await a.release(reservationID: r.id, number: r.number, at: now + 3)), "once")
            #expect(try await a.holder(of: r.number, now: now + 3, grace: 1800) == nil)
            var order: [PhoneNumber] = []
            for i in 0..<10 {
                if case .reserved(let next) = try await take(i % 2 == 0 ? b : a, "next\(i)", at: now + 4) {
                    order.append(next.number)
                }
            }
            #expect(order.count == 10 && order.last == r.number, "the released number comes last")
        }
    }

    @Test(
        "The desk on the shared book: regions choose the pool, numbers written like the site's, renewals through another node, static when exhausted"
    ) func desk() async throws {
        let config = try ConfigLoader.parse(yaml: TrackingTests.yaml)
        let layout = PoolLayout(config: config)
        let changes = TrackingTests.ChangeLog()
        try await TestPostgres.shared().withDatabase { db in
            let a = try #require(db as? PostgresDatabase)
            let b = PostgresDatabase(settings: a.settings, logger: Logger(label: "test.node-b"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await b.run() }
                defer { group.cancelAll() }
                try await SharedPoolBook(database: a).arrange(
                    layout.projects.values.flatMap { p in p.pools.map { (p.key, $0.name, $0.numbers) } })
                func desk(_ db: PostgresDatabase) -> SharedNumberDesk {
                    SharedNumberDesk(
                        layout: layout, book: SharedPoolBook(database: db), maxNumbersPerAddress: 10,
                        persist: { changes.append($0) })
                }
                let nodeA = desk(a), nodeB = desk(b)
                let now = Date()
                var moscow = VisitReport(page: "https://shop.example/?utm_source=yandex&utm_medium=cpc")
                moscow.region = "Moscow"
                let m = try #require(
                    try await nodeA.assign(projectKey: "shop", clientID: "m", report: moscow, now: now))
                #expect(m.kind == .dynamic && m.number.e164 == "+74990000001" && m.formatted == "+7 (499) 000-00-01")
                // The heartbeat through the other node: the same number and reservation.
                let again = try #require(
                    try await nodeB.assign(projectKey: "shop", clientID: "m", report: moscow, now: now + 30))
                #expect(again.number == m.number && again.reservation?.id == m.reservation?.id)
                // Moscow's pool has one number: the next Moscow visitor gets its static number.
                let full = try #require(
                    try await nodeB.assign(projectKey: "shop", clientID: "m2", report: moscow, now: now + 31))
                #expect(full.kind == .static && full.number.e164 == "+74990000009" && full.reservation == nil)
                #expect(changes.all.contains { if case .exhausted(_, "msk", _, 1) = $0 { true } else { false } })
                let other = try #require(
                    try await nodeA.assign(
                        projectKey: "shop", clientID: "n", report: VisitReport(page: "https://shop.example/"), now: now)
                )
                #expect(other.number.e164.hasPrefix("+7499000001"))
                #expect(try await nodeA.assign(projectKey: "nope", clientID: "n", report: moscow, now: now) == nil)
                // The visits stored with the numbers, as a call on any node reads them.
                let holder = try #require(
                    try await SharedPoolBook(database: b).holder(of: m.number, now: now + 40, grace: 1800))
                #expect(holder.visits.map(\.source) == ["yandex"])
            }
        }
    }

    @Test(
        "Attribution on the shared book: static and offline at once, a dynamic number's holder read later, released after the call"
    ) func attributor() async throws {
        let config = try ConfigLoader.parse(yaml: TrackingTests.yaml)
        let layout = PoolLayout(config: config)
        try await TestPostgres.shared().withDatabase { db in
            let postgres = try #require(db as? PostgresDatabase)
            let book = SharedPoolBook(database: postgres)
            try await book.arrange(layout.projects.values.flatMap { p in p.pools.map { (p.key, $0.name, $0.numbers) } })
            let attributor = SharedAttributor(layout: layout, book: book, logger: Logger(label: "test"))
            #expect(
                attributor.attributeNow(PhoneNumber(e164: "+74990000009")!) == .now(.unattributed(.static, pool: "msk"))
            )
            guard case .now(let offline?) = attributor.attributeNow(PhoneNumber(e164: "+74990000100")!) else {
                Issue.record("offline number not known at once")
                return
            }
            #expect(offline.kind == .offline && offline.channel == "billboard")
            #expect(attributor.attributeNow(PhoneNumber(e164: "+74990009999")!) == .now(nil))
            let dynamic = PhoneNumber(e164: "+74990000001")!
            #expect(attributor.attributeNow(dynamic) == .later)
            let now = Date()
            #expect(try await attributor.attributeLater(dynamic, at: now) == .unattributed(.dynamic, pool: "msk"))
            let desk = SharedNumberDesk(layout: layout, book: book, maxNumbersPerAddress: 10, persist: { _ in })
            var report = VisitReport(page: "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=tables")
            report.region = "moscow"
            let got = try #require(try await desk.assign(projectKey: "shop", clientID: "v", report: report, now: now))
            #expect(got.number == dynamic)
            let a = try #require(try await attributor.attributeLater(dynamic, at: now + 5))
            #expect(a.kind == .dynamic && a.source == "google" && a.campaign == "tables" && !a.late)
            #expect(a.reservationID == got.reservation?.id)
            attributor.callEnded(a, number: dynamic)
            var released = false
            for _ in 0..<50 where !released {
                released = try await book.holder(of: dynamic, now: now + 6, grace: 1800) == nil
                if !released { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(released)
        }
    }
}
