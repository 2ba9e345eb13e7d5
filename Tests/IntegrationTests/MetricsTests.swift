import Foundation
import Testing

/// `/metrics` read as Prometheus reads it: Debian's prometheus_client parses the text, and the
/// counters must say what the test did.
@Suite("Metrics", .serialized) struct MetricsTests {
    /// Every sample of the text, parsed by prometheus_client (Debian's python3-prometheus-client).
    static func parse(_ text: String) throws -> [(name: String, labels: [String: String], value: Double)] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                for s in family.samples:
                    print(json.dumps({"name": s.name, "labels": s.labels, "value": s.value}))
            """
        let input = dir.appendingPathComponent("metrics.txt")
        try text.write(to: input, atomically: true, encoding: .utf8)
        let (status, out) = try runCommand(["/usr/bin/python3", "-c", script, input.path])
        guard status == 0 else { throw TestFailure("prometheus_client refused the text: \(out)") }
        return out.split(separator: "\n").compactMap {
            guard let o = try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] else { return nil }
            return (
                o["name"] as? String ?? "", o["labels"] as? [String: String] ?? [:],
                (o["value"] as? NSNumber)?.doubleValue ?? .nan
            )
        }
    }

    @Test(
        "After scripted calls and reservations, prometheus_client parses /metrics and the counters match what was done")
    func countersMatchWhatHappened() async throws {
        // Webhooks to a port where nothing listens: every delivery fails and waits in the outbox.
        try await withServer(options: WebhookTests.options(receiverPort: 9)) { server in
            // Reservations: two pool numbers, one renewal, one visitor on the static number (the pool is exhausted).
            for visitor in ["a", "b", "a", "c"] { _ = try await server.reserve(clientID: "visitor-\(visitor)") }
            let held = try Self.parse(
                String(decoding: try await server.get("/metrics", token: nil).body, as: UTF8.self))
            #expect(
                held.first {
                    $0.name == "calltrack_pool_numbers_reserved" && $0.labels == ["project": "shop", "pool": "main"]
                }?.value == 2)
            #expect(held.first { $0.name == "calltrack_visitors_in_memory" }?.value == 2)

            // Calls: two answered, one busy; one INVITE for a number no project has.
            try await server.placeAnsweredCall(dialling: "84990000001")
            try await server.placeAnsweredCall(dialling: "84990000002")
            try await server.placeBusyCalls(1, dialling: "84990000001")
            let stranger = try RawSIP(ip: "127.0.0.1")
            let m = RawMessage(port: stranger.port)
            stranger.send(
                m.request("INVITE", uri: "sip:84990009999@127.0.0.1:\(server.ports.sip)", cseq: 1), to: server.ports.sip
            )
            _ = try await stranger.collect(for: .milliseconds(500))
            let calls = try await server.finishedCalls(count: 3)
            let relayedByCalls = calls.reduce(0) { total, call in
                let media = call["media"] as? [String: Any] ?? [:]
                return total
                    + ["caller_to_callee", "callee_to_caller"].reduce(0) {
                        $0 + ((media[$1] as? [String: Any])?["packets"] as? Int ?? 0)
                    }
            }
            // Both answered calls are recorded (the test server records by default).
            let recordings = try await server.finishedRecordings(count: 2)
            let recordedBytes = recordings.reduce(0) { $0 + ($1["bytes"] as? Int ?? 0) }

            let text = String(decoding: try await server.get("/metrics", token: nil).body, as: UTF8.self)
            let samples = try Self.parse(text)
            func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
                samples.first { $0.name == name && $0.labels == labels }?.value
            }
            func sum(_ name: String) -> Double { samples.filter { $0.name == name }.reduce(0) { $0 + $1.value } }

            #expect(value("calltrack_calls_started_total", ["project": "shop"]) == 3, "\(text)")
            #expect(value("calltrack_calls_ended_total", ["project": "shop", "status": "answered"]) == 2)
            #expect(value("calltrack_calls_ended_total", ["project": "shop", "status": "missed"]) == 1)
            #expect(value("calltrack_calls_total", ["status": "answered"]) == 2)
            #expect(value("calltrack_active_calls") == 0)
            #expect(value("calltrack_call_setup_seconds_count", ["stage": "answer"]) == 2)
            // The busy callee refuses without ringing.
            #expect(value("calltrack_call_setup_seconds_count", ["stage": "ringing"]) == 2)
            #expect(value("calltrack_invites_refused_total", ["reason": "unknown_number"]) == 1)
            #expect(value("calltrack_media_timeouts_total") == 0)
            // Every RTP packet the calls' records count went through a relay thread (RTCP too).
            #expect(
                relayedByCalls > 0 && sum("calltrack_rtp_packets_relayed_total") >= Double(relayedByCalls),
                "relayed \(sum("calltrack_rtp_packets_relayed_total")), calls \(relayedByCalls)")
            #expect(sum("calltrack_rtp_packets_dropped_total") == 0)
            #expect(value("calltrack_reservations_total", ["project": "shop", "kind": "dynamic"]) == 2)
            #expect(value("calltrack_reservations_total", ["project": "shop", "kind": "renewed"]) == 1)
            #expect(value("calltrack_reservations_total", ["project": "shop", "kind": "static"]) == 1)
            #expect(value("calltrack_pool_exhaustions_total", ["project": "shop", "pool": "main"]) == 1)
            #expect(value("calltrack_pool_numbers", ["project": "shop", "pool": "main"]) == 2)
            // The endpoint as /metrics names it: no path (a webhook's path is often its secret).
            let endpoint = ["endpoint": "http://127.0.0.1:9"]
            #expect(
                (value("calltrack_outbox_backlog", endpoint) ?? 0) >= 9,
                "three events for each of three calls, at least")
            #expect((value("calltrack_delivery_failures_total", endpoint) ?? 0) >= 1)
            #expect(value("calltrack_recordings_written_total") == 2, "\(recordings)")
            #expect(value("calltrack_recordings_failed_total") == 0)
            #expect(recordedBytes > 44 && value("calltrack_recording_bytes_total") == Double(recordedBytes))
            #expect((value("calltrack_db_batch_seconds_count", ["store": "call records"]) ?? 0) >= 1)
            #expect((value("process_open_fds") ?? 0) >= 10)
            #expect((value("process_resident_memory_bytes") ?? 0) > 10_000_000)
            #expect((value("process_cpu_seconds_total") ?? 0) > 0)
            #expect((value("process_max_fds") ?? 0) >= 1024)

            // docs/metrics.md lists every family served, and the Grafana dashboard asks only for served ones.
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            let docs = try String(contentsOf: root.appendingPathComponent("docs/metrics.md"), encoding: .utf8)
            let dashboard = try String(
                contentsOf: root.appendingPathComponent("deploy/grafana-dashboard.json"), encoding: .utf8)
            let families = Set(
                samples.map {
                    $0.name.replacingOccurrences(of: #"_(bucket|count|sum)$"#, with: "", options: .regularExpression)
                })
            for family in families { #expect(docs.contains("`\(family)`"), "\(family) is not in docs/metrics.md") }
            let asked = Set(
                dashboard.matches(of: /(calltrack|process)_[a-z_]+/).map {
                    String($0.output.0).replacingOccurrences(of: #"_bucket$"#, with: "", options: .regularExpression)
                })
            #expect(!asked.isEmpty)
            for name in asked {
                #expect(families.contains(name), "the dashboard asks for \(name), which /metrics does not serve")
            }
        }
    }
}
