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
            headers.first { $0.lowercased().hasPrefix(name.lowercased() + ": ") }.map {
                String($0.dropFirst(name.count + 2))
            }
        }
    }

    let port: Int
    private let helper: PythonHelper

    init(port: Int, refusals: Int = 0, startTLS: Bool = false) throws {
        self.port = port
        let script = """
            import json, ssl, sys, threading
            from aiosmtpd.controller import Controller
            port, log, refusals = int(sys.argv[1]), sys.argv[2], [int(sys.argv[3])]
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
            if len(sys.argv) > 4:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                context.load_cert_chain(sys.argv[5], sys.argv[4])
            Controller(Handler(), hostname='127.0.0.1', port=port, tls_context=context).start()
            threading.Event().wait()
            """
        let tls = startTLS ? try PythonHelper.selfSignedCertificate() : nil
        helper = try PythonHelper(name: "smtp", script: script, settle: 0.8) { folder in
            [String(port), folder.appendingPathComponent("mail.jsonl").path, String(refusals)]
                + (tls.map { [$0.key, $0.certificate] } ?? [])
        }
    }

    func stop() { helper.stop() }

    var received: [Message] {
        helper.jsonLines("mail.jsonl").compactMap { o in
            guard let data = o["data"] as? String else { return nil }
            return Message(from: o["from"] as? String ?? "", to: o["to"] as? [String] ?? [], data: data)
        }
    }

    func wait(timeout: Duration = .seconds(30), until done: ([Message]) -> Bool) async throws -> [Message] {
        try await waitFor(
            timeout: timeout, { received }, until: done, failure: { "the mail server got \($0.count) messages" })
    }
}
