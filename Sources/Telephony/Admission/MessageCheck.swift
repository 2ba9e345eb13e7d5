import Foundation

/// What makes a SIP request malformed for CallTrack, checked from its parsed fields.
///
/// libre parses leniently: a request without To, CSeq, Call-ID or From, or whose Content-Length
/// disagrees with the datagram, still reaches the call code. CallTrack answers such requests 400
/// (or drops them when an answer could not go back to the source) and never starts a call.
struct MessageCheck {
    var method, callID, fromURI, toURI, cseqMethod: String
    /// The top Via's sent-by (empty when there is no Via to answer to), and the Via's parameters.
    var viaSentBy, viaParams: String
    /// Content-Length as sent; nil when absent.
    var contentLength, maxForwards: String?
    /// Bytes after the header block.
    var bodyBytes: Int
    /// How many of those bytes, at the end, are only CR, LF, space or tab.
    var trailingBlankBytes: Int
    /// Datagrams carry their own length; a stream (TCP) is already cut at Content-Length by libre.
    var datagram: Bool

    static let maxBodyBytes = 16 * 1024

    func malformation() -> Admission.Malformation? {
        if viaSentBy.isEmpty { return .init("Missing Via", answerable: false) }
        if Self.hasParameter("maddr", in: viaParams) { return .init("Via maddr not accepted", answerable: false) }
        if callID.isEmpty { return .init("Missing Call-ID") }
        if fromURI.isEmpty { return .init("Missing or bad From") }
        if toURI.isEmpty { return .init("Missing or bad To") }
        if cseqMethod.isEmpty { return .init("Missing or bad CSeq") }
        if cseqMethod != method { return .init("CSeq method does not match the request") }
        if let mf = maxForwards, mf.isEmpty || mf.count > 9 || !mf.allSatisfy(\.isASCIIDigit) {
            return .init("Bad Max-Forwards")
        }
        if let raw = contentLength {
            guard !raw.isEmpty, raw.count <= 9, raw.allSatisfy(\.isASCIIDigit), let length = Int(raw) else {
                return .init("Bad Content-Length")
            }
            if length > Self.maxBodyBytes { return .init("Request Entity Too Large", code: 413) }
            if datagram {
                if length > bodyBytes { return .init("Content-Length larger than the message") }
                // Bytes past Content-Length are ignored (RFC 3261 18.3) only when they are blank.
                if length < bodyBytes - trailingBlankBytes { return .init("Content-Length smaller than the body") }
            }
        } else if bodyBytes - trailingBlankBytes > 0 && !datagram {
            return .init("Missing Content-Length")
        }
        if bodyBytes > Self.maxBodyBytes { return .init("Request Entity Too Large", code: 413) }
        return nil
    }

    /// The Max-Forwards value, nil when absent or unreadable.
    var maxForwardsValue: Int? { maxForwards.flatMap { Int($0) } }

    static func hasParameter(_ name: String, in params: String) -> Bool {
        params.split(separator: ";").contains { p in
            p.split(separator: "=", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                == name
        }
    }

    /// Option tags of a `Require` header (comma-separated), none of which CallTrack supports.
    static func requiredOptions(_ header: String?) -> [String] {
        guard let header else { return [] }
        return header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
