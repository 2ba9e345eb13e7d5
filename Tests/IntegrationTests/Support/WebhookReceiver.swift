import Foundation

/// A local HTTP receiver for webhooks (Python's http.server): the first delivery it sees gets its
/// first attempts answered as `failures` scripts (a status code, or 0 for a hang past CallTrack's
/// timeout); everything else gets 200. It keeps every request it answered 200.
final class WebhookReceiver: @unchecked Sendable {
    struct Received {
        let path: String
        let headers: [String: String]
        let body: Data
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
        var event: String { headers["x-calltrack-event"] ?? "" }
        var delivery: String { headers["x-calltrack-delivery"] ?? "" }
    }

    let port: Int
    private let process = Process()
    private let directory: URL

    /// With `tls`, HTTPS with a self-signed certificate for 127.0.0.1 (which no checking client trusts).
    init(port: Int, failures: [Int] = [], tls: Bool = false) throws {
        self.port = port
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("receiver-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let script = """
            import base64, http.server, json, ssl, subprocess, sys, threading, time
            port, log, tls, failures = int(sys.argv[1]), sys.argv[2], sys.argv[3] == '1', [int(x) for x in sys.argv[4:]]
            lock, count, first = threading.Lock(), [0], []
            class Handler(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
                    delivery = self.headers.get('X-CallTrack-Delivery', '')
                    with lock:
                        if not first: first.append(delivery)
                        n = count[0]
                        if delivery == first[0]: count[0] += 1
                    if delivery == first[0] and n < len(failures):
                        if failures[n] == 0:
                            time.sleep(15)
                            return
                        self.send_response(failures[n]); self.end_headers(); return
                    with lock:
                        with open(log, 'a') as f:
                            f.write(json.dumps({'path': self.path, 'headers': {k.lower(): v for k, v in self.headers.items()},
                                                'body': base64.b64encode(body).decode()}) + '\\n')
                    self.send_response(200); self.end_headers(); self.wfile.write(b'ok')
                def log_message(self, *args): pass
            server = http.server.ThreadingHTTPServer(('127.0.0.1', port), Handler)
            if tls:
                key, cert = log + '.key', log + '.crt'
                subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
                                '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
                               check=True, capture_output=True)
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                context.load_cert_chain(cert, key)
                server.socket = context.wrap_socket(server.socket, server_side=True)
            server.serve_forever()
            """
        let scriptPath = directory.appendingPathComponent("receiver.py").path
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        // Debian's python3 directly: a wrapper (pyenv's shim) would survive the kill and keep the port.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [scriptPath, String(port), directory.appendingPathComponent("log.jsonl").path, tls ? "1" : "0"]
            + failures.map(String.init)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: tls ? 1.0 : 0.4)
    }

    func stop() { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
    deinit { stop() }

    /// The requests answered 200, in order.
    var received: [Received] {
        let text = (try? String(contentsOf: directory.appendingPathComponent("log.jsonl"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let headers = o["headers"] as? [String: String], let b64 = o["body"] as? String,
                  let body = Data(base64Encoded: b64) else { return nil }
            return Received(path: o["path"] as? String ?? "", headers: headers, body: body)
        }
    }

    /// Waits until `done` holds for what arrived.
    func wait(timeout: Duration = .seconds(40), until done: ([Received]) -> Bool) async throws -> [Received] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let got = received
            if done(got) { return got }
            if ContinuousClock.now > deadline { throw TestFailure("the receiver got \(got.map(\.event))") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
