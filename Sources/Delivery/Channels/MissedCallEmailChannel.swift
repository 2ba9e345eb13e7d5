import AsyncHTTPClient
import CallTrackCore
import Foundation
import Storage

/// A project's `notify.email`: an e-mail per missed call, through the SMTP relay. Projects that tell
/// the same addresses share the endpoint, each with its own message.
struct MissedCallEmailChannel: DeliveryChannel {
    /// `mailto:` and the addresses.
    let endpoint: String
    let recipients: [String]
    let messages: [String: MissedCallEmail]

    func delivery(of event: DeliveryEvent, project: String) -> DeliveryEvent? {
        event == .callMissed && messages[project] != nil ? .emailMissedCall : nil
    }

    func body(_ entry: OutboxEntry, from source: DeliverySource) async throws -> Data? {
        guard let message = messages[entry.project], let call = try await source.call(entry) else { return nil }
        return message.message(call, eventID: entry.id)
    }

    func send(_ deliveries: [Delivery], via transport: DeliveryTransport) async -> DeliveryResult {
        guard let smtp = transport.smtp else { return .failed("no smtp relay is configured") }
        for delivery in deliveries {
            if let problem = await smtp.send(delivery.body, to: recipients, timeoutSeconds: 30) {
                return .failed(problem)
            }
        }
        return .delivered("sent")
    }
}

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
        self.from = from
        self.to = to
        self.projectName = projectName
        self.timeZone = timeZone
        self.linkBase = linkBase
    }

    public func message(_ call: CallRecord, eventID: String, now: Date = Date()) -> Data {
        let s = call.start
        let caller = Self.line(s.caller, max: 64)
        let source =
            s.attribution?.knownSource.map { "\($0.source) / \($0.medium)" }
            ?? (s.attribution?.kind == .static ? "(static number)" : "(unknown)")
        let time = DateFormatter()
        time.locale = Locale(identifier: "en_US_POSIX")
        time.timeZone = timeZone
        time.dateFormat = "yyyy-MM-dd HH:mm:ss"
        let rfc5322 = DateFormatter()
        rfc5322.locale = Locale(identifier: "en_US_POSIX")
        rfc5322.timeZone = .gmt
        rfc5322.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        let why: String =
            switch call.missedReason {
            case .busy?: "the line was busy"
            case .noAnswer?: "nobody answered"
            case .cancelled?: "the caller hung up while it rang"
            case .rejected?: "the call was rejected"
            case .failed?, nil: "the call could not be put through"
            }
        let link =
            linkBase + "/calls?project=" + s.projectKey.percentEncodedUnreserved + "&number="
            + s.caller.percentEncodedUnreserved
        var body = [
            "Missed call to \(Self.line(projectName, max: 100)): \(why).", "",
            "Caller:   \(caller)" + (s.callerName.map { " (\(Self.line($0, max: 64)))" } ?? ""), "Number:   \(s.did)",
            "Source:   \(Self.line(source, max: 200))",
        ]
        if let campaign = s.attribution?.campaign { body.append("Campaign: \(Self.line(campaign, max: 200))") }
        if let keyword = s.attribution?.keyword { body.append("Keyword:  \(Self.line(keyword, max: 200))") }
        body += [
            "Time:     \(time.string(from: s.startedAt)) (\(timeZone.identifier))", "", "The caller's calls: \(link)",
        ]
        let headers = [
            "From: CallTrack <\(from)>", "To: " + to.joined(separator: ", "),
            "Subject: " + Self.encodedWord("Missed call from \(caller) (\(Self.line(source, max: 60)))"),
            "Date: " + rfc5322.string(from: now), "Message-ID: <\(eventID)@calltrack>",
            "Auto-Submitted: auto-generated", "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
        ]
        return Data((headers.joined(separator: "\r\n") + "\r\n\r\n" + body.joined(separator: "\r\n") + "\r\n").utf8)
    }

    /// One line of printable text: control characters (line breaks above all) become spaces.
    static func line(_ s: String, max: Int) -> String {
        String(
            String(
                s.unicodeScalars.map {
                    $0.properties.generalCategory == .control || $0 == "\u{2028}" || $0 == "\u{2029}"
                        ? " " : Character($0)
                }
            ).prefix(max))
    }

    /// A header value as it is when ASCII, else RFC 2047's `=?UTF-8?B?…?=`.
    static func encodedWord(_ s: String) -> String {
        s.allSatisfy(\.isASCII) ? s : "=?UTF-8?B?" + Data(s.utf8).base64EncodedString() + "?="
    }
}
