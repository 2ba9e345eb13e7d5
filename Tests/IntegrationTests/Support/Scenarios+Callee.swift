/// sipp scenarios that play the business's side: receiving the INVITE, answering, refusing, hanging up.
extension Scenario {
    /// sipp rejects a variable that is set but never read: `touch` reads them (a log action, not printed).
    static func touch(_ variables: String...) -> String {
        "<nop><action><log message=\"" + variables.map { "[$\($0)]" }.joined() + "\"/></action></nop>"
    }

    /// Receives the INVITE; with `capture`, keeps From, To and the CSeq number for later requests.
    static func calleeRecvInvite(capture: Bool = false) -> String {
        guard capture else { return "<recv request=\"INVITE\" rrs=\"true\"/>" }
        return """
            <recv request="INVITE" rrs="true">
              <action>
                <ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/>
                <ereg regexp=".*" search_in="hdr" header="To:" assign_to="local_to"/>
                <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="invite_cseq"/>
              </action>
            </recv>
            \(touch("remote_from", "local_to", "invite_cseq"))
            """
    }

    static func response(_ code: Int, _ reason: String, sdpBody: String? = nil) -> String {
        """
        <send\(code >= 200 && sdpBody != nil ? " retrans=\"500\"" : "")>
          <![CDATA[
        SIP/2.0 \(code) \(reason)
        [last_Via:]
        [last_From:]
        [last_To:];tag=[pid]callee[call_number]
        [last_Call-ID:]
        [last_CSeq:]
        Contact: <sip:[local_ip]:[local_port];transport=[transport]>
        \(sdpBody != nil ? "Content-Type: application/sdp\n" : "")Content-Length: [len]

        \(sdpBody ?? "")
          ]]>
        </send>
        """
    }

    /// Callee: rings, answers with audio, waits for BYE.
    static func calleeAnswers(
        ringMilliseconds: Int = 500, audio: Bool = true, sdpBody: String = sdp(), pcap: String = SIPp.audioPcap
    ) -> String {
        document(
            "callee answers",
            """
            \(calleeRecvInvite())
            \(response(180, "Ringing"))
            <pause milliseconds="\(ringMilliseconds)"/>
            \(response(200, "OK", sdpBody: sdpBody))
            <recv request="ACK" crlf="true"/>
            \(audio ? playAudio(pcap) : "")
            \(answerBye)
            """)
    }

    /// A callee answer that points its media at a fixed local port (a test socket).
    static func sdp(mediaPort: Int) -> String {
        """
        v=0
        o=probe 1 1 IN IP4 127.0.0.1
        s=-
        c=IN IP4 127.0.0.1
        t=0 0
        m=audio \(mediaPort) RTP/AVP 8 101
        a=rtpmap:8 PCMA/8000
        a=rtpmap:101 telephone-event/8000
        a=sendrecv
        """
    }

    /// Callee: answers with early media first (183 with SDP), then 200.
    static let calleeEarlyMedia = document(
        "callee early media",
        """
        \(calleeRecvInvite())
        \(response(183, "Session Progress", sdpBody: sdp()))
        \(playAudio())
        <pause milliseconds="500"/>
        \(response(200, "OK", sdpBody: sdp()))
        <recv request="ACK" crlf="true"/>
        \(answerBye)
        """)

    /// Callee: answers, then hangs up first after the -d pause.
    static let calleeHangsUp = document(
        "callee hangs up",
        """
        \(calleeRecvInvite(capture: true))
        \(response(180, "Ringing"))
        <pause milliseconds="300"/>
        \(response(200, "OK", sdpBody: sdp()))
        <recv request="ACK" crlf="true"/>
        \(playAudio())
        <pause/>
        <send retrans="500">
          <![CDATA[
        BYE [next_url] SIP/2.0
        Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
        From: [$local_to];tag=[pid]callee[call_number]
        To: [$remote_from]
        [routes]
        Call-ID: [call_id]
        CSeq: 1 BYE
        Contact: <sip:[local_ip]:[local_port];transport=[transport]>
        Max-Forwards: 70
        Content-Length: 0

          ]]>
        </send>
        <recv response="200"/>
        """)

    /// Callee: rejects the INVITE with `code`.
    static func calleeRejects(_ code: Int, _ reason: String) -> String {
        document(
            "callee rejects \(code)",
            """
            \(calleeRecvInvite())
            \(response(100, "Trying"))
            \(response(code, reason))
            <recv request="ACK"/>
            """)
    }

    /// Callee: rings and never answers; expects CANCEL (caller gave up, or ring timeout).
    static let calleeRingsUntilCancel = calleeWaitsForCancel(180, "Ringing")

    /// Callee: answers `code` (a provisional) and nothing more; expects CANCEL.
    static func calleeWaitsForCancel(_ code: Int, _ reason: String) -> String {
        document(
            "callee waits for a cancel",
            """
            \(calleeRecvInvite(capture: true))
            \(response(code, reason))
            <recv request="CANCEL"/>
            <send>
              <![CDATA[
            SIP/2.0 200 OK
            [last_Via:]
            [last_From:]
            [last_To:];tag=[pid]callee[call_number]
            [last_Call-ID:]
            [last_CSeq:]
            Content-Length: 0

              ]]>
            </send>
            <send>
              <![CDATA[
            SIP/2.0 487 Request Terminated
            [last_Via:]
            [last_From:]
            [last_To:];tag=[pid]callee[call_number]
            [last_Call-ID:]
            CSeq: [$invite_cseq] INVITE
            Content-Length: 0

              ]]>
            </send>
            <recv request="ACK"/>
            """)
    }

    /// Callee: answers, then checks the hold and resume re-INVITEs and the INFO CallTrack carries over.
    static let calleeSeesHoldAndResume = document(
        "callee sees hold and resume",
        """
        \(calleeRecvInvite())
        \(response(180, "Ringing"))
        \(response(200, "OK", sdpBody: sdp()))
        <recv request="ACK" crlf="true"/>
        \(playAudio())
        <recv request="INVITE">
          <action><ereg regexp="a=sendonly" search_in="body" check_it="true" assign_to="hold"/></action>
        </recv>
        \(touch("hold"))
        \(okInDialog(sdpBody: sdp(direction: "recvonly")))
        <recv request="ACK"/>
        <recv request="INVITE">
          <action><ereg regexp="a=sendrecv" search_in="body" check_it="true" assign_to="resume"/></action>
        </recv>
        \(touch("resume"))
        \(okInDialog(sdpBody: sdp(direction: "sendrecv")))
        <recv request="ACK"/>
        <recv request="INFO">
          <action><ereg regexp="Signal=5" search_in="body" check_it="true" assign_to="digit"/></action>
        </recv>
        \(touch("digit"))
        \(okInDialog())
        \(answerBye)
        """)
}
