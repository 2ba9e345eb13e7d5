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

    // MARK: Caller pieces

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

    static func inDialog(_ method: String, cseq: Int, body: String? = nil, contentType: String = "application/sdp") -> String {
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

    static let playAudio = playAudio(SIPp.audioPcap)

    static func playAudio(_ pcap: String) -> String {
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
    static let callerHangsUp = callerHangsUp(pcap: SIPp.audioPcap)

    static func callerHangsUp(pcap: String, sdpBody: String = sdp()) -> String {
        document("caller hangs up", """
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
    static let callerWaitsForBye = callerWaitsForBye(audio: true)

    static func callerWaitsForBye(audio: Bool) -> String {
        document("caller waits for BYE", """
            \(invite())
            \(provisional)
            <recv response="200" rrs="true"/>
            \(ack())
            \(audio ? playAudio : "")
            \(answerBye)
            """)
    }

    /// Caller: expects the call to fail with `code` after optional provisional responses.
    static func callerExpects(_ code: Int, withSDP: Bool = true) -> String {
        document("caller expects \(code)", """
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
    static let callerCancels = document("caller cancels", """
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
    static let callerHoldsAndResumes = document("caller holds and resumes", """
        \(invite())
        \(provisional)
        <recv response="200" rrs="true"/>
        \(ack())
        \(playAudio)
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
    static let callerDelayedOffer = document("caller delayed offer", """
        \(invite(withSDP: false))
        \(provisional)
        <recv response="200" rrs="true">
          <action><ereg regexp="m=audio [0-9]+ RTP/AVP 8" search_in="body" check_it="true" assign_to="offer"/></action>
        </recv>
        \(touch("offer"))
        \(ack(sdpBody: true))
        \(playAudio)
        <pause/>
        \(inDialog("BYE", cseq: 2))
        <recv response="200"/>
        """)

    static let options = document("options", """
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

    // MARK: Callee pieces

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
    static func calleeAnswers(ringMilliseconds: Int = 500, audio: Bool = true, sdpBody: String = sdp(),
                              pcap: String = SIPp.audioPcap) -> String {
        document("callee answers", """
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
    static let calleeEarlyMedia = document("callee early media", """
        \(calleeRecvInvite())
        \(response(183, "Session Progress", sdpBody: sdp()))
        \(playAudio)
        <pause milliseconds="500"/>
        \(response(200, "OK", sdpBody: sdp()))
        <recv request="ACK" crlf="true"/>
        \(answerBye)
        """)

    /// Callee: answers, then hangs up first after the -d pause.
    static let calleeHangsUp = document("callee hangs up", """
        \(calleeRecvInvite(capture: true))
        \(response(180, "Ringing"))
        <pause milliseconds="300"/>
        \(response(200, "OK", sdpBody: sdp()))
        <recv request="ACK" crlf="true"/>
        \(playAudio)
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
        document("callee rejects \(code)", """
            \(calleeRecvInvite())
            \(response(100, "Trying"))
            \(response(code, reason))
            <recv request="ACK"/>
            """)
    }

    /// Callee: rings and never answers; expects CANCEL (caller gave up, or ring timeout).
    static let calleeRingsUntilCancel = document("callee rings until cancelled", """
        \(calleeRecvInvite(capture: true))
        \(response(180, "Ringing"))
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

    /// Callee: answers, then checks the hold and resume re-INVITEs and the INFO CallTrack carries over.
    static let calleeSeesHoldAndResume = document("callee sees hold and resume", """
        \(calleeRecvInvite())
        \(response(180, "Ringing"))
        \(response(200, "OK", sdpBody: sdp()))
        <recv request="ACK" crlf="true"/>
        \(playAudio)
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

    // MARK: Trunk authentication

    /// Callee behind a trunk that demands digest auth: a 401 challenge, then checks the credentials
    /// (sipp verifies only the Authorization header, so the challenge is 401 rather than 407).
    static func calleeRequiresAuth(username: String, password: String) -> String {
        document("callee requires digest auth", """
            <recv request="INVITE"/>
            <send>
              <![CDATA[
            SIP/2.0 401 Unauthorized
            [last_Via:]
            [last_From:]
            [last_To:];tag=[pid]challenge[call_number]
            [last_Call-ID:]
            [last_CSeq:]
            WWW-Authenticate: Digest realm="trunk.test", nonce="8f3c2a7d", algorithm=MD5
            Content-Length: 0

              ]]>
            </send>
            <recv request="ACK"/>
            <recv request="INVITE">
              <action><verifyauth assign_to="authvalid" username="\(username)" password="\(password)"/></action>
            </recv>
            <nop hide="true" test="authvalid" next="good"/>
            \(response(403, "Forbidden"))
            <recv request="ACK" next="done"/>
            <label id="good"/>
            \(response(180, "Ringing"))
            \(response(200, "OK", sdpBody: sdp()))
            <recv request="ACK" crlf="true"/>
            \(answerBye)
            <label id="done"/>
            """)
    }

    /// A registrar that challenges the first REGISTER and accepts the authenticated one.
    static func registrar(username: String, password: String) -> String {
        document("registrar", """
            <recv request="REGISTER"/>
            <send>
              <![CDATA[
            SIP/2.0 401 Unauthorized
            [last_Via:]
            [last_From:]
            [last_To:];tag=[pid]reg[call_number]
            [last_Call-ID:]
            [last_CSeq:]
            WWW-Authenticate: Digest realm="trunk.test", nonce="5e1d9b0c", algorithm=MD5
            Content-Length: 0

              ]]>
            </send>
            <recv request="REGISTER">
              <action><verifyauth assign_to="authvalid" username="\(username)" password="\(password)"/></action>
            </recv>
            <nop hide="true" test="authvalid" next="good"/>
            \(response(403, "Forbidden"))
            <nop next="bad"/>
            <label id="good"/>
            <send>
              <![CDATA[
            SIP/2.0 200 OK
            [last_Via:]
            [last_From:]
            [last_To:];tag=[pid]reg[call_number]
            [last_Call-ID:]
            [last_CSeq:]
            [last_Contact:];expires=600
            Content-Length: 0

              ]]>
            </send>
            <nop next="end"/>
            <label id="bad"/>
            <recv request="REGISTER" timeout="100000"/>
            <label id="end"/>
            """)
    }
}
