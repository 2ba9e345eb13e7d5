import Foundation
import Testing

/// A sipp process playing one side of a call (or many calls) against CallTrack.
final class SIPp: @unchecked Sendable {
    static let audioPcap = "/usr/share/sip-tester/g711a.pcap"

    let name: String
    private let process = Process()
    let directory: URL
    private var stdoutPath: String

    /// Starts sipp with `scenario` (XML text). `target` is "host:port" for a client, nil for a server.
    init(
        _ name: String, scenario: String, localPort: Int, mediaPort: Int, target: String?, service: String? = nil,
        calls: Int = 1, rate: Int = 10, concurrent: Int? = nil, pauseMilliseconds: Int = 1000,
        localIP: String = "127.0.0.1", transport: String = "u1", timeoutSeconds: Int = 40
    ) throws {
        self.name = name
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sipp-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let scenarioPath = directory.appendingPathComponent("\(name).xml").path
        try scenario.write(toFile: scenarioPath, atomically: true, encoding: .utf8)
        stdoutPath = directory.appendingPathComponent("stdout.txt").path
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        var args = [
            "-sf", scenarioPath, "-i", localIP, "-p", String(localPort), "-mi", localIP, "-mp", String(mediaPort), "-m",
            String(calls), "-r", String(rate), "-l", String(concurrent ?? calls), "-d", String(pauseMilliseconds), "-t",
            transport, "-nostdin", "-timeout", "\(timeoutSeconds)s", "-timeout_error", "-trace_err", "-error_file",
            directory.appendingPathComponent("errors.log").path, "-trace_stat", "-stf",
            directory.appendingPathComponent("stats.csv").path, "-max_socket", "512",
        ]
        if let service { args += ["-s", service] }
        if let target { args.append(target) }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sipp")
        process.arguments = args
        process.currentDirectoryURL = directory
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardOutput = out
        process.standardError = out
        try process.run()
    }

    /// Waits for sipp to finish; returns its exit status (0: every call went as scripted).
    func wait(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            process.terminate()
            throw TestFailure("sipp \(name) still running after \(timeout)\n\(diagnostics())")
        }
        return process.terminationStatus
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }

    /// sipp's error log and output, for failure messages.
    func diagnostics() -> String {
        let errors = (try? String(contentsOf: directory.appendingPathComponent("errors.log"), encoding: .utf8)) ?? ""
        let out = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
        return "sipp \(name) errors:\n\(errors.suffix(4000))\nsipp \(name) output:\n\(out.suffix(2000))"
    }
}

extension CallTrackServer {
    /// Places one call that the callee answers (no audio); the caller hangs up after `talkMilliseconds`.
    func placeAnsweredCall(dialling number: String, talkMilliseconds: Int = 500) async throws {
        let callee = try SIPp(
            "callee", scenario: Scenario.calleeAnswers(ringMilliseconds: 100, audio: false), localPort: ports.callee,
            mediaPort: ports.calleeMedia, target: nil)
        try await Task.sleep(for: .milliseconds(200))
        let caller = try SIPp(
            "caller", scenario: Scenario.callerHangsUp(), localPort: ports.caller, mediaPort: ports.callerMedia,
            target: "127.0.0.1:\(ports.sip)", service: number, pauseMilliseconds: talkMilliseconds)
        #expect(try await caller.wait() == 0, "the call connects: \(caller.diagnostics())")
        _ = try await callee.wait()
    }

    /// Places `count` calls that the callee answers busy: quick, finished records for storage tests.
    func placeBusyCalls(_ count: Int, dialling number: String) async throws {
        let callee = try SIPp(
            "callee", scenario: Scenario.calleeRejects(486, "Busy Here"), localPort: ports.callee,
            mediaPort: ports.calleeMedia, target: nil, calls: count)
        let caller = try SIPp(
            "caller", scenario: Scenario.callerExpects(486), localPort: ports.caller, mediaPort: ports.callerMedia,
            target: "127.0.0.1:\(ports.sip)", service: number, calls: count, rate: 20)
        #expect(try await caller.wait() == 0, "\(caller.diagnostics())")
        _ = try await callee.wait()
    }

    /// Starts a call whose callee answers without playing audio and points its media at a bare
    /// socket, so a test sees exactly the packets CallTrack relays to it; the caller plays the sipp
    /// pcap for `talkMilliseconds`, then hangs up.
    func callWithProbeCallee(talkMilliseconds: Int) async throws -> (probe: UDPProbe, callee: SIPp, caller: SIPp) {
        let probePort = ports.sip + 40
        let probe = try UDPProbe(port: probePort)
        let callee = try SIPp(
            "callee",
            scenario: Scenario.calleeAnswers(
                ringMilliseconds: 100, audio: false, sdpBody: Scenario.sdp(mediaPort: probePort)),
            localPort: ports.callee, mediaPort: ports.calleeMedia, target: nil)
        try await Task.sleep(for: .milliseconds(200))
        let caller = try SIPp(
            "caller", scenario: Scenario.callerHangsUp(), localPort: ports.caller, mediaPort: ports.callerMedia,
            target: "127.0.0.1:\(ports.sip)", service: "84990000001", pauseMilliseconds: talkMilliseconds)
        return (probe, callee, caller)
    }
}
