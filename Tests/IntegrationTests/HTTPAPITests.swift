import Foundation
import Testing

/// The admin API over real HTTP: tokens, paging, ids.
@Suite("HTTP API", .serialized)
struct HTTPAPITests {
    @Test("Admin routes need a valid bearer token; health does not")
    func tokens() async throws {
        try await withServer { server in
            #expect(try await server.get("/healthz", token: nil).status == 200)
            #expect(try await server.get("/v1/calls", token: nil).status == 401)
            #expect(try await server.get("/v1/calls", token: "wrong").status == 401)
            let denied = try await server.get("/v1/calls/0123456789abcdef012345", token: "test-admin-tok")
            #expect(denied.status == 401)
            #expect(denied.headers["www-authenticate"]?.contains("Bearer") == true)
            #expect(try await server.get("/v1/calls").status == 200)
        }
    }

    @Test("Calls are listed newest first in pages; bad parameters get 400 naming the field; unknown ids 404")
    func paging() async throws {
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
            let calls2 = try #require((try JSONSerialization.jsonObject(with: second.body) as? [String: Any])?["calls"] as? [[String: Any]])
            #expect(calls2.count == 2)
            #expect(Set(calls1.map { $0["id"] as! String }).isDisjoint(with: calls2.map { $0["id"] as! String }))
            #expect((calls1 + calls2).map { $0["id"] as! String } == all.prefix(4).map { $0["id"] as! String })

            let id = try #require(all.first?["id"] as? String)
            let one = try await server.get("/v1/calls/\(id)")
            #expect(one.status == 200)
            #expect((try JSONSerialization.jsonObject(with: one.body) as? [String: Any])?["id"] as? String == id)

            let bad = try await server.get("/v1/calls?limit=0")
            #expect(bad.status == 400)
            let error = (try JSONSerialization.jsonObject(with: bad.body) as? [String: Any])?["error"] as? [String: Any]
            #expect(error?["field"] as? String == "limit")
            #expect(try await server.get("/v1/calls?cursor=..%2Fetc").status == 400)
            #expect(try await server.get("/v1/calls/ffffffffffffffffffffff").status == 404)
            #expect(try await server.get("/v1/calls/..%2F..%2Fetc%2Fpasswd").status == 404)
        }
    }
}
