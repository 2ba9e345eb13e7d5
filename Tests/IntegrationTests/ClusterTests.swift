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
        let (nodeA, nodeB) = try await Self.startTwoNodes(url)
        do { try await body(nodeA, nodeB, url) } catch {
            _ = try? await nodeA.stop()
            _ = try? await nodeB.stop()
            let tail = { (s: CallTrackServer) in s.log().split(separator: "\n").suffix(30).joined(separator: "\n") }
            throw TestFailure("\(error)\n--- node-a ---\n\(tail(nodeA))\n--- node-b ---\n\(tail(nodeB))")
        }
        #expect(try await nodeA.stop() == 0)
        #expect(try await nodeB.stop() == 0)
    }

    /// `node-a` and `node-b` started on the database at `url`.
    static func startTwoNodes(_ url: String) async throws -> (CallTrackServer, CallTrackServer) {
        var a = CallTrackServer.Options(), b = CallTrackServer.Options()
        a.cluster = (url, "node-a")
        b.cluster = (url, "node-b")
        let nodeA = try CallTrackServer(options: a), nodeB = try CallTrackServer(options: b)
        try await nodeA.start()
        try await nodeB.start()
        return (nodeA, nodeB)
    }

    /// The first call `node` lists that satisfies `matches`, asked every 100 ms for at most `seconds`.
    static func call(on node: CallTrackServer, within seconds: Int = 10, where matches: ([String: Any]) -> Bool)
        async throws -> [String: Any]?
    {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if let found = try await node.calls().first(where: matches) { return found }
            try await Task.sleep(for: .milliseconds(100))
        }
        return nil
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
            // Signed in to the dashboard through one node, a browser is signed in on the other too.
            let session = try ContractTests.signIn(a)
            #expect(try ContractTests.raw(b, "GET", "/calls", headers: ["Cookie: \(session.cookie)"]).status == 200)
            #expect(try ContractTests.raw(b, "GET", "/calls").status == 303)
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
            let live = try await Self.call(on: a) {
                $0["answered_at"] is String && $0["status"] as? String == "in_progress"
            }
            let up = try #require(live, "the call through node-b shows on node-a while it is up")
            _ = try await b.stop(signal: SIGKILL)

            let closed = try await Self.call(on: a) {
                $0["id"] as? String == up["id"] as? String && $0["status"] as? String != "in_progress"
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

    /// A reservation as the snippet sends it, through `port` (HAProxy) from the visitor's address `ip`.
    private static func reserve(via port: Int, from ip: String, client: String, source: String = "google") throws -> (
        status: Int, number: String?, reservation: String?
    ) {
        let body = #"{"client_id": "\#(client)", "page": "http://shop.test/?utm_source=\#(source)&utm_medium=cpc"}"#
        let http = try RawHTTP(port: port, from: ip)
        http.send(
            "POST /v1/projects/shop/reservations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        let text = http.readUntilClosed(timeout: .seconds(10)).data
        let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
        let json = text.components(separatedBy: "\r\n\r\n").dropFirst().first.flatMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        return (status, json?["number"] as? String, json?["reservation_id"] as? String)
    }

    @Test(
        "Behind the shipped Kamailio and HAProxy: races, renewals and the address limit across nodes; calls attributed on either node; the callee's BYE reaches the caller; kill -9 mid-load loses no reservation, calls go on, the dead node's call is closed; it rejoins"
    ) func behindKamailioAndHAProxy() async throws {
        let url = try TestPostgres.shared().newDatabaseURL()
        let front = TestPorts.next()
        var nodes: [CallTrackServer] = []
        for id in ["node-a", "node-b"] {
            var o = CallTrackServer.Options()
            o.cluster = (url, id)
            o.sipExtra = ["front_proxies: [127.0.0.3/32]"]
            o.httpExtra = ["trusted_proxies: [127.0.0.5/32]"]
            o.sections = "tracking:\n  max_numbers_per_address: 2"
            o.pools = """
                      - name: main
                        numbers: ["+74990000001", "+74990000002", "+74990000003", "+74990000004"]
                        static: "+74990000000"
                """
            nodes.append(try CallTrackServer(options: o))
        }
        let (a, b) = (nodes[0], nodes[1])
        try await a.start()
        try await b.start()
        let kamailio = try Kamailio(
            deployedListening: "udp:127.0.0.3:\(front.sip)",
            nodes: ["127.0.0.1:\(a.ports.sip)", "127.0.0.1:\(b.ports.sip)"], trunks: "127.0.0.1/32")
        defer { kamailio.stop() }
        let haproxy = try HAProxy(port: front.http, nodes: [a.ports.http, b.ports.http])
        defer { haproxy.stop() }
        // Each node's calls go to a callee of its own that answers every call until stopped.
        let callees = try [a, b].map {
            try SIPp(
                "callee", scenario: Scenario.calleeAnswers(ringMilliseconds: 100, audio: false),
                localPort: $0.ports.callee, mediaPort: $0.ports.calleeMedia, target: nil, calls: 1000)
        }
        defer { callees.forEach { $0.stop() } }
        try await Task.sleep(for: .seconds(2))
        do {
            // Six visitors from one address at once, through both nodes: two numbers (the address limit),
            // never one twice; the rest get the static number.
            let racers = try await withThrowingTaskGroup(of: (Int, String?, String?).self) { group in
                for i in 0..<6 {
                    group.addTask { try Self.reserve(via: front.http, from: "127.0.0.21", client: "same-\(i)") }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(racers.allSatisfy { $0.0 == 200 }, "\(racers)")
            let dynamic = racers.compactMap(\.1).filter { $0 != "+74990000000" }
            #expect(dynamic.count == 2 && Set(dynamic).count == 2, "\(racers)")

            // Two visitors from two ads; renewals through whichever node keep number and reservation.
            let google = try Self.reserve(via: front.http, from: "127.0.0.22", client: "g", source: "google")
            let yandex = try Self.reserve(via: front.http, from: "127.0.0.23", client: "y", source: "yandex")
            for _ in 0..<4 {
                let again = try Self.reserve(via: front.http, from: "127.0.0.22", client: "g", source: "google")
                #expect(again.number == google.number && again.reservation == google.reservation)
            }
            let numbers = try [google, yandex].map { try #require($0.number) }
            #expect(Set(numbers + dynamic).count == 4, "four visitors, four numbers")

            // Calls through Kamailio reach both nodes and are attributed on each (each visitor calls once:
            // after a call the number goes back to the pool), then two to the static number.
            for number in numbers + ["+74990000000"] {
                let caller = try SIPp(
                    "caller", scenario: Scenario.callerHangsUp(), localPort: front.caller, mediaPort: front.callerMedia,
                    target: "127.0.0.3:\(front.sip)", service: number,
                    calls: number == numbers[0] ? 1 : (number == numbers[1] ? 1 : 2), rate: 2, pauseMilliseconds: 300)
                #expect(try await caller.wait() == 0, "\(caller.diagnostics())")
            }
            let calls = try await a.finishedCalls(count: 4)
            #expect(Set(calls.compactMap { $0["node"] as? String }) == ["node-a", "node-b"], "\(calls)")
            let sources = calls.map { ($0["attribution"] as? [String: Any])?["source"] as? String }
            #expect(sources.filter { $0 == "google" }.count == 1 && sources.filter { $0 == "yandex" }.count == 1)
            #expect(calls.filter { ($0["attribution"] as? [String: Any])?["kind"] as? String == "static" }.count == 2)
            #expect(try await b.calls().map { $0["id"] as? String } == calls.map { $0["id"] as? String })

            // The business hangs up first: the node's BYE reaches the caller through Kamailio.
            callees.forEach { $0.stop() }
            let hangers = try [a, b].map {
                try SIPp(
                    "callee", scenario: Scenario.calleeHangsUp, localPort: $0.ports.callee,
                    mediaPort: $0.ports.calleeMedia, target: nil, pauseMilliseconds: 1000)
            }
            defer { hangers.forEach { $0.stop() } }
            try await Task.sleep(for: .milliseconds(200))
            let waits = try SIPp(
                "caller", scenario: Scenario.callerWaitsForBye(), localPort: front.caller, mediaPort: front.callerMedia,
                target: "127.0.0.3:\(front.sip)", service: "+74990000000", pauseMilliseconds: 1000)
            #expect(try await waits.wait() == 0, "\(waits.diagnostics())")
            #expect(try await a.finishedCalls(count: 5).first?["hangup_by"] as? String == "callee")
            hangers.forEach { $0.stop() }

            try await killMidLoad(a, b, front: front)
        } catch {
            _ = try? await a.stop()
            _ = try? await b.stop()
            throw TestFailure(
                "\(error)\n--- kamailio ---\n\(kamailio.log().suffix(3000))\n--- a ---\n\(a.log().suffix(3000))")
        }
        #expect(try await a.stop() == 0)
        #expect(try await b.stop() == 0)
    }

    /// `b` killed with -9 while it has a call up, reservations flow through HAProxy and calls through
    /// Kamailio: no reservation fails, new calls all succeed through `a`, `b`'s call is closed by `a`;
    /// restarted, `b` takes calls again.
    private func killMidLoad(_ a: CallTrackServer, _ b: CallTrackServer, front: TestPorts) async throws {
        let callees = try [a, b].map {
            try SIPp(
                "callee", scenario: Scenario.calleeAnswers(ringMilliseconds: 100, audio: false),
                localPort: $0.ports.callee, mediaPort: $0.ports.calleeMedia, target: nil, calls: 1000)
        }
        defer { callees.forEach { $0.stop() } }
        try await Task.sleep(for: .milliseconds(200))
        let long = try SIPp(
            "caller", scenario: Scenario.callerHangsUp(), localPort: b.ports.caller, mediaPort: b.ports.callerMedia,
            target: "127.0.0.1:\(b.ports.sip)", service: "+74990000000", pauseMilliseconds: 30_000)
        defer { long.stop() }
        let live = try await Self.call(on: a) {
            $0["node"] as? String == "node-b" && $0["status"] as? String == "in_progress" && $0["answered_at"] is String
        }
        let up = try #require(live, "node-b's call shows on node-a while it is up")

        // Reservations every 20 ms through HAProxy, new visitors and renewals, for the whole episode.
        let reservations = Task { () -> (done: Int, failed: [String]) in
            var done = 0, failed: [String] = []
            while !Task.isCancelled {
                let client = done % 10 == 0 ? "new-\(done)" : "regular-\(done % 7)"
                let got = try? Self.reserve(via: front.http, from: "127.0.0.\(40 + done % 50)", client: client)
                if got?.status == 200 { done += 1 } else { failed.append("\(got?.status ?? 0)") }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return (done, failed)
        }
        try await Task.sleep(for: .seconds(1))
        let killed = ContinuousClock.now
        _ = try await b.stop(signal: SIGKILL)
        let load = try SIPp(
            "caller", scenario: Scenario.callerHangsUp(), localPort: front.caller, mediaPort: front.callerMedia,
            target: "127.0.0.3:\(front.sip)", service: "+74990000000", calls: 10, rate: 5, pauseMilliseconds: 300)
        #expect(try await load.wait() == 0, "every call after the kill succeeds: \(load.diagnostics())")
        #expect(ContinuousClock.now - killed < .seconds(15))

        let closed = try await Self.call(on: a) {
            $0["id"] as? String == up["id"] as? String && $0["status"] as? String != "in_progress"
        }
        #expect(closed?["end_reason"] as? String == "node_lost" && closed?["interrupted"] as? Bool == true)
        reservations.cancel()
        let served = await reservations.value
        #expect(
            served.failed.isEmpty && served.done > 50, "reservations: \(served.done) served, failed \(served.failed)")

        // Restarted, node-b rejoins: up in the cluster view, and Kamailio sends it calls again.
        try await b.start()
        try await Task.sleep(for: .seconds(3))
        let view = try #require(try await a.get("/v1/cluster").json?["nodes"] as? [[String: Any]])
        #expect(view.first { $0["id"] as? String == "node-b" }?["status"] as? String == "up")
        let before = try await a.calls().count
        let after = try SIPp(
            "caller", scenario: Scenario.callerHangsUp(), localPort: front.caller, mediaPort: front.callerMedia,
            target: "127.0.0.3:\(front.sip)", service: "+74990000000", calls: 4, rate: 5, pauseMilliseconds: 300)
        #expect(try await after.wait() == 0, "\(after.diagnostics())")
        let latest = try await a.finishedCalls(count: before + 4).prefix(4)
        #expect(latest.contains { $0["node"] as? String == "node-b" }, "\(latest.map { $0["node"] })")
    }

    @Test(
        "PostgreSQL down: reservations 503 storage_unavailable within the statement timeout, /healthz 503, calls still forwarded; back up, the call is stored and attributed and reservations resume"
    ) func postgresOutage() async throws {
        let postgres = try TestPostgres()
        defer { postgres.destroy() }
        var options = CallTrackServer.Options()
        options.cluster = (try postgres.newDatabaseURL(), "node-a")
        try await withServer(options: options) { node in
            let visitor = try await node.reserve(
                clientID: "v", page: "http://shop.test/?utm_source=google&utm_medium=cpc")
            let number = try #require(visitor["number"] as? String)
            try postgres.stop()

            let asked = ContinuousClock.now
            let refused = try await node.post(
                "/v1/projects/shop/reservations", body: Data(#"{"client_id": "w", "page": "http://shop.test/"}"#.utf8))
            #expect(ContinuousClock.now - asked < .milliseconds(2500))
            #expect(refused.status == 503 && refused.headers["retry-after"] != nil)
            #expect((refused.json?["error"] as? [String: Any])?["code"] as? String == "storage_unavailable")
            var health = try await node.get("/healthz", token: nil)
            for _ in 0..<80 where health.status == 200 {
                try await Task.sleep(for: .milliseconds(100))
                health = try await node.get("/healthz", token: nil)
            }
            #expect(health.status == 503 && health.json?["storage"] as? String == "unavailable")

            // The visitor calls meanwhile: the call is forwarded and answered all the same.
            try await node.placeAnsweredCall(dialling: number, talkMilliseconds: 300)

            try postgres.start()
            var again = try await node.post(
                "/v1/projects/shop/reservations", body: Data(#"{"client_id": "w", "page": "http://shop.test/"}"#.utf8))
            for _ in 0..<100 where again.status != 200 {
                try await Task.sleep(for: .milliseconds(100))
                again = try await node.post(
                    "/v1/projects/shop/reservations",
                    body: Data(#"{"client_id": "w", "page": "http://shop.test/"}"#.utf8))
            }
            #expect(again.status == 200)
            var call: [String: Any]?
            for _ in 0..<100 where (call?["attribution"] as? [String: Any]) == nil {
                try await Task.sleep(for: .milliseconds(200))
                call = try? await node.calls().first
            }
            #expect(call?["status"] as? String == "answered", "\(String(describing: call))")
            #expect((call?["attribution"] as? [String: Any])?["source"] as? String == "google")
            // The node takes its id again on a new connection and says it is healthy.
            var healthy = try await node.get("/healthz", token: nil)
            for _ in 0..<100 where healthy.status != 200 {
                try await Task.sleep(for: .milliseconds(100))
                healthy = try await node.get("/healthz", token: nil)
            }
            #expect(healthy.status == 200, "\(String(decoding: healthy.body, as: UTF8.self))")
        }
    }

    @Test("Deliveries with two nodes: each event reaches a webhook once, whichever node took the call")
    func oneDeliveryPerEvent() async throws {
        let url = try TestPostgres.shared().newDatabaseURL()
        let portsA = TestPorts.next(), portsB = TestPorts.next()
        let receiver = try WebhookReceiver(port: portsA.sip + 48)
        defer { receiver.stop() }
        var a = WebhookTests.options(receiverPort: portsA.sip + 48), b = a
        a.cluster = (url, "node-a")
        b.cluster = (url, "node-b")
        try await withServer(ports: portsA, options: a) { nodeA in
            try await withServer(ports: portsB, options: b) { nodeB in
                try await nodeA.placeBusyCalls(2, dialling: "+74990000000")
                try await nodeB.placeBusyCalls(2, dialling: "+74990000000")
                // Four calls, each started, ended and missed: twelve events, then a moment for duplicates.
                _ = try await receiver.wait { $0.count >= 12 }
                try await Task.sleep(for: .seconds(2))
                let got = receiver.received
                #expect(got.count == 12, "\(got.map(\.event))")
                #expect(Set(got.map(\.delivery)).count == got.count, "no event delivered twice")
                #expect(
                    Set(got.compactMap { ($0.json?["call"] as? [String: Any])?["node"] as? String }) == [
                        "node-a", "node-b",
                    ])
            }
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

    @Test(
        "calltrack import moves a single node's history into an empty cluster: calls, leads, visits, and the number a visitor holds; a second import is refused"
    ) func importSingleNode() async throws {
        let single = try CallTrackServer()
        try await single.start()
        let visitor = try await single.reserve(clientID: "v", page: "http://shop.test/?utm_source=google")
        try await single.placeBusyCalls(2, dialling: "+74990000000")
        let before = try await single.finishedCalls(count: 2)
        #expect(try await single.stop() == 0)

        let url = try TestPostgres.shared().newDatabaseURL()
        var options = CallTrackServer.Options()
        options.cluster = (url, "node-a")
        let node = try CallTrackServer(options: options)
        let sqlite = single.directory.path + "/calltrack.sqlite"
        let command = [CallTrackServer.binary, "import", "--from", sqlite, "--config", node.configPath]
        let moved = try runCommand(command, environment: ["CALLTRACK_DATABASE_URL": url])
        #expect(moved.status == 0, "\(moved.output)")
        #expect(moved.output.contains("calls: 2 rows") && moved.output.contains("visits: 1 rows"), "\(moved.output)")
        let again = try runCommand(command, environment: ["CALLTRACK_DATABASE_URL": url])
        #expect(again.status == 1 && again.output.contains("already holds 2 calls"), "\(again.output)")

        try await withServer(ports: node.ports, options: options) { cluster in
            let after = try await cluster.calls()
            #expect(after.map { $0["id"] as? String } == before.map { $0["id"] as? String })
            #expect(after.allSatisfy { $0["missed_reason"] as? String == "busy" && $0["first_time"] != nil })
            let renewed = try await cluster.reserve(clientID: "v", page: "http://shop.test/?utm_source=google")
            #expect(renewed["number"] as? String == visitor["number"] as? String)
            #expect(renewed["reservation_id"] as? String == visitor["reservation_id"] as? String)
            let leads = try #require(
                try await cluster.get("/v1/projects/shop/leads").json?["leads"] as? [[String: Any]])
            #expect(leads.count == 1)
        }
    }

    @Test("PostgreSQL unreachable at start: tried for 30 s, then exit 1 naming its host and port")
    func postgresUnreachableAtStart() async throws {
        var options = CallTrackServer.Options()
        options.cluster = ("postgres://calltrack@127.0.0.1:1/calltrack", "node-a")
        let node = try CallTrackServer(options: options)
        let started = ContinuousClock.now
        await #expect(throws: (any Error).self) { try await node.start() }
        while node.process?.isRunning == true, ContinuousClock.now - started < .seconds(45) {
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(ContinuousClock.now - started >= .seconds(29))
        #expect(try await node.stop() == 1)
        #expect(node.log().contains("PostgreSQL at 127.0.0.1:1 unreachable for 30 s"), "\(node.log().suffix(500))")
    }
}
