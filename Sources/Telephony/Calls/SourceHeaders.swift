import CallTrackCore

/// What the business's PBX and the agent's phone learn before anyone answers: the call's source
/// in `X-CallTrack-*` headers of the forwarded INVITE and, when the project asks, a `[source/medium]`
/// prefix on the caller's display name. Every value comes from a visitor's UTM tags or the config,
/// so it is percent-encoded (headers) or stripped of control characters (display name), and bounded.
enum SourceHeaders {
    /// The longest encoded header value; a longer one is cut at a whole character.
    static let maxValueLength = 256

    /// The extra header lines (each ending in CRLF) of the forwarded INVITE.
    static func lines(callID: CallID, attribution a: Attribution?, firstTime: Bool? = nil) -> String {
        var fields: [(String, String?)] = [
            ("Call-ID", callID.rawValue), ("Number-Kind", a?.kind.rawValue),
            ("First-Time", firstTime.map { $0 ? "yes" : "no" }),
        ]
        if let (source, medium) = a?.knownSource {
            fields += [("Source", source), ("Medium", medium)]
            if a?.kind == .dynamic { fields += [("Campaign", a?.campaign), ("Keyword", a?.keyword)] }
        }
        return fields.compactMap { name, value in value.map { "X-CallTrack-\(name): \(encode($0))\r\n" } }.joined()
    }

    /// `[google/cpc] Alice`, `[billboard/offline]`, `[static] Alice`; the caller's name alone when nothing is known.
    static func displayName(_ callerName: String, attribution a: Attribution?) -> String {
        let tag: String
        if let (source, medium) = a?.knownSource {
            tag = "[\(String(source.prefix(32)))/\(String(medium.prefix(32)))]"
        } else if a?.kind == .static {
            tag = "[static]"
        } else {
            return callerName
        }
        return callerName.isEmpty ? tag : "\(tag) \(callerName)"
    }

    /// Percent-encoded (`percentEncodedUnreserved`) and cut at a whole character.
    static func encode(_ value: String) -> String {
        var out = ""
        for c in value {
            let piece = String(c).percentEncodedUnreserved
            guard out.utf8.count + piece.utf8.count <= maxValueLength else { break }
            out += piece
        }
        return out
    }
}
