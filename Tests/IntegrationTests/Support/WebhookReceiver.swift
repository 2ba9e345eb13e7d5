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
    private let helper: PythonHelper

    /// With `tls`, HTTPS with a self-signed certificate for 127.0.0.1 (which no checking client trusts).
    init(port: Int, failures: [Int] = [], tls: Bool = false) throws {
        self.port = port
        let script = """
            import base64, http.server, json, ssl, sys, threading, time
            port, log, key, cert = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
            failures = [int(x) for x in sys.argv[5:]]
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
            if key:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                context.load_cert_chain(cert, key)
                server.socket = context.wrap_socket(server.socket, server_side=True)
            server.serve_forever()
            """
        let certificate = tls ? try PythonHelper.selfSignedCertificate() : nil
        helper = try PythonHelper(name: "receiver", script: script) { folder in
            [
                String(port), folder.appendingPathComponent("log.jsonl").path, certificate?.key ?? "",
                certificate?.certificate ?? "",
            ] + failures.map(String.init)
        }
    }

    func stop() { helper.stop() }

    /// The requests answered 200, in order.
    var received: [Received] {
        helper.jsonLines("log.jsonl").compactMap { o in
            guard let headers = o["headers"] as? [String: String], let b64 = o["body"] as? String,
                let body = Data(base64Encoded: b64)
            else { return nil }
            return Received(path: o["path"] as? String ?? "", headers: headers, body: body)
        }
    }

    /// Waits until `done` holds for what arrived.
    func wait(timeout: Duration = .seconds(40), until done: ([Received]) -> Bool) async throws -> [Received] {
        try await waitFor(
            timeout: timeout, { received }, until: done, failure: { "the receiver got \($0.map(\.event))" })
    }
}
