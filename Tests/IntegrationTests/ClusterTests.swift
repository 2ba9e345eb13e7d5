import Foundation
import TestSupport
import Testing

/// Two real nodes on one real PostgreSQL (the tests' own, started with initdb and pg_ctl): reservations,
/// calls, recordings and reports work as on one node whichever node a request reaches, and a node killed
/// with -9 loses nothing finished.
@Suite("Several nodes on PostgreSQL", .serialized) struct ClusterTests {
    /// Starts nodes `node-a` and `node-b` on a new database; both stopped afterwards.
    private func withTwoNodes(
        recordingsShared: Bool = false, _ body: (CallTrackServer, CallTrackServer, String) async throws -> Void
    ) async throws {
        let url = try TestPostgres.shared().newDatabaseURL()
        var a = CallTrackServer.Options(), b = CallTrackServer.Options()
        a.cluster = (url, "node-a")
        b.cluster = (url, "node-b")
        let nodeA = try CallTrackServer(options: a), nodeB = try CallTrackServer(options: b)
        try await nodeA.start()
        try await nodeB.start()
        do { try await body(nodeA, nodeB, url) } catch {
            _ = try? await nodeA.stop()
            _ = try? await nodeB.stop()
            let tail = { (s: CallTrackServer) in s.log().split(separator: "\n").suffix(30).joined(separator: "\n") }
            throw TestFailure("\(error)\n--- node-a ---\n\(tail(nodeA))\n--- node-b ---\n\(tail(nodeB))")
        }
        #expect(try await nodeA.stop() == 0)
        #expect(try await nodeB.stop() == 0)
    }

    @Test(
        "A number reserved through A attributes the call reaching B; renewals through B keep number and id; racing visitors never share a number; both list the same calls"
    ) func reservationsAndCallsAcrossNodes() async throws {
        try await withTwoNodes { a, b, _ in
            let google = try await a.reserve(
                clientID: "g", page: "http://shop.test/?utm_source=google&utm_medium=cpc&utm_campaign=tables")
            let number = try #require(google["number"] as? String)
            #expect(google["kind"] as? String == "dynamic")
            let renewed = try await b.reserve(
                clientID: "g", page: "http://shop.test/?utm_source=google&utm_medium=cpc&utm_campaign=tables")
            #expect(renewed["number"] as? String == number)
            #expect(renewed["reservation_id"] as? String == google["reservation_id"] as? String)

            // Two visitors at once, one through each node, for the one number left: one gets it, the other
            // the static number.
            async let x = a.reserve(clientID: "x")
            async let y = b.reserve(clientID: "y")
            let raced = try await [x, y].compactMap { $0["number"] as? String }
            #expect(Set(raced + [number]).count == 3, "\(raced) and \(number)")
            #expect(raced.contains("+74990000000"), "one of them gets the static number: \(raced)")

            try await b.placeAnsweredCall(dialling: number, talkMilliseconds: 300)
            let onA = try await a.finishedCalls(count: 1)
            let call = try #require(onA.first)
            #expect(call["node"] as? String == "node-b")
            let attribution = try #require(call["attribution"] as? [String: Any], "\(call)")
            #expect(attribution["source"] as? String == "google")
            #expect(attribution["campaign"] as? String == "tables")
            let onB = try await b.calls()
            #expect(onB.map { $0["id"] as? String } == onA.map { $0["id"] as? String })

            // The recording made on B downloads through A, ranges too.
            let recording = try #require(try await a.finishedRecordings(count: 1).first)
            #expect(recording["status"] as? String == "recorded")
            let path = try #require(recording["url"] as? String)
            let direct = try await b.get(path), forwarded = try await a.get(path)
            #expect(direct.status == 200 && forwarded.status == 200)
            #expect(forwarded.body == direct.body && direct.body.count > 1000)
            #expect(forwarded.headers["content-type"] == "audio/wav")
            let part = try await a.get(path, headers: ["Range": "bytes=0-99"])
            #expect(part.status == 206 && part.body == direct.body.prefix(100))
            #expect(part.headers["content-range"] == "bytes 0-99/\(direct.body.count)")
            #expect(try await a.get(path, token: "wrong").status == 401)
        }
    }

    @Test("Health, node header and the cluster view: every node names itself and sees the others up")
    func healthAndClusterView() async throws {
        try await withTwoNodes { a, b, _ in
            let health = try await a.get("/healthz", token: nil)
            #expect(health.status == 200)
            #expect(health.json?["node"] as? String == "node-a" && health.json?["storage"] as? String == "ok")
            #expect(health.headers["x-calltrack-node"] == "node-a")
            #expect(try await b.get("/v1/nope").headers["x-calltrack-node"] == "node-b")
            let view = try #require(try await b.get("/v1/cluster").json)
            #expect(view["node"] as? String == "node-b")
            let nodes = try #require(view["nodes"] as? [[String: Any]])
            #expect(nodes.map { $0["id"] as? String } == ["node-a", "node-b"])
            #expect(nodes.allSatisfy { $0["status"] as? String == "up" }, "\(nodes)")
            #expect(nodes.first?["advertised_http"] as? String == "http://127.0.0.1:\(a.ports.http)")
            #expect(try await b.get("/v1/cluster", token: nil).status == 401)
        }
    }

    @Test(
        "kill -9 of a node: its call in progress closed interrupted (node_lost) by the survivor, its recordings 503 naming it, finished calls and reservations kept; restarted, it rejoins"
    ) func killedNode() async throws {
        try await withTwoNodes { a, b, _ in
            let visitor = try await b.reserve(clientID: "v", page: "http://shop.test/?utm_source=yandex")
            let number = try #require(visitor["number"] as? String)
            try await b.placeAnsweredCall(dialling: "+74990000000", talkMilliseconds: 300)
            let finished = try #require(try await a.finishedRecordings(count: 1).first)
            let path = try #require(finished["url"] as? String)

            // A call through B that is up when B dies.
            let p = b.ports
            let callee = try SIPp(
                "callee", scenario: Scenario.calleeAnswers(ringMilliseconds: 100, audio: false), localPort: p.callee,
                mediaPort: p.calleeMedia, target: nil)
            defer { callee.stop() }
            try await Task.sleep(for: .milliseconds(200))
            let caller = try SIPp(
                "caller", scenario: Scenario.callerHangsUp(), localPort: p.caller, mediaPort: p.callerMedia,
                target: "127.0.0.1:\(p.sip)", service: number, pauseMilliseconds: 30_000)
            defer { caller.stop() }
            var live: [String: Any]?
            for _ in 0..<100 where live == nil {
                live = try await a.calls().first {
                    $0["answered_at"] is String && $0["status"] as? String == "in_progress"
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            let up = try #require(live, "the call through node-b shows on node-a while it is up")
            _ = try await b.stop(signal: SIGKILL)

            let deadline = ContinuousClock.now + .seconds(10)
            var closed: [String: Any]?
            while ContinuousClock.now < deadline, closed == nil {
                closed = try await a.calls().first {
                    $0["id"] as? String == up["id"] as? String && $0["status"] as? String != "in_progress"
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            let ended = try #require(closed, "node-a closes node-b's call within its node timeout")
            #expect(ended["interrupted"] as? Bool == true)
            #expect(ended["end_reason"] as? String == "node_lost")
            #expect(ended["status"] as? String == "answered")
            #expect((ended["attribution"] as? [String: Any])?["source"] as? String == "yandex")

            let started = ContinuousClock.now
            let gone = try await a.get(path)
            #expect(ContinuousClock.now - started < .seconds(3))
            #expect(gone.status == 503, "\(String(decoding: gone.body, as: UTF8.self))")
            #expect((gone.json?["error"] as? [String: Any])?["code"] as? String == "recording_node_unavailable")
            #expect(String(decoding: gone.body, as: UTF8.self).contains("node-b"))
            #expect(gone.headers["retry-after"] != nil)
            let view = try #require(try await a.get("/v1/cluster").json?["nodes"] as? [[String: Any]])
            #expect(view.first { $0["id"] as? String == "node-b" }?["status"] as? String == "lost")

            // Reservations go on through the survivor; the killed node's acknowledged one is kept.
            #expect(try await a.reserve(clientID: "v")["number"] as? String == number)

            try await b.start()
            #expect(try await a.get(path).status == 200)
            #expect(try await b.calls().count == 2)
        }
    }

    @Test("Refusals: cluster with SQLite, url_env unset, a node id a running node holds") func refusals() async throws {
        var sqlite = CallTrackServer.Options()
        sqlite.sections = "cluster: {node_id: node-a, advertised_http: \"http://127.0.0.1:1\"}"
        let alone = try CallTrackServer(options: sqlite)
        await #expect(throws: (any Error).self) { try await alone.start() }
        #expect(try await alone.stop() == 2)
        #expect(alone.log().contains("cluster: needs storage.backend postgres"), "\(alone.log().suffix(300))")

        try await withTwoNodes { a, _, url in
            var same = CallTrackServer.Options()
            same.cluster = (url, "node-a")
            let twin = try CallTrackServer(options: same)
            await #expect(throws: (any Error).self) { try await twin.start() }
            #expect(try await twin.stop() == 1)
            #expect(twin.log().contains("cluster.node_id: node-a is held by a running node"), "\(twin.log())")

            var unset = CallTrackServer.Options()
            unset.cluster = (url, "node-c")
            unset.environment = ["CALLTRACK_DATABASE_URL": ""]
            let lost = try CallTrackServer(options: unset)
            await #expect(throws: (any Error).self) { try await lost.start() }
            #expect(try await lost.stop() == 1)
            #expect(lost.log().contains("storage.postgres.url_env: CALLTRACK_DATABASE_URL is not set"), "\(lost.log())")
            #expect(try await a.get("/healthz", token: nil).status == 200)
        }
    }
}
