import CLibre
import Foundation

// Small conversions between libre's C types and Swift. Everything here runs on libre's thread.

extension pl {
    /// The bytes of a libre pointer-length string, as a Swift string.
    var string: String {
        guard let p, l > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: l), as: UTF8.self)
    }
}

extension sa {
    /// The IP address part, as text.
    var addressText: String {
        var copy = self
        var buf = [CChar](repeating: 0, count: 64)
        guard sa_ntop(&copy, &buf, Int32(buf.count)) == 0 else { return "" }
        return String(cString: buf)
    }

    var portNumber: UInt16 {
        var copy = self
        return sa_port(&copy)
    }

    /// An address from text and port; nil if the text is not an IP address.
    static func make(_ address: String, port: UInt16) -> sa? {
        var s = sa()
        guard sa_set_str(&s, address, port) == 0 else { return nil }
        return s
    }

    func sameEndpoint(as other: sa) -> Bool {
        var a = self, b = other
        return sa_cmp(&a, &b, Int32(SA_ALL.rawValue))
    }
}

extension UnsafePointer where Pointee == sip_msg {
    /// The message body (SDP for INVITEs), if any.
    var body: String? {
        guard let mb = pointee.mb else { return nil }
        let left = mbuf_get_left(mb)
        guard left > 0, let start = mbuf_buf(mb) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: start, count: left), as: UTF8.self)
    }

    var method: String { pointee.met.string }
    var callID: String { pointee.callid.string }
}

/// A libre buffer holding `text`, positioned at its start; the caller must `mem_deref` it.
func makeMBuf(_ text: String) -> UnsafeMutablePointer<mbuf>? {
    var bytes = Array(text.utf8)
    guard let mb = mbuf_alloc(bytes.count) else { return nil }
    _ = mbuf_write_mem(mb, &bytes, bytes.count)
    mbuf_set_pos(mb, 0)
    return mb
}

/// Runs `body` with a libre buffer holding `text` (or nil when text is nil), then frees it.
func withMBuf<R>(_ text: String?, _ body: (UnsafeMutablePointer<mbuf>?) -> R) -> R {
    guard let text, let mb = makeMBuf(text) else { return body(nil) }
    defer { _ = mem_deref(mb) }
    return body(mb)
}

/// Milliseconds of libre's monotonic clock.
func nowMilliseconds() -> UInt64 { tmr_jiffies() }

/// A libre timer owned by Swift: the struct lives at a stable address until `deinit`. It fires on the
/// loop it was made on.
final class LibreTimer {
    private let tmrPointer: UnsafeMutablePointer<tmr>
    private var action: (() -> Void)?
    private let loop = LoopIdentity.current()

    init() {
        tmrPointer = .allocate(capacity: 1)
        tmr_init(tmrPointer)
    }

    deinit {
        tmr_cancel(tmrPointer)
        tmrPointer.deallocate()
    }

    /// Calls `action` once after `milliseconds`, replacing any pending start.
    func start(milliseconds: UInt64, _ action: @escaping () -> Void) {
        self.action = action
        tmr_start(
            tmrPointer, milliseconds,
            { arg in
                guard let arg else { return }
                let timer = Unmanaged<LibreTimer>.fromOpaque(arg).takeUnretainedValue()
                timer.loop.precondition()
                let action = timer.action
                timer.action = nil
                action?()
            }, Unmanaged.passUnretained(self).toOpaque())
    }

    func cancel() {
        tmr_cancel(tmrPointer)
        action = nil
    }
}
