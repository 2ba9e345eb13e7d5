import Foundation
import Testing

/// What strangers can do to CallTrack over HTTP: hold connections, send slowly or too much,
/// ride DNS rebinding, claim a region, take the pool or fill memory with visitors.
@Suite("HTTP and visitors under abuse", .serialized) struct HTTPHardeningTests {
    func metric(_ server: CallTrackServer, _ name: String) async throws -> Int? {
        let text = String(decoding: try await server.get("/metrics", token: nil).body, as: UTF8.self)
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap {
            Double($0.split(separator: " ").last ?? "")
        }.map { Int($0) }
    }

    func reservation(_ port: Int, client: String, headers: [String] = [], from ip: String = "127.0.0.1") throws
        -> String
    {
        let http = try RawHTTP(port: port, from: ip)
        let body = "{\"client_id\":\"\(client)\",\"page\":\"http://shop.test/\"}"
        http.send(
            "POST /v1/projects/shop/reservations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + headers.map { $0 + "\r\n" }.joined()
                + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body)
        return http.readUntilClosed(timeout: .seconds(5)).data
    }

    func number(in response: String) -> String? {
        guard let r = response.range(of: "\"number\":\"") else { return nil }
        return String(response[r.upperBound...].prefix { $0 != "\"" })
    }

    @Test("Idle connections are capped and closed: HTTP keeps answering and calls keep connecting")
    func idleConnections() async throws {
        var options = CallTrackServer.Options()
        options.httpExtra = ["max_connections: 100", "idle_timeout_seconds: 2", "request_timeout_seconds: 2"]
        try await withServer(options: options) { server in
            let before = server.openFileDescriptors()
            var idle: [RawHTTP] = []
            for i in 0..<600 { idle.append(try RawHTTP(port: server.ports.http, from: "127.0.0.\(2 + i % 8)")) }
            try await Task.sleep(for: .milliseconds(500))
            let held = server.openFileDescriptors() - before
            #expect(held <= 110, "600 idle connections hold \(held) of CallTrack's file descriptors")
            #expect(try await server.get("/healthz", token: nil).status == 200)
            // A call still gets its four relay sockets and goes through.
            let p = server.ports
            let callee = try SIPp(
                "callee", scenario: Scenario.calleeAnswers(ringMilliseconds: 100), localPort: p.callee,
                mediaPort: p.calleeMedia, target: nil)
            try await Task.sleep(for: .milliseconds(200))
            let caller = try SIPp(
                "caller", scenario: Scenario.callerHangsUp(), localPort: p.caller, mediaPort: p.callerMedia,
                target: "127.0.0.1:\(p.sip)", service: "84990000001", pauseMilliseconds: 1000)
            #expect(try await caller.wait() == 0, "\(caller.diagnostics())")
            _ = try await callee.wait()
            #expect(try await server.finishedCalls(count: 1).first?["status"] as? String == "answered")
            // After the idle timeout every one of them is gone.
            try await Task.sleep(for: .milliseconds(2500))
            let open = idle.filter { !$0.isClosedByServer }.count
            #expect(open == 0, "\(open) idle connections still open after the idle timeout")
        }
    }

    @Test("A refused body closes the connection; a request that never finishes is cut off")
    func oversizedAndSlowBodies() async throws {
        var options = CallTrackServer.Options()
        options.httpExtra = ["request_timeout_seconds: 2"]
        try await withServer(options: options) { server in
            let big = try RawHTTP(port: server.ports.http)
            big.send(
                "POST /v1/projects/shop/reservations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 10485760\r\n\r\n")
            big.send([UInt8](repeating: 0x20, count: 64 * 1024))
            let refused = big.readUntilClosed(timeout: .seconds(1))
            #expect(refused.data.hasPrefix("HTTP/1.1 413"), "\(refused.data.prefix(80))")
            #expect(refused.closed, "the connection stayed open after 413")
            let slow = try RawHTTP(port: server.ports.http)
            slow.send(
                "POST /v1/projects/shop/reservations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 10485760\r\n\r\n0123456789")
            let started = ContinuousClock.now
            let cut = slow.readUntilClosed(timeout: .seconds(5))
            #expect(cut.closed, "a request whose body never arrives held its connection for 5 s")
            #expect(ContinuousClock.now - started < .seconds(4))
        }
    }

    @Test("A request answered before its body arrived still has a deadline: the connection cannot be parked")
    func earlyAnswerKeepsADeadline() async throws {
        var options = CallTrackServer.Options()
        options.httpExtra = ["idle_timeout_seconds: 2", "request_timeout_seconds: 2"]
        try await withServer(options: options) { server in
            let http = try RawHTTP(port: server.ports.http)
            // The answer (404: no such route) goes out at once; the body byte comes afterwards and the
            // connection is then left alone.
            http.send("POST /v1/calls HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\n\r\n")
            try await Task.sleep(for: .milliseconds(300))
            http.send("x")
            let started = ContinuousClock.now
            let result = http.readUntilClosed(timeout: .seconds(6))
            #expect(result.data.hasPrefix("HTTP/1.1 404"), "\(result.data.prefix(60))")
            #expect(result.closed, "the connection outlived every deadline")
            #expect(ContinuousClock.now - started < .seconds(4))
        }
    }

    @Test("CORS: a page whose own name points at CallTrack (DNS rebinding) is refused; the demo on its IP is not")
    func dnsRebinding() async throws {
        try await withServer { server in
            let port = server.ports.http
            let body = "{\"client_id\":\"v1\",\"page\":\"http://shop.test/\"}"
            func post(host: String) throws -> String {
                let http = try RawHTTP(port: port)
                http.send(
                    "POST /v1/projects/shop/reservations HTTP/1.1\r\nHost: \(host)\r\nOrigin: http://\(host)\r\n"
                        + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
                        + body)
                return http.readUntilClosed(timeout: .seconds(5)).data
            }
            let rebound = try post(host: "rebind.example:\(port)"), direct = try post(host: "127.0.0.1:\(port)")
            #expect(rebound.hasPrefix("HTTP/1.1 403"))
            #expect(direct.hasPrefix("HTTP/1.1 200"))
        }
    }

    @Test("One address holds at most max_numbers_per_address numbers; behind a trusted proxy the client address counts")
    func numbersPerAddress() async throws {
        var options = CallTrackServer.Options()
        options.sections = "tracking:\n  max_numbers_per_address: 1"
        options.httpExtra = ["trusted_proxies: [127.0.0.3/32]"]
        try await withServer(options: options) { server in
            let port = server.ports.http
            let first = try reservation(port, client: "a")
            let second = try reservation(port, client: "b")
            #expect(number(in: first) == "+74990000001" || number(in: first) == "+74990000002", "\(first)")
            #expect(
                number(in: second) == "+74990000000", "a second visitor from the same address gets the static number")
            // X-Forwarded-For from anyone but the trusted proxy changes nothing.
            let spoofed = try reservation(port, client: "c", headers: ["X-Forwarded-For: 203.0.113.9"])
            #expect(number(in: spoofed) == "+74990000000")
            // Through the trusted proxy each visitor is their own address.
            let proxied = try reservation(
                port, client: "d", headers: ["X-Forwarded-For: 203.0.113.7"], from: "127.0.0.3")
            #expect(number(in: proxied) != "+74990000000", "\(proxied)")
            #expect(try await metric(server, "calltrack_reservations_address_limited_total{project=\"shop\"}") == 2)
            // Pool health reports it too once stored: refusals are handed to storage at most once a
            // second, with the next request.
            try await Task.sleep(for: .milliseconds(1100))
            _ = try reservation(port, client: "a")
            var limited = -1
            for _ in 0..<30 {
                let health = try await server.get("/v1/projects/shop/health")
                limited =
                    (try JSONSerialization.jsonObject(with: health.body) as? [String: Any])?["address_limited_count"]
                    as? Int ?? -1
                if limited == 2 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(limited == 2)
        }
    }

    @Test("The region header is believed only from a trusted proxy") func regionHeaderFromTrustedProxyOnly()
        async throws
    {
        var options = CallTrackServer.Options()
        options.httpExtra = ["region_header: X-Region", "trusted_proxies: [127.0.0.3/32]"]
        options.pools = """
                  - name: msk
                    regions: [moscow]
                    numbers: ["+74990000003"]
                    static: "+74990000009"
                  - name: main
                    numbers: ["+74990000001", "+74990000002"]
                    static: "+74990000000"
            """
        try await withServer(options: options) { server in
            let port = server.ports.http
            let direct = try reservation(port, client: "a", headers: ["X-Region: moscow"])
            #expect(number(in: direct) != "+74990000003", "a visitor set its own region header: \(direct)")
            let proxied = try reservation(
                port, client: "b", headers: ["X-Region: moscow", "X-Forwarded-For: 203.0.113.7"], from: "127.0.0.3")
            #expect(number(in: proxied) == "+74990000003", "\(proxied)")
        }
    }

    @Test("Memory holds the histories of visitors with a number, not of every visitor, across a restart too")
    func visitorsInMemory() async throws {
        var options = CallTrackServer.Options()
        options.sections = "tracking:\n  max_numbers_per_address: 100"
        let server = try CallTrackServer(options: options)
        try await server.start()
        for i in 0..<40 {
            _ = try await server.reserve(clientID: "visitor-\(i)", page: "http://shop.test/?utm_source=s\(i)")
        }
        // Two numbers in the pool: two histories in memory, 38 visitors on the static number have none.
        #expect(try await metric(server, "calltrack_visitors_in_memory") == 2)
        try await server.stop()
        try await server.start()
        #expect(try await metric(server, "calltrack_visitors_in_memory") == 2)
        // The holders' histories came back from storage: their calls are still attributed.
        let call = try await callAttribution(server)
        #expect(
            (call["attribution"] as? [String: Any])?["source"] as? String == "s0"
                || (call["attribution"] as? [String: Any])?["source"] as? String == "s1", "\(call)")
        try await server.stop()
    }

    /// Places one busy call to +74990000001 and returns its record.
    private func callAttribution(_ server: CallTrackServer) async throws -> [String: Any] {
        try await server.placeBusyCalls(1, dialling: "84990000001")
        return try #require(try await server.finishedCalls(count: 1).first)
    }
}
