import Foundation
import Testing

/// The admin API over real calls: paging through what SIP calls left (statuses are in APITests, in process).
@Suite("HTTP API", .serialized) struct HTTPAPITests {
    @Test("Calls are listed newest first in pages, and each one by its id") func paging() async throws {
        try await withServer { server in
            try await server.placeBusyCalls(5, dialling: "84990000001")
            let all = try await server.finishedCalls(count: 5)
            let started = all.compactMap { $0["started_at"] as? String }
            #expect(started == started.sorted(by: >), "newest first")

            let first = try await server.get("/v1/calls?limit=2")
            let page1 = try #require(try JSONSerialization.jsonObject(with: first.body) as? [String: Any])
            let calls1 = try #require(page1["calls"] as? [[String: Any]])
            #expect(calls1.count == 2)
            let cursor = try #require(page1["next_cursor"] as? String)
            let second = try await server.get("/v1/calls?limit=2&cursor=\(cursor)")
            let calls2 = try #require(
                (try JSONSerialization.jsonObject(with: second.body) as? [String: Any])?["calls"] as? [[String: Any]])
            #expect(calls2.count == 2)
            #expect(Set(calls1.map { $0["id"] as! String }).isDisjoint(with: calls2.map { $0["id"] as! String }))
            #expect((calls1 + calls2).map { $0["id"] as! String } == all.prefix(4).map { $0["id"] as! String })

            let id = try #require(all.first?["id"] as? String)
            let one = try await server.get("/v1/calls/\(id)")
            #expect(one.status == 200)
            #expect((try JSONSerialization.jsonObject(with: one.body) as? [String: Any])?["id"] as? String == id)
        }
    }
}
