import CMail
import CallTrackCore
import Foundation
import Storage

/// The e-mail a project's `notify.email` gets for a missed call: who called which number, from which
/// source, when, and a link to the caller's calls in the dashboard. Everything in it that a caller or
/// a visitor chose (the caller id, UTM tags) is one line of printable text, so it can neither end a
/// header nor start a new one.
public struct MissedCallEmail: Sendable {
    public let from: String
    public let to: [String]
    public let projectName: String
    public let timeZone: TimeZone
    /// The dashboard's address (`http.public_url`).
    public let linkBase: String

    public init(from: String, to: [String], projectName: String, timeZone: TimeZone, linkBase: String) {
        self.from = from; self.to = to; self.projectName = projectName; self.timeZone = timeZone; self.linkBase = linkBase
    }

    public func message(_ call: CallRecord, eventID: String, now: Date = Date()) -> Data {
        let s = call.start
        let caller = Self.line(s.caller, max: 64)
        let source = s.attribution?.knownSource.map { "\($0.source) / \($0.medium)" }
            ?? (s.attribution?.kind == .static ? "(static number)" : "(unknown)")
        let time = DateFormatter()
        time.locale = Locale(identifier: "en_US_POSIX")
        time.timeZone = timeZone
        time.dateFormat = "yyyy-MM-dd HH:mm:ss"
        let rfc5322 = DateFormatter()
        rfc5322.locale = Locale(identifier: "en_US_POSIX")
        rfc5322.timeZone = .gmt
        rfc5322.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        let why: String = switch call.missedReason {
        case .busy?: "the line was busy"
        case .noAnswer?: "nobody answered"
        case .cancelled?: "the caller hung up while it rang"
        case .rejected?: "the call was rejected"
        case .failed?, nil: "the call could not be put through"
        }
        let link = linkBase + "/calls?project=" + s.projectKey.percentEncodedUnreserved
            + "&number=" + s.caller.percentEncodedUnreserved
        var body = [
            "Missed call to \(Self.line(projectName, max: 100)): \(why).",
            "",
            "Caller:   \(caller)" + (s.callerName.map { " (\(Self.line($0, max: 64)))" } ?? ""),
            "Number:   \(s.did)",
            "Source:   \(Self.line(source, max: 200))",
        ]
        if let campaign = s.attribution?.campaign { body.append("Campaign: \(Self.line(campaign, max: 200))") }
        if let keyword = s.attribution?.keyword { body.append("Keyword:  \(Self.line(keyword, max: 200))") }
        body += [
            "Time:     \(time.string(from: s.startedAt)) (\(timeZone.identifier))",
            "",
            "The caller's calls: \(link)",
        ]
        let headers = [
            "From: CallTrack <\(from)>",
            "To: " + to.joined(separator: ", "),
            "Subject: " + Self.encodedWord("Missed call from \(caller) (\(Self.line(source, max: 60)))"),
            "Date: " + rfc5322.string(from: now),
            "Message-ID: <\(eventID)@calltrack>",
            "Auto-Submitted: auto-generated",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
        ]
        return Data((headers.joined(separator: "\r\n") + "\r\n\r\n" + body.joined(separator: "\r\n") + "\r\n").utf8)
    }

    /// One line of printable text: control characters (line breaks above all) become spaces.
    static func line(_ s: String, max: Int) -> String {
        String(String(s.unicodeScalars.map { $0.properties.generalCategory == .control || $0 == "\u{2028}" || $0 == "\u{2029}" ? " " : Character($0) })
            .prefix(max))
    }

    /// A header value as it is when ASCII, else RFC 2047's `=?UTF-8?B?…?=`.
    static func encodedWord(_ s: String) -> String {
        s.allSatisfy(\.isASCII) ? s : "=?UTF-8?B?" + Data(s.utf8).base64EncodedString() + "?="
    }
}

/// Hands messages to the SMTP relay (`smtp`), one connection per message, off the caller's thread.
public struct SMTPRelay: Sendable {
    let url: String
    let from: String
    let username: String?
    let password: String?

    public init(config: SMTPConfig, password: String?) {
        let host = config.host.contains(":") ? "[\(config.host)]" : config.host
        url = (config.port == 465 ? "smtps://" : "smtp://") + "\(host):\(config.port)"
        from = config.from; username = config.username; self.password = password
    }

    /// Nil when the relay took the message, else why not.
    func send(_ message: Data, to recipients: [String], timeoutSeconds: Int) async -> String? {
        let cancel = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        cancel.initialize(to: 0)
        let flag = SendablePointer(cancel)
        defer { cancel.deallocate() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (done: CheckedContinuation<String?, Never>) in
                // libcurl blocks: a thread of its own, not one of the concurrency pool's few.
                Thread.detachNewThread { done.resume(returning: self.sendBlocking(message, to: recipients, timeout: timeoutSeconds, cancel: flag)) }
            }
        } onCancel: {
            flag.pointer.pointee = 1
        }
    }

    private func sendBlocking(_ message: Data, to recipients: [String], timeout: Int, cancel: SendablePointer) -> String? {
        var error = [CChar](repeating: 0, count: 512)
        let code: Int32 = url.withCString { url in
            from.withCString { from in
                let cRecipients = recipients.map { strdup($0) }
                defer { cRecipients.forEach { free($0) } }
                return cRecipients.map { UnsafePointer($0) }.withUnsafeBufferPointer { to in
                    withOptionalCString(username) { user in
                        withOptionalCString(password) { password in
                            message.withUnsafeBytes { bytes in
                                var mail = ct_mail(url: url, from: from, to: to.baseAddress, to_count: Int32(to.count), username: user,
                                                   password: password, require_tls: username == nil ? 0 : 1,
                                                   message: bytes.baseAddress?.assumingMemoryBound(to: CChar.self),
                                                   message_len: bytes.count, timeout_seconds: timeout,
                                                   cancel: UnsafePointer(cancel.pointer))
                                return ct_mail_send(&mail, &error, error.count)
                            }
                        }
                    }
                }
            }
        }
        return code == 0 ? nil : "SMTP: " + String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

private func withOptionalCString<T>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> T) -> T {
    guard let s else { return body(nil) }
    return s.withCString { body($0) }
}

/// The cancel flag, shared with the thread that runs libcurl; written once, read by libcurl's progress callback.
private struct SendablePointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Int32>
    init(_ pointer: UnsafeMutablePointer<Int32>) { self.pointer = pointer }
}
