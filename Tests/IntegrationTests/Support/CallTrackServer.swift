import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A real `calltrack serve` process on loopback, with its own config, database and ports.
final class CallTrackServer: @unchecked Sendable {
    static let adminToken = "test-admin-token"

    let ports: TestPorts
    let directory: URL
    let configPath: String
    private(set) var process: Process?
    let logPath: String

    struct Options {
        var ringTimeoutSeconds = 4
        var rtpTimeoutSeconds = 30
        var drainSeconds = 2
        var allow = "127.0.0.1/32"
        /// Digest credentials for the trunk (password through CALLTRACK_TEST_TRUNK_PASSWORD).
        var trunkUsername: String?
        var trunkPassword: String?
        var register = false
        var record = true
        var reservationTTLSeconds = 360
        var reservationsPerMinute = 120
        /// Where recordings go; defaults to a folder in the test's directory.
        var recordingsPath: String?
        /// The SQLite file; defaults to one in the test's directory.
        var databasePath: String?
        /// Where the trunk's REGISTER (and route) goes; defaults to the callee.
        var proxyPort: Int?
        /// Extra `key: value` lines for the sip and http sections, and whole extra top-level sections.
        /// Replaces the project's pools (YAML at the indentation of `pools:` items).
        var pools: String?
        var sipExtra: [String] = []
        /// Extra `key: value` lines for the project.
        var projectExtra: [String] = []
        /// Extra environment variables for the server process.
        var environment: [String: String] = [:]
        var httpExtra: [String] = []
        var sections = ""
        /// One node of a cluster on PostgreSQL (the database's address, this node's id) instead of SQLite.
        var cluster: (databaseURL: String, nodeID: String)?
    }
    private let options: Options

    init(ports: TestPorts = .next(), options: Options = Options()) throws {
        self.ports = ports
        self.options = options
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("calltrack-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        configPath = directory.appendingPathComponent("calltrack.yaml").path
        logPath = directory.appendingPathComponent("calltrack.log").path
        let storage =
            options.cluster == nil
            ? "  database: \(options.databasePath ?? directory.path + "/calltrack.sqlite")"
            : "  backend: postgres\n  postgres: {pool_size: 4}"
        let cluster = options.cluster.map {
            """
            cluster:
              node_id: \($0.nodeID)
              advertised_http: http://127.0.0.1:\(ports.http)
              heartbeat_seconds: 1
              node_timeout_seconds: 3
            """
        }
        let yaml = """
            sip:
              listen: [udp:127.0.0.1:\(ports.sip), tcp:127.0.0.1:\(ports.sip)]
              rtp_ports: {min: \(ports.rtpMin), max: \(ports.rtpMax)}
              rtp_timeout_seconds: \(options.rtpTimeoutSeconds)
              drain_seconds: \(options.drainSeconds)
            \(options.sipExtra.map { "  " + $0 }.joined(separator: "\n"))
            http:
              listen: 127.0.0.1:\(ports.http)
              reservations_per_minute: \(options.reservationsPerMinute)
            \(options.httpExtra.map { "  " + $0 }.joined(separator: "\n"))
            \(options.sections)
            \(cluster ?? "")
            storage:
            \(storage)
              recordings: \(options.recordingsPath ?? directory.path + "/recordings")
            admin:
              tokens_env: CALLTRACK_TEST_TOKENS
            trunks:
              - name: carrier
                allow: [\(options.allow)]
                proxy: sip:127.0.0.1:\(options.proxyPort ?? ports.callee)
            \(options.trunkUsername.map { "    username: \($0)\n    password_env: CALLTRACK_TEST_TRUNK_PASSWORD\n    register: \(options.register)" } ?? "")
            projects:
              - key: shop
                name: Test shop
                forward_to: sip:+74951234567@127.0.0.1:\(ports.callee)
                trunk: carrier
                ring_timeout_seconds: \(options.ringTimeoutSeconds)
                record: \(options.record)
                origins: [http://shop.test, "http://127.0.0.1:\(ports.sip + 46)"]
                site_numbers: ["+7 (495) 123-45-67"]
                number_selector: ".showroom-phone"
                reservation_ttl_seconds: \(options.reservationTTLSeconds)
            \(options.projectExtra.map { "    " + $0 }.joined(separator: "\n"))
                pools:
            \(options.pools ?? """
                  - name: main
                    numbers: ["+74990000001", "+74990000002"]
                    static: "+74990000000"
            """)
            """
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    static var binary: String {
        if let env = ProcessInfo.processInfo.environment["CALLTRACK_BIN"] { return env }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/calltrack").path
    }

    /// Starts the server and waits until /healthz answers.
    func start() async throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = ["serve", "--config", configPath]
        var env = ProcessInfo.processInfo.environment
        env["CALLTRACK_TEST_TOKENS"] = Self.adminToken
        env["CALLTRACK_LOG_LEVEL"] = "debug"
        if let password = options.trunkPassword { env["CALLTRACK_TEST_TRUNK_PASSWORD"] = password }
        if let cluster = options.cluster { env["CALLTRACK_DATABASE_URL"] = cluster.databaseURL }
        for (k, v) in options.environment { env[k] = v }
        p.environment = env
        if !FileManager.default.fileExists(atPath: logPath) {
            FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let logFile = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        logFile.seekToEndOfFile()
        p.standardOutput = logFile
        p.standardError = logFile
        try p.run()
        process = p
        for _ in 0..<200 {
            if (try? await get("/healthz", token: nil))?.status == 200 { return }
            if !p.isRunning { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("calltrack did not start; log:\n\(log())")
    }

    var pid: Int32? { process?.processIdentifier }

    /// File descriptors the server process holds now.
    func openFileDescriptors() -> Int {
        guard let pid else { return -1 }
        return (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Sends a signal and waits for the process to exit; returns its exit status.
    @discardableResult func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(20)) async throws -> Int32 {
        guard let p = process else { return 0 }
        if p.isRunning { kill(p.processIdentifier, signal) }
        let deadline = ContinuousClock.now + timeout
        while p.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            throw TestFailure("calltrack did not exit within \(timeout)")
        }
        process = nil
        return p.terminationStatus
    }

    deinit {
        if let p = process, p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
    }

    struct HTTPResult {
        let status: Int
        let body: Data
        let headers: [String: String]
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
    }

    /// One HTTP request to the server; admin routes get the test token unless `token` is nil.
    func request(
        _ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:],
        token: String? = CallTrackServer.adminToken
    ) async throws -> HTTPResult {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(ports.http)\(path)")!)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = 5
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var h: [String: String] = [:]
        for (k, v) in http.allHeaderFields { h["\(k)".lowercased()] = "\(v)" }
        return HTTPResult(status: http.statusCode, body: data, headers: h)
    }

    /// POSTs a JSON body (or raw bytes) to a public route.
    func post(_ path: String, body: Data, headers: [String: String] = ["Content-Type": "application/json"]) async throws
        -> HTTPResult
    { try await request("POST", path, body: body, headers: headers, token: nil) }

    /// Reserves a number as the snippet would, for a visitor with `clientID` on `page`.
    func reserve(clientID: String, page: String = "http://shop.test/", extra: [String: String] = [:]) async throws
        -> [String: Any]
    {
        var body: [String: Any] = ["client_id": clientID, "page": page]
        for (k, v) in extra { body[k] = v }
        let r = try await post("/v1/projects/shop/reservations", body: try JSONSerialization.data(withJSONObject: body))
        guard r.status == 200, let json = r.json else {
            throw TestFailure("reservation failed: \(r.status) \(String(decoding: r.body, as: UTF8.self))")
        }
        return json
    }

    func get(_ path: String, token: String? = CallTrackServer.adminToken, headers: [String: String] = [:]) async throws
        -> HTTPResult
    { try await request("GET", path, headers: headers, token: token) }

    /// All call records, newest first, as JSON objects.
    func calls() async throws -> [[String: Any]] {
        var all: [[String: Any]] = []
        var cursor: String?
        repeat {
            let path = "/v1/calls?limit=500" + (cursor.map { "&cursor=\($0)" } ?? "")
            let r = try await get(path)
            guard r.status == 200, let json = try JSONSerialization.jsonObject(with: r.body) as? [String: Any],
                let page = json["calls"] as? [[String: Any]]
            else { throw TestFailure("GET /v1/calls failed: \(r.status) \(String(decoding: r.body, as: UTF8.self))") }
            all += page
            cursor = json["next_cursor"] as? String
        } while cursor != nil
        return all
    }

    /// Waits until `count` calls have a final status, then returns them (newest first).
    /// The calls' recordings once `count` of them are no longer being written.
    func finishedRecordings(count: Int, timeout: Duration = .seconds(20)) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let recordings = try await calls().compactMap { $0["recording"] as? [String: Any] }
            let done = recordings.filter { ($0["status"] as? String) != "recording" }
            if done.count >= count { return done }
            if ContinuousClock.now > deadline {
                throw TestFailure("expected \(count) finished recordings, have \(done.count) of \(recordings.count)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    func finishedCalls(count: Int, timeout: Duration = .seconds(10)) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let calls = try await calls()
            let done = calls.filter { ($0["status"] as? String) != "in_progress" }
            if done.count >= count { return calls }
            if ContinuousClock.now > deadline {
                throw TestFailure("expected \(count) finished calls, have \(done.count) of \(calls.count): \(calls)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body` against a started CallTrack and always stops it afterwards. When `body` throws,
/// the error carries the end of the server's log, so a failing test shows what CallTrack said.
func withServer<T>(
    ports: TestPorts = .next(), options: CallTrackServer.Options = CallTrackServer.Options(),
    _ body: (CallTrackServer) async throws -> T
) async throws -> T {
    let server = try CallTrackServer(ports: ports, options: options)
    try await server.start()
    let result: T
    do { result = try await body(server) } catch {
        _ = try? await server.stop()
        let tail = server.log().split(separator: "\n").suffix(40).joined(separator: "\n")
        throw TestFailure("\(error)\n--- the last lines of CallTrack's log ---\n\(tail)")
    }
    try await server.stop()
    return result
}
