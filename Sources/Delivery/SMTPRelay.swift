import CMail
import CallTrackCore
import Foundation

/// Hands messages to the SMTP relay (`smtp`), one connection per message, off the caller's thread.
public struct SMTPRelay: Sendable {
    let url, from: String
    let username, password: String?

    public init(config: SMTPConfig, password: String?) {
        let host = config.host.contains(":") ? "[\(config.host)]" : config.host
        url = (config.port == 465 ? "smtps://" : "smtp://") + "\(host):\(config.port)"
        from = config.from
        username = config.username
        self.password = password
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
                Thread.detachNewThread {
                    done.resume(
                        returning: self.sendBlocking(message, to: recipients, timeout: timeoutSeconds, cancel: flag))
                }
            }
        } onCancel: {
            flag.pointer.pointee = 1
        }
    }

    private func sendBlocking(_ message: Data, to recipients: [String], timeout: Int, cancel: SendablePointer)
        -> String?
    {
        var error = [CChar](repeating: 0, count: 512)
        let code: Int32 = url.withCString { url in
            from.withCString { from in
                let cRecipients = recipients.map { strdup($0) }
                defer { cRecipients.forEach { free($0) } }
                return cRecipients.map { UnsafePointer($0) }.withUnsafeBufferPointer { to in
                    withOptionalCString(username) { user in
                        withOptionalCString(password) { password in
                            message.withUnsafeBytes { bytes in
                                var mail = ct_mail(
                                    url: url, from: from, to: to.baseAddress, to_count: Int32(to.count), username: user,
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
        return code == 0
            ? nil : "SMTP: " + String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
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
