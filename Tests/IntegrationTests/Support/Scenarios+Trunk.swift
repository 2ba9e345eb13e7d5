/// sipp scenarios that play a trunk or registrar that asks CallTrack for credentials.
extension Scenario {
    /// Callee behind a trunk that demands digest auth: a 401 challenge, then checks the credentials
    /// (sipp verifies only the Authorization header, so the challenge is 401 rather than 407).
    static func calleeRequiresAuth(username: String, password: String) -> String {
        document(
            "callee requires digest auth",
            """
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
        document(
            "registrar",
            """
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
