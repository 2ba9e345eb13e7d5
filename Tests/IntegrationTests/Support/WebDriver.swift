import Foundation

/// Headless Chromium driven through chromedriver's W3C WebDriver protocol (plain JSON over HTTP),
/// for tests that type, click and read the page as a person would.
final class WebDriver: @unchecked Sendable {
    private let driver = Process()
    private let port: Int
    private let profile: URL
    private var session = ""
    private static let elementKey = "element-6066-11e4-a52e-4f735466cecf"

    /// Starts chromedriver on `port` and opens a browser with a fresh profile.
    /// `arguments` go to Chromium besides the usual ones (say, `--host-resolver-rules` to reach a
    /// test site by name without any DNS query).
    init(port: Int, language: String = "en-US", arguments: [String] = []) async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver"), let chromium = Browser.binary
        else { throw TestFailure("chromium and chromedriver are not installed (make test installs them)") }
        self.port = port
        profile = FileManager.default.temporaryDirectory.appendingPathComponent("webdriver-\(UUID().uuidString)")
        driver.executableURL = URL(fileURLWithPath: "/usr/bin/chromedriver")
        driver.arguments = ["--port=\(port)", "--allowed-ips=127.0.0.1"]
        driver.standardOutput = FileHandle.nullDevice
        driver.standardError = FileHandle.nullDevice
        try driver.run()
        for _ in 0..<100 {
            if (try? await call("GET", "/status")) != nil { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let capabilities: [String: Any] = [
            "capabilities": [
                "alwaysMatch": [
                    "browserName": "chrome",
                    "goog:chromeOptions": [
                        "binary": chromium,
                        "args": [
                            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                            "--user-data-dir=\(profile.path)", "--window-size=1280,1000", "--lang=\(language)",
                            "--autoplay-policy=no-user-gesture-required",
                        ] + arguments, "prefs": ["intl.accept_languages": language],
                    ] as [String: Any],
                ] as [String: Any]
            ]
        ]
        let answer = try await call("POST", "/session", capabilities)
        guard let value = answer as? [String: Any], let id = value["sessionId"] as? String else {
            throw TestFailure("chromedriver gave no session: \(answer)")
        }
        session = id
    }

    func quit() async {
        if !session.isEmpty { _ = try? await call("DELETE", "/session/\(session)") }
        // chromedriver does not always exit on SIGTERM. Wait for the exit: a Process freed while its
        // child still runs can crash libdispatch.
        if driver.isRunning {
            kill(driver.processIdentifier, SIGKILL)
            driver.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: profile)
    }

    deinit {
        if driver.isRunning {
            kill(driver.processIdentifier, SIGKILL)
            driver.waitUntilExit()
        }
    }

    /// One WebDriver command; returns its `value`. Sent with curl: FoundationNetworking's client
    /// fails on chromedriver's answers ("Failed writing header").
    @discardableResult private func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws
        -> Any
    {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments =
            [
                "-s", "-S", "--max-time", "60", "-X", method, "-H", "Content-Type: application/json", "-w",
                "\n%{http_code}",
            ] + (body == nil ? [] : ["--data-binary", "@-"]) + ["http://127.0.0.1:\(port)\(path)"]
        let input = Pipe(), output = Pipe()
        curl.standardInput = input
        curl.standardOutput = output
        curl.standardError = FileHandle.nullDevice
        try curl.run()
        if let body { input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: body)) }
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard curl.terminationStatus == 0, let split = text.lastIndex(of: "\n") else {
            throw TestFailure("WebDriver \(method) \(path): curl exited \(curl.terminationStatus)")
        }
        let status = text[text.index(after: split)...]
        let json =
            try JSONSerialization.jsonObject(with: Data(text[..<split].utf8), options: [.fragmentsAllowed])
            as? [String: Any]
        guard status == "200" else { throw TestFailure("WebDriver \(method) \(path): \(status) \(text.prefix(600))") }
        return json?["value"] ?? NSNull()
    }

    private var base: String { "/session/\(session)" }

    /// The page's address once it satisfies `done` (a click's navigation has landed), or after `timeout` as it is.
    func url(within timeout: Duration = .seconds(5), until done: (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        var current = try await url
        while !done(current) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            current = try await url
        }
        return current
    }

    func open(_ url: String) async throws { try await call("POST", "\(base)/url", ["url": url]) }

    var url: String { get async throws { try await call("GET", "\(base)/url") as? String ?? "" } }

    /// The element matching a CSS selector (the first one), or nil.
    func element(_ css: String) async throws -> String? {
        let value = try? await call("POST", "\(base)/element", ["using": "css selector", "value": css])
        return (value as? [String: Any])?[Self.elementKey] as? String
    }

    func type(_ css: String, _ text: String) async throws {
        guard let e = try await element(css) else { throw TestFailure("no element \(css)") }
        try await call("POST", "\(base)/element/\(e)/value", ["text": text])
    }

    func click(_ css: String) async throws {
        guard let e = try await element(css) else { throw TestFailure("no element \(css)") }
        try await call("POST", "\(base)/element/\(e)/click", [:])
    }

    /// The visible text of the element, or nil when there is none.
    func text(_ css: String) async throws -> String? {
        guard let e = try await element(css) else { return nil }
        return try await call("GET", "\(base)/element/\(e)/text") as? String
    }

    /// Runs `script` in the page (a function body; `arguments` are passed) and returns its result.
    func run(_ script: String, _ arguments: [Any] = []) async throws -> Any {
        try await call("POST", "\(base)/execute/sync", ["script": script, "args": arguments])
    }

    /// Runs `script`, whose last argument is a callback to call with the result.
    func runAsync(_ script: String, _ arguments: [Any] = []) async throws -> Any {
        try await call("POST", "\(base)/timeouts", ["script": 30_000])
        return try await call("POST", "\(base)/execute/async", ["script": script, "args": arguments])
    }

    /// Saves a PNG of the window.
    func screenshot(to path: String) async throws {
        guard let base64 = try await call("GET", "\(base)/screenshot") as? String, let png = Data(base64Encoded: base64)
        else { throw TestFailure("no screenshot") }
        try FileManager.default.createDirectory(
            at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        try png.write(to: URL(fileURLWithPath: path))
    }

    /// The folder test artifacts go to: `.build/test-artifacts/` of the package.
    static var artifacts: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/test-artifacts")
            .path
    }
}
