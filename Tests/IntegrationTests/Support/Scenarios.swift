/// sipp scenarios for both ends of a call through CallTrack, built as text so tests can vary them.
enum Scenario {
    /// The caller's audio offer (G.711 A-law and DTMF events).
    static func sdp(direction: String = "sendrecv", codec: (pt: Int, rtpmap: String) = (8, "PCMA/8000")) -> String {
        """
        v=0
        o=sipp 53655765 [cseq] IN IP[local_ip_type] [local_ip]
        s=-
        c=IN IP[media_ip_type] [media_ip]
        t=0 0
        m=audio [media_port] RTP/AVP \(codec.pt) 101
        a=rtpmap:\(codec.pt) \(codec.rtpmap)
        a=rtpmap:101 telephone-event/8000
        a=fmtp:101 0-15
        a=\(direction)
        """
    }

    static func document(_ name: String, _ body: String) -> String {
        """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <!DOCTYPE scenario SYSTEM "sipp.dtd">
        <scenario name="\(name)">
        \(body)
        </scenario>
        """
    }
}
