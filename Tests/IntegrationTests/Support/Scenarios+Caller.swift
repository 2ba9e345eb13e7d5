/// sipp scenarios that play the caller: the INVITE, its ACK, in-dialog requests, whole calls.
extension Scenario {
    static func invite(withSDP: Bool = true, sdpBody: String = sdp()) -> String {
        """
        <send retrans="500">
          <![CDATA[
        INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
        Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-inv-[pid]-[call_number]
        From: "Alice" <sip:79161234567@[local_ip]:[local_port]>;tag=[pid]caller[call_number]
        To: <sip:[service]@[remote_ip]:[remote_port]>
        Call-ID: [call_id]
        CSeq: 1 INVITE
        Contact: <sip:79161234567@[local_ip]:[local_port];transport=[transport]>
        Max-Forwards: 70
        \(withSDP ? "Content-Type: application/sdp\n" : "")Content-Length: [len]

        \(withSDP ? sdpBody : "")
          ]]>
        </send>
        """
    }

    static let provisional = """
        <recv response="100" optional="true"/>
        <recv response="180" optional="true"/>
        <recv response="183" optional="true"/>
        """

    static func ack(cseq: Int = 1, sdpBody: Bool = false) -> String {
        """
        <send>
          <![CDATA[
        ACK [next_url] SIP/2.0
        Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
        From: "Alice" <sip:79161234567@[local_ip]:[local_port]>;tag=[pid]caller[call_number]
        To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
        [routes]
        Call-ID: [call_id]
        CSeq: \(cseq) ACK
        Contact: <sip:79161234567@[local_ip]:[local_port];transport=[transport]>
        Max-Forwards: 70
        \(sdpBody ? "Content-Type: application/sdp\n" : "")Content-Length: [len]

        \(sdpBody ? sdp() : "")
          ]]>
        </send>
        """
    }

    static func inDialog(_ method: String, cseq: Int, body: String? = nil, contentType: String = "application/sdp")
        -> String
    {
        """
        <send retrans="500">
          <![CDATA[
        \(method) [next_url] SIP/2.0
        Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
        From: "Alice" <sip:79161234567@[local_ip]:[local_port]>;tag=[pid]caller[call_number]
        To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
        [routes]
        Call-ID: [call_id]
        CSeq: \(cseq) \(method)
        Contact: <sip:79161234567@[local_ip]:[local_port];transport=[transport]>
        Max-Forwards: 70
        \(body != nil ? "Content-Type: \(contentType)\n" : "")Content-Length: [len]

        \(body ?? "")
          ]]>
        </send>
        """
    }

    static func playAudio(_ pcap: String = SIPp.audioPcap) -> String {
        "<nop><action><exec play_pcap_audio=\"\(pcap)\"/></action></nop>"
    }

    /// 200 OK to an in-dialog request (re-INVITE, INFO, BYE), with an SDP body when given.
    static func okInDialog(sdpBody: String? = nil) -> String {
        """
        <send>
          <![CDATA[
        SIP/2.0 200 OK
        [last_Via:]
        [last_From:]
        [last_To:]
        [last_Call-ID:]
        [last_CSeq:]
        \(sdpBody != nil ? "Contact: <sip:[local_ip]:[local_port];transport=[transport]>\nContent-Type: application/sdp\n" : "")Content-Length: [len]

        \(sdpBody ?? "")
          ]]>
        </send>
        """
    }

    static let answerBye = """
        <recv request="BYE"/>
        \(okInDialog())
        """

    /// Caller: answered call with audio; the caller hangs up after the -d pause.
    static func callerHangsUp(pcap: String = SIPp.audioPcap, sdpBody: String = sdp()) -> String {
        document(
            "caller hangs up",
            """
            \(invite(sdpBody: sdpBody))
            \(provisional)
            <recv response="200" rrs="true"/>
            \(ack())
            \(playAudio(pcap))
            <pause/>
            \(inDialog("BYE", cseq: 2))
            <recv response="200"/>
            """)
    }

    /// Caller: answered call with audio; waits for the callee's BYE.
    static func callerWaitsForBye(audio: Bool = true) -> String {
        document(
            "caller waits for BYE",
            """
            \(invite())
            \(provisional)
            <recv response="200" rrs="true"/>
            \(ack())
            \(audio ? playAudio() : "")
            \(answerBye)
            """)
    }

    /// Caller: expects the call to fail with `code` after optional provisional responses.
    static func callerExpects(_ code: Int, withSDP: Bool = true) -> String {
        document(
            "caller expects \(code)",
            """
            \(invite(withSDP: withSDP))
            \(provisional)
            <recv response="\(code)"/>
            <send>
              <![CDATA[
            ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
            Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-inv-[pid]-[call_number]
            From: "Alice" <sip:79161234567@[local_ip]:[local_port]>;tag=[pid]caller[call_number]
            To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
            Call-ID: [call_id]
            CSeq: 1 ACK
            Max-Forwards: 70
            Content-Length: 0

              ]]>
            </send>
            """)
    }

    /// Caller: waits for ringing, then gives up (CANCEL); expects 200 for the CANCEL and 487.
    static let callerCancels = document(
        "caller cancels",
        """
        \(invite())
        <recv response="100" optional="true"/>
        <recv response="183" optional="true"/>
        <recv response="180"/>
        <pause milliseconds="500"/>
        <send>
          <![CDATA[
        CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
        Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-inv-[pid]-[call_number]
        From: "Alice" <sip:79161234567@[local_ip]:[local_port]>;tag=[pid]caller[call_number]
        To: <sip:[service]@[remote_ip]:[remote_port]>
        Call-ID: [call_id]
        CSeq: 1 CANCEL
        Max-Forwards: 70
        Content-Length: 0

          ]]>
        </send>
        <recv response="200"/>
        <recv response="487"/>
        <send>
          <![CDATA[
        ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
        Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-inv-[pid]-[call_number]
        From: "Alice" <sip:79161234567@[local_ip]:[local_port]>;tag=[pid]caller[call_number]
        To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
        Call-ID: [call_id]
        CSeq: 1 ACK
        Max-Forwards: 70
        Content-Length: 0

          ]]>
        </send>
        """)

    /// Caller: puts the call on hold and resumes it with re-INVITEs, sends an INFO, then hangs up.
    static let callerHoldsAndResumes = document(
        "caller holds and resumes",
        """
        \(invite())
        \(provisional)
        <recv response="200" rrs="true"/>
        \(ack())
        \(playAudio())
        <pause milliseconds="500"/>
        \(inDialog("INVITE", cseq: 2, body: sdp(direction: "sendonly")))
        <recv response="100" optional="true"/>
        <recv response="200">
          <action><ereg regexp="a=recvonly" search_in="body" check_it="true" assign_to="held"/></action>
        </recv>
        \(touch("held"))
        \(ack(cseq: 2))
        <pause milliseconds="500"/>
        \(inDialog("INVITE", cseq: 3, body: sdp(direction: "sendrecv")))
        <recv response="100" optional="true"/>
        <recv response="200">
          <action><ereg regexp="a=sendrecv" search_in="body" check_it="true" assign_to="resumed"/></action>
        </recv>
        \(touch("resumed"))
        \(ack(cseq: 3))
        \(inDialog("INFO", cseq: 4, body: "Signal=5\nDuration=160", contentType: "application/dtmf-relay"))
        <recv response="200"/>
        <pause milliseconds="300"/>
        \(inDialog("BYE", cseq: 5))
        <recv response="200"/>
        """)

    /// Caller: INVITE without SDP; CallTrack offers in the 200, the caller answers in the ACK.
    static let callerDelayedOffer = document(
        "caller delayed offer",
        """
        \(invite(withSDP: false))
        \(provisional)
        <recv response="200" rrs="true">
          <action><ereg regexp="m=audio [0-9]+ RTP/AVP 8" search_in="body" check_it="true" assign_to="offer"/></action>
        </recv>
        \(touch("offer"))
        \(ack(sdpBody: true))
        \(playAudio())
        <pause/>
        \(inDialog("BYE", cseq: 2))
        <recv response="200"/>
        """)

    static let options = document(
        "options",
        """
        <send retrans="500">
          <![CDATA[
        OPTIONS sip:[remote_ip]:[remote_port] SIP/2.0
        Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
        From: <sip:trunk@[local_ip]:[local_port]>;tag=[pid]opt[call_number]
        To: <sip:[remote_ip]:[remote_port]>
        Call-ID: [call_id]
        CSeq: 1 OPTIONS
        Max-Forwards: 70
        Content-Length: 0

          ]]>
        </send>
        <recv response="200"/>
        """)
}
