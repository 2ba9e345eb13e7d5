import Foundation
import Testing

/// Load, restart, shutdown and configuration errors of a real CallTrack process.
@Suite("Lifecycle", .serialized) struct LifecycleTests {
    @Test(
        "100 concurrent calls with audio on two relay threads: all answered, media both ways on every call, all recorded, both threads relaying, none left open"
    ) func hundredConcurrentCalls() async throws {
        var options = CallTrackServer.Options()
        options.sipExtra = ["relay_threads: 2"]
        try await withServer(options: options) { server in
            let p = server.ports
            let callee = try SIPp(
                "callee", scenario: Scenario.calleeAnswers(ringMilliseconds: 200), localPort: p.callee,
                mediaPort: p.calleeMedia, target: nil, calls: 100, pauseMilliseconds: 4000, timeoutSeconds: 90)
            try await Task.sleep(for: .milliseconds(200))
            // 50 calls/s: every call is set up within two seconds and all 100 talk at the same time for a while.
            let caller = try SIPp(
                "caller", scenario: Scenario.callerHangsUp(), localPort: p.caller, mediaPort: p.callerMedia,
                target: "127.0.0.1:\(p.sip)", service: "84990000002", calls: 100, rate: 50, concurrent: 100,
                pauseMilliseconds: 4000, timeoutSeconds: 90)
            // Sample while calls are up: the server reports them as active.
            try await Task.sleep(for: .milliseconds(3000))
            let health = try await server.get("/healthz", token: nil)
            let active =
                (try JSONSerialization.jsonObject(with: health.body) as? [String: Any])?["active_calls"] as? Int ?? -1
            #expect(active == 100, "active calls mid-test: \(active)")
            #expect(try await caller.wait(timeout: .seconds(120)) == 0, "\(caller.diagnostics())")
            #expect(try await callee.wait(timeout: .seconds(120)) == 0, "\(callee.diagnostics())")
            let calls = try await server.finishedCalls(count: 100, timeout: .seconds(20))
            #expect(calls.count == 100)
            #expect(calls.allSatisfy { $0["status"] as? String == "answered" }, "\(calls.map { $0["status"] ?? "" })")
            for call in calls {
                let media = call["media"] as? [String: Any]
                let a = (media?["caller_to_callee"] as? [String: Any])?["packets"] as? Int ?? 0
                let b = (media?["callee_to_caller"] as? [String: Any])?["packets"] as? Int ?? 0
                #expect(a > 80 && b > 80, "call \(call["id"] ?? "") relayed \(a)/\(b) packets")
            }
            // Every call recorded, about as long as it talked.
            let recordings = try await server.finishedRecordings(count: 100)
            for recording in recordings {
                #expect(recording["status"] as? String == "recorded", "\(recording)")
                #expect((recording["duration_seconds"] as? Double ?? 0) > 3.5, "\(recording)")
            }
            // Both relay threads carried media (CPU time of their own).
            let pid = try #require(server.pid)
            var relayCPU: [String: Int] = [:]
            for task in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? [] {
                let name =
                    (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                guard name.hasPrefix("relay-"),
                    let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/stat", encoding: .utf8),
                    let fields = stat.split(separator: ")").last?.split(separator: " ")
                else { continue }
                relayCPU[name] = (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
            }
            #expect(
                relayCPU.keys.sorted() == ["relay-0", "relay-1"] && relayCPU.values.allSatisfy { $0 > 0 }, "\(relayCPU)"
            )
            let after = try await server.get("/healthz", token: nil)
            #expect(
                (try JSONSerialization.jsonObject(with: after.body) as? [String: Any])?["active_calls"] as? Int == 0)
        }
    }

    @Test(
        "CALLTRACK_LOG_FORMAT=json: every line is a JSON object, and every line about a call carries its call id, project and SIP Call-ID"
    ) func jsonLogs() async throws {
        var options = CallTrackServer.Options()
        options.environment = ["CALLTRACK_LOG_FORMAT": "json"]
        try await withServer(options: options) { server in
            try await server.placeAnsweredCall(dialling: "84990000001")
            try await server.placeBusyCalls(1, dialling: "84990000001")
            let calls = try await server.finishedCalls(count: 2)
            try await Task.sleep(for: .milliseconds(300))
            var lines: [[String: Any]] = []
            for line in server.log().split(separator: "\n") where !line.isEmpty {
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object != nil, "not a JSON object: \(line)")
                if let object { lines.append(object) }
            }
            #expect(lines.allSatisfy { $0["time"] is String && $0["level"] is String && $0["message"] is String })
            for call in calls {
                let id = try #require(call["id"] as? String), sipCallID = try #require(call["sip_call_id"] as? String)
                // A line is about the call when any of its values names it.
                let about = lines.filter {
                    $0.values.contains { ($0 as? String) == id || ($0 as? String) == sipCallID }
                }
                #expect(about.count >= 2, "\(id): \(about)")
                for line in about {
                    #expect(
                        line["call"] as? String == id && line["project"] as? String == "shop"
                            && line["sip_call_id"] as? String == sipCallID, "\(line)")
                }
                #expect(
                    about.contains { $0["message"] as? String == "call started" }
                        && about.contains { $0["message"] as? String == "call ended" })
            }
        }
        // An unknown format is refused, not ignored.
        var wrong = CallTrackServer.Options()
        wrong.environment = ["CALLTRACK_LOG_FORMAT": "xml"]
        let server = try CallTrackServer(options: wrong)
        await #expect(throws: (any Error).self) { try await server.start() }
        #expect(server.log().contains("CALLTRACK_LOG_FORMAT must be json or text"), "\(server.log().suffix(300))")
    }

    @Test("Restart keeps every finished call record") func restartKeepsRecords() async throws {
        let server = try CallTrackServer()
        try await server.start()
        try await server.placeBusyCalls(3, dialling: "+74990000001")
        let before = try await server.finishedCalls(count: 3)
        #expect(try await server.stop() == 0)
        try await server.start()
        let after = try await server.calls()
        #expect(after.count == 3)
        #expect(after.map { $0["id"] as? String } == before.map { $0["id"] as? String })
        #expect(after.allSatisfy { $0["missed_reason"] as? String == "busy" })
        try await server.stop()
    }

    @Test("SIGTERM with calls up: new calls get 503, active calls get BYE after the drain, records final")
    func sigtermEndsCallsCleanly() async throws {
        var options = CallTrackServer.Options()
        options.drainSeconds = 1
        let server = try CallTrackServer(options: options)
        try await server.start()
        let p = server.ports
        // Both ends wait for CallTrack's BYE: neither hangs up by itself.
        let callee = try SIPp(
            "callee", scenario: Scenario.calleeAnswers(ringMilliseconds: 100), localPort: p.callee,
            mediaPort: p.calleeMedia, target: nil, calls: 3)
        try await Task.sleep(for: .milliseconds(200))
        let caller = try SIPp(
            "caller", scenario: Scenario.callerWaitsForBye(), localPort: p.caller, mediaPort: p.callerMedia,
            target: "127.0.0.1:\(p.sip)", service: "84990000001", calls: 3, rate: 10)
        try await Task.sleep(for: .milliseconds(1500))
        let status = try await server.stop(signal: SIGTERM)
        #expect(status == 0, "\(server.log().suffix(2000))")
        #expect(try await caller.wait() == 0, "\(caller.diagnostics())")
        #expect(try await callee.wait() == 0, "\(callee.diagnostics())")
        try await server.start()
        let calls = try await server.calls()
        #expect(calls.count == 3)
        for call in calls {
            #expect(call["status"] as? String == "answered")
            #expect(call["hangup_by"] as? String == "calltrack")
            #expect(call["end_reason"] as? String == "shutdown")
            #expect(call["interrupted"] as? Bool == false)
            #expect(call["ended_at"] is String)
            // Nothing is lost on a clean shutdown: every recording is finished, as long as its call.
            let recording = call["recording"] as? [String: Any]
            #expect(recording?["status"] as? String == "recorded", "\(String(describing: recording))")
            let seconds = recording?["duration_seconds"] as? Double ?? 0
            let talk = call["talk_seconds"] as? Double ?? -1
            #expect(abs(seconds - talk) <= 0.03, "recording \(seconds) s, call \(talk) s")
        }
        try await server.stop()
    }

    @Test("A call arriving during the drain gets 503") func drainRefusesNewCalls() async throws {
        var options = CallTrackServer.Options()
        options.drainSeconds = 5
        let server = try CallTrackServer(options: options)
        try await server.start()
        let p = server.ports
        let callee = try SIPp(
            "callee", scenario: Scenario.calleeAnswers(ringMilliseconds: 100), localPort: p.callee,
            mediaPort: p.calleeMedia, target: nil, calls: 1, pauseMilliseconds: 1500)
        try await Task.sleep(for: .milliseconds(200))
        let first = try SIPp(
            "caller", scenario: Scenario.callerHangsUp(), localPort: p.caller, mediaPort: p.callerMedia,
            target: "127.0.0.1:\(p.sip)", service: "84990000001", pauseMilliseconds: 2500)
        try await Task.sleep(for: .milliseconds(800))
        kill(server.process!.processIdentifier, SIGTERM)
        try await Task.sleep(for: .milliseconds(300))
        let late = try SIPp(
            "late", scenario: Scenario.callerExpects(503), localPort: p.sip + 8, mediaPort: p.sip + 20,
            target: "127.0.0.1:\(p.sip)", service: "84990000001")
        #expect(try await late.wait() == 0, "\(late.diagnostics())")
        // The call already up finishes normally within the drain time.
        #expect(try await first.wait() == 0, "\(first.diagnostics())")
        _ = try await callee.wait()
        #expect(try await server.stop() == 0)
        try await server.start()
        let calls = try await server.calls()
        #expect(calls.count == 1)
        #expect(calls.first?["hangup_by"] as? String == "caller")
        try await server.stop()
    }

    @Test("Bad config: serve exits non-zero naming the key") func badConfigNamesKey() async throws {
        let cases: [(yaml: String, key: String)] = [
            ("sip:\n  listen: [udp:127.0.0.1:5060]\n  lisen: x\n", "sip.lisen"),
            ("projects:\n  - key: a\n    forward_to: not-a-uri\n", "projects[0].forward_to"),
            (
                """
                projects:
                  - key: a
                    forward_to: sip:1@127.0.0.1
                    pools: [{name: p, numbers: ["+74990000001"], static: "+74990000009"}]
                  - key: b
                    forward_to: sip:1@127.0.0.1
                    pools: [{name: q, numbers: ["84990000001"], static: "+74990000008"}]
                """, "projects[1].pools[0].numbers[0]"
            ),
            (
                "projects:\n  - key: a\n    forward_to: sip:1@127.0.0.1\n    pools: [{name: p, numbers: [\"+74990000001\"]}]\n",
                "projects[0].pools[0].static"
            ), ("trunks:\n  - name: t\n    allow: [10.0.0.0/33]\n", "trunks[0].allow[0]"),
            ("sip:\n  rtp_ports: {min: 30000, max: 20000}\n", "sip.rtp_ports"),
            ("http:\n  listen: 127.0.0.1\n", "http.listen"),
        ]
        for (i, c) in cases.enumerated() {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent(
                "broken-\(i)-\(UUID().uuidString).yaml"
            ).path
            try c.yaml.write(toFile: path, atomically: true, encoding: .utf8)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CallTrackServer.binary)
            p.arguments = ["serve", "--config", path]
            let err = Pipe()
            p.standardError = err
            p.standardOutput = Pipe()
            try p.run()
            p.waitUntilExit()
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(p.terminationStatus != 0, "case \(i) started")
            #expect(message.contains(c.key + ":"), "case \(i): \(message)")
        }
    }
}

@Suite("Crash recovery", .serialized) struct CrashRecoveryTests {
    @Test("kill -9 with a call up: after restart the record is final and marked interrupted")
    func killNineMarksInterrupted() async throws {
        let server = try CallTrackServer()
        try await server.start()
        let p = server.ports
        let callee = try SIPp(
            "callee", scenario: Scenario.calleeAnswers(ringMilliseconds: 100), localPort: p.callee,
            mediaPort: p.calleeMedia, target: nil, timeoutSeconds: 6)
        try await Task.sleep(for: .milliseconds(200))
        let caller = try SIPp(
            "caller", scenario: Scenario.callerWaitsForBye(), localPort: p.caller, mediaPort: p.callerMedia,
            target: "127.0.0.1:\(p.sip)", service: "84990000001", timeoutSeconds: 6)
        // Wait until the answer is stored and some audio is on disk, then kill without warning.
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if let call = try await server.calls().first, call["answered_at"] is String { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await Task.sleep(for: .milliseconds(1500))
        try await server.stop(signal: SIGKILL)
        caller.stop()
        callee.stop()
        try await server.start()
        let call = try #require(try await server.calls().first)
        #expect(call["interrupted"] as? Bool == true)
        #expect(call["status"] as? String == "answered")
        #expect(call["end_reason"] as? String == "interrupted")
        #expect(call["ended_at"] is String)
        // The recording plays: a valid header whose length matches the data, with the audio up to the kill.
        let recording = try #require(call["recording"] as? [String: Any])
        #expect(recording["status"] as? String == "interrupted")
        let url = try #require(recording["url"] as? String)
        let file = try await server.get(url)
        let wav = try Audio.parseWAV(file.body)
        #expect(wav.declaredDataBytes == wav.fileBytes - 44)
        #expect(wav.declaredDataBytes % 4 == 0)
        #expect(wav.seconds > 0.2, "only \(wav.seconds) s survived")
        try await server.stop()
    }
}
