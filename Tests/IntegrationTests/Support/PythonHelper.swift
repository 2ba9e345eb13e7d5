import Foundation

/// A peer written in Python for one test (a webhook receiver, a mail server, a website), run with
/// Debian's python3 directly: a wrapper (pyenv's shim) would survive the kill and keep the port.
/// Its script and files live in a folder of their own; it is SIGKILLed and waited for when stopped.
final class PythonHelper: @unchecked Sendable {
    let directory: URL
    private let process = Process()

    /// Runs `script` (written to the helper's folder) with `arguments`, which get that folder to put
    /// files in; or, without a script, python3 with the arguments alone (`-m http.server …`). Waits
    /// `settle` seconds for it to listen.
    init(name: String, script: String? = nil, settle: TimeInterval = 0.5, arguments: (URL) -> [String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var command = arguments(directory)
        if let script {
            let path = directory.appendingPathComponent("\(name).py").path
            try script.write(toFile: path, atomically: true, encoding: .utf8)
            command.insert(path, at: 0)
        }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = command
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: settle)
    }

    func path(_ file: String) -> String { directory.appendingPathComponent(file).path }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
    deinit { stop() }

    /// The JSON objects the script appended to `file`, one per line.
    func jsonLines(_ file: String) -> [[String: Any]] {
        let text = (try? String(contentsOfFile: path(file), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// A self-signed certificate for 127.0.0.1 (which no client that checks certificates trusts),
    /// for a helper to serve TLS with: the key's and the certificate's paths.
    static func selfSignedCertificate() throws -> (key: String, certificate: String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let (key, certificate) = (
            folder.appendingPathComponent("tls.key").path, folder.appendingPathComponent("tls.crt").path
        )
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "1", "-subj",
            "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        guard openssl.terminationStatus == 0 else { throw TestFailure("openssl could not make a certificate") }
        return (key, certificate)
    }

    /// A website: `pages` (name → HTML) served from 127.0.0.1:`port` by Python's http.server.
    static func site(port: Int, pages: [String: String]) throws -> PythonHelper {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("site-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, html) in pages {
            try html.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return try PythonHelper(name: "site") { _ in
            ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", folder.path]
        }
    }
}

/// Polls `read` every 100 ms until `done` holds for what it gives, or throws `failure`'s text after `timeout`.
func waitFor<T>(timeout: Duration, _ read: () -> T, until done: (T) -> Bool, failure: (T) -> String) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    while true {
        let value = read()
        if done(value) { return value }
        if ContinuousClock.now > deadline { throw TestFailure(failure(value)) }
        try await Task.sleep(for: .milliseconds(100))
    }
}
