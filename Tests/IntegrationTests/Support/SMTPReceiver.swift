import Foundation

/// A local mail server (Debian's python3-aiosmtpd) that keeps every message it accepts; the first
/// `refusals` messages get a temporary 451 instead, as a busy relay answers. With `startTLS` it
/// offers STARTTLS with a self-signed certificate, which no client that checks certificates trusts.
final class SMTPReceiver: @unchecked Sendable {
    struct Message {
        let from: String
        let to: [String]
        let data: String
        /// The header block, unfolded lines.
        var headers: [String] { data.components(separatedBy: "\r\n\r\n").first?.components(separatedBy: "\r\n") ?? [] }
        var body: String { data.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n") }
        func header(_ name: String) -> String? {
            headers.first { $0.lowercased().hasPrefix(name.lowercased() + ": ") }.map { String($0.dropFirst(name.count + 2)) }
        }
    }

    let port: Int
    private let process = Process()
    private let directory: URL

    init(port: Int, refusals: Int = 0, startTLS: Bool = false) throws {
        self.port = port
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let script = """
            import json, ssl, subprocess, sys, threading
            from aiosmtpd.controller import Controller
            port, log, refusals, tls = int(sys.argv[1]), sys.argv[2], [int(sys.argv[3])], sys.argv[4] == '1'
            class Handler:
                async def handle_DATA(self, server, session, envelope):
                    if refusals[0] > 0:
                        refusals[0] -= 1
                        return '451 4.3.0 Try again later'
                    with open(log, 'a') as f:
                        f.write(json.dumps({'from': envelope.mail_from, 'to': envelope.rcpt_tos,
                                            'data': envelope.original_content.decode('utf-8', 'replace')}) + '\\n')
                    return '250 OK'
            context = None
            if tls:
                key, cert = log + '.key', log + '.crt'
                subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
                                '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
                               check=True, capture_output=True)
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                context.load_cert_chain(cert, key)
            Controller(Handler(), hostname='127.0.0.1', port=port, tls_context=context).start()
            threading.Event().wait()
            """
        let scriptPath = directory.appendingPathComponent("smtp.py").path
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [scriptPath, String(port), directory.appendingPathComponent("mail.jsonl").path, String(refusals),
                             startTLS ? "1" : "0"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: startTLS ? 1.2 : 0.6)
    }

    func stop() { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
    deinit { stop() }

    var received: [Message] {
        let text = (try? String(contentsOf: directory.appendingPathComponent("mail.jsonl"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let data = o["data"] as? String else { return nil }
            return Message(from: o["from"] as? String ?? "", to: o["to"] as? [String] ?? [], data: data)
        }
    }

    func wait(timeout: Duration = .seconds(30), until done: ([Message]) -> Bool) async throws -> [Message] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let got = received
            if done(got) { return got }
            if ContinuousClock.now > deadline { throw TestFailure("the mail server got \(got.count) messages") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
