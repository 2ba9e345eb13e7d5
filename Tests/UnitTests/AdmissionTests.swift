import CallTrackCore
import Foundation
import Testing

@testable import Telephony
@testable import Tracking

@Suite("Admission: what each SIP request gets") struct AdmissionTests {
    let target = ForwardingTarget(
        projectKey: "shop", did: PhoneNumber(e164: "+74990000001")!, uri: "sip:+74951234567@192.0.2.5", trunk: nil,
        ringTimeoutSeconds: 30, record: true)

    func newCall(_ edit: (inout Admission.Request) -> Void = { _ in }) -> Admission.Request {
        var r = Admission.Request(method: "INVITE", target: target)
        edit(&r)
        return r
    }

    func code(_ v: Admission.Verdict) -> UInt16? {
        if case .reply(let code, _, _, _) = v { return code }
        return nil
    }

    @Test func aTrustedINVITEForAKnownNumberIsRouted() {
        #expect(Admission.decide(newCall(), untrusted: .reject) == .route(target))
    }

    @Test func overRateIsDroppedBeforeAnythingElse() {
        let r = newCall {
            $0.trunkAdmits = false
            $0.overRate = true
            $0.malformed = .init("Missing To")
        }
        #expect(Admission.decide(r, untrusted: .reject) == .drop(.rateLimited))
    }

    @Test func strangersGetA403OrNothing() {
        let r = newCall { $0.trunkAdmits = false }
        #expect(code(Admission.decide(r, untrusted: .reject)) == 403)
        #expect(Admission.decide(r, untrusted: .drop) == .drop(.untrustedSource))
        // An ACK is never answered.
        var ack = r
        ack.method = "ACK"
        #expect(Admission.decide(ack, untrusted: .reject) == .drop(.untrustedSource))
    }

    @Test func malformedGets400UnlessItCannotBeAnsweredSafely() {
        #expect(code(Admission.decide(newCall { $0.malformed = .init("Missing To") }, untrusted: .reject)) == 400)
        #expect(
            code(Admission.decide(newCall { $0.malformed = .init("Too big", code: 413) }, untrusted: .reject)) == 413)
        #expect(
            Admission.decide(newCall { $0.malformed = .init("Via maddr", answerable: false) }, untrusted: .reject)
                == .drop(.malformed))
        // From a stranger under `drop`, malformed or not, nothing goes back.
        #expect(
            Admission.decide(
                newCall {
                    $0.trunkAdmits = false
                    $0.malformed = .init("x")
                }, untrusted: .drop) == .drop(.malformed))
    }

    @Test func inDialogRequestsPassOnlyFromTheLegsPeerOrATrunk() {
        let bye = Admission.Request(method: "BYE", inDialog: true, trunkAdmits: false, dialogPeer: true)
        #expect(Admission.decide(bye, untrusted: .reject) == .pass)
        var stranger = bye
        stranger.dialogPeer = false
        #expect(code(Admission.decide(stranger, untrusted: .reject)) == 403)
        var fromTrunk = stranger
        fromTrunk.trunkAdmits = true
        #expect(Admission.decide(fromTrunk, untrusted: .reject) == .pass)
    }

    @Test func aDialogPeerCannotStartANewCall() {
        let r = newCall {
            $0.trunkAdmits = false
            $0.dialogPeer = true
        }
        #expect(code(Admission.decide(r, untrusted: .reject)) == 403)
    }

    @Test func unsupportedExtensionsGet420NamingThem() {
        let v = Admission.decide(newCall { $0.unsupported = ["100rel", "timer"] }, untrusted: .reject)
        #expect(
            v
                == .reply(
                    code: 420, reason: "Bad Extension", headers: "Unsupported: 100rel, timer\r\n",
                    refusal: .badExtension))
        var cancel = newCall { $0.unsupported = ["100rel"] }
        cancel.method = "CANCEL"
        cancel.inDialog = true
        #expect(Admission.decide(cancel, untrusted: .reject) == .pass)
    }

    @Test func maxForwardsZeroGets483ButOptionsIsAnswered() {
        #expect(code(Admission.decide(newCall { $0.maxForwards = 0 }, untrusted: .reject)) == 483)
        #expect(Admission.decide(newCall { $0.maxForwards = nil }, untrusted: .reject) == .route(target))
        let options = Admission.Request(method: "OPTIONS", maxForwards: 0)
        #expect(Admission.decide(options, untrusted: .reject) == .pass)
    }

    @Test func newCallsNeedANodeThatIsUpNoLoopAKnownNumberAndUsableSDP() {
        #expect(code(Admission.decide(newCall { $0.draining = true }, untrusted: .reject)) == 503)
        #expect(code(Admission.decide(newCall { $0.loop = true }, untrusted: .reject)) == 482)
        #expect(code(Admission.decide(newCall { $0.target = nil }, untrusted: .reject)) == 404)
        #expect(code(Admission.decide(newCall { $0.badOffer = "multicast" }, untrusted: .reject)) == 488)
        // A retransmitted INVITE of a call that exists goes to libre's transaction, not to a new call.
        #expect(
            Admission.decide(
                newCall {
                    $0.inDialog = true
                    $0.dialogPeer = true
                }, untrusted: .reject) == .pass)
    }
}

@Suite("Message checks") struct MessageCheckTests {
    func check(_ edit: (inout MessageCheck) -> Void = { _ in }) -> Admission.Malformation? {
        var c = MessageCheck(
            method: "INVITE", callID: "a@b", fromURI: "sip:1@192.0.2.1", toURI: "sip:2@192.0.2.2", cseqMethod: "INVITE",
            viaSentBy: "192.0.2.1:5060", viaParams: ";branch=z9hG4bK1;rport", contentLength: "100", maxForwards: "70",
            bodyBytes: 100, trailingBlankBytes: 0, datagram: true)
        edit(&c)
        return c.malformation()
    }

    @Test func wellFormedPasses() {
        #expect(check() == nil)
        #expect(check { $0.contentLength = nil } == nil)
        // Blank bytes past Content-Length in a datagram are ignored (RFC 3261 18.3).
        #expect(
            check {
                $0.bodyBytes = 104
                $0.trailingBlankBytes = 4
            } == nil)
    }

    @Test func contentLengthMustBeDigitsAndFitTheDatagram() {
        #expect(check { $0.contentLength = "-5" }?.reason == "Bad Content-Length")
        #expect(check { $0.contentLength = "abc" }?.reason == "Bad Content-Length")
        #expect(check { $0.contentLength = "99999999999999999999" }?.reason == "Bad Content-Length")
        #expect(check { $0.contentLength = "2000" }?.reason == "Content-Length larger than the message")
        #expect(check { $0.contentLength = "20" }?.reason == "Content-Length smaller than the body")
        #expect(
            check {
                $0.contentLength = "20000"
                $0.bodyBytes = 20000
            }?.code == 413)
        // A stream is cut at Content-Length by libre; without one, a body cannot be framed.
        #expect(
            check {
                $0.datagram = false
                $0.contentLength = nil
            } == .init("Missing Content-Length"))
    }

    @Test func requiredHeaders() {
        #expect(check { $0.viaSentBy = "" }?.answerable == false)
        #expect(check { $0.viaParams = ";branch=z9hG4bK1;maddr=198.51.100.9" }?.answerable == false)
        #expect(check { $0.callID = "" }?.reason == "Missing Call-ID")
        #expect(check { $0.fromURI = "" }?.reason == "Missing or bad From")
        #expect(check { $0.toURI = "" }?.reason == "Missing or bad To")
        #expect(check { $0.cseqMethod = "" }?.reason == "Missing or bad CSeq")
        #expect(check { $0.cseqMethod = "BYE" }?.reason == "CSeq method does not match the request")
        #expect(check { $0.maxForwards = "x" }?.reason == "Bad Max-Forwards")
    }

    @Test func requireOptions() {
        #expect(MessageCheck.requiredOptions(nil).isEmpty)
        #expect(MessageCheck.requiredOptions(" 100rel , timer") == ["100rel", "timer"])
    }
}

@Suite("Front-door bookkeeping") struct FrontDoorTests {
    @Test func rateLimiterAllowsItsShareEachSecondThenStops() {
        var limiter = SourceRateLimiter(perSecond: 3)
        let a: [UInt8] = [192, 0, 2, 1], b: [UInt8] = [192, 0, 2, 2]
        var firstSecond: [Bool] = []
        for _ in 0..<5 { firstSecond.append(limiter.allow(a, nowMilliseconds: 10_000)) }
        #expect(firstSecond == [true, true, true, false, false])
        let other = limiter.allow(b, nowMilliseconds: 10_500)
        #expect(other)
        let nextSecond = limiter.allow(a, nowMilliseconds: 11_000)
        #expect(nextSecond, "a new second, a new share")
    }

    @Test func rateLimiterMemoryIsFixed() {
        var limiter = SourceRateLimiter(perSecond: 1, slots: 64)
        // A million spoofed sources cost the same 64 slots; each slot still refuses its second request.
        var refused = 0
        for i in 0..<1_000_000 {
            let source: [UInt8] = [10, UInt8(i >> 16 & 0xff), UInt8(i >> 8 & 0xff), UInt8(i & 0xff)]
            if !limiter.allow(source, nowMilliseconds: 5_000) { refused += 1 }
        }
        #expect(refused == 1_000_000 - 64)
    }

    @Test func refusalLogAggregatesAndNamesTheBusiestSources() {
        var log = RefusalLog(maxSources: 2)
        for _ in 0..<5 { log.add(.untrustedSource, source: "192.0.2.1") }
        log.add(.malformed, source: "192.0.2.2")
        log.add(.rateLimited, source: "192.0.2.3")
        let line = log.take()
        #expect(line?.total == 7)
        #expect(line?.byReason.hasPrefix("untrusted_source=5") == true)
        #expect(line?.topSources.contains("192.0.2.1=5") == true)
        #expect(line?.topSources.contains("1 requests from unnamed ones") == true)
        let again = log.take()
        #expect(again == nil, "taken lines reset the counts")
    }

    @Test func displayNamesKeepEveryWord() {
        #expect(DisplayName.parse("Bare Name <sip:1@192.0.2.1>;tag=x") == "Bare Name")
        #expect(DisplayName.parse("\"Quoted \\\"Q\\\" Name\" <sip:1@192.0.2.1>") == "Quoted \"Q\" Name")
        #expect(DisplayName.parse("<sip:1@192.0.2.1>;tag=x") == nil)
        #expect(DisplayName.parse("sip:1@192.0.2.1;tag=x") == nil)
        #expect(DisplayName.parse("  Multi   Space   Name <sip:1@h>") == "Multi Space Name")
        // Going out again between quotes, a caller's name cannot close them and add header text.
        #expect(DisplayName.quotedContent("a\" <sip:x@evil>;tag=1;\"") == "a\\\" <sip:x@evil>;tag=1;\\\"")
        #expect(DisplayName.quotedContent("back\\slash\u{1}") == "back\\\\slash")
    }

    @Test func sourceHeadersAreEncodedAndBounded() {
        let visit = Attribution(
            kind: .dynamic, source: "google", medium: "cpc", campaign: "tables", keyword: "стол 1+1")
        let lines = SourceHeaders.lines(callID: CallID("0123456789abcdef012345")!, attribution: visit)
        #expect(
            lines == "X-CallTrack-Call-ID: 0123456789abcdef012345\r\nX-CallTrack-Number-Kind: dynamic\r\n"
                + "X-CallTrack-Source: google\r\nX-CallTrack-Medium: cpc\r\nX-CallTrack-Campaign: tables\r\n"
                + "X-CallTrack-Keyword: %D1%81%D1%82%D0%BE%D0%BB%201%2B1\r\n")
        #expect(
            SourceHeaders.lines(callID: CallID("0123456789abcdef012345")!, attribution: nil, firstTime: true)
                == "X-CallTrack-Call-ID: 0123456789abcdef012345\r\nX-CallTrack-First-Time: yes\r\n")
        // A long value is cut at a whole character (never inside a %XX or a multi-byte letter).
        let long = SourceHeaders.encode(String(repeating: "д", count: 100))
        #expect(long.utf8.count == 252 && long.hasSuffix("%D0%B4"))
        let offline = Attribution(kind: .offline, channel: "billboard")
        #expect(
            SourceHeaders.lines(callID: CallID("0123456789abcdef012345")!, attribution: offline).contains(
                "X-CallTrack-Source: billboard\r\nX-CallTrack-Medium: offline\r\n"))
        #expect(SourceHeaders.displayName("Alice", attribution: visit) == "[google/cpc] Alice")
        #expect(SourceHeaders.displayName("", attribution: offline) == "[billboard/offline]")
        #expect(SourceHeaders.displayName("Alice", attribution: nil) == "Alice")
        #expect(
            SourceHeaders.displayName("Alice", attribution: .unattributed(.static, pool: "main")) == "[static] Alice")
    }

    @Test func perAddressLimitsCountAnIPv6ClientByItsSlash64() {
        #expect(IPAddress("192.0.2.7")?.limitKey == "192.0.2.7")
        #expect(IPAddress("2001:db8:1:2:aaaa::1")?.limitKey == IPAddress("2001:db8:1:2:bbbb::9")?.limitKey)
        #expect(IPAddress("2001:db8:1:2::1")?.limitKey != IPAddress("2001:db8:1:3::1")?.limitKey)
    }
}

@Suite("Media addresses and ports") struct MediaPolicyTests {
    let policy = MediaAddressPolicy(
        ownAddresses: ["203.0.113.10", "203.0.113.10"], rtpPorts: PortRange(min: 20000, max: 29999), sipPorts: [5060])

    @Test func refusesGroupsNamesAndItself() {
        #expect(policy.refusal(address: "198.51.100.7", port: 40000) == nil)
        #expect(policy.refusal(address: "0.0.0.0", port: 40000) == nil, "0.0.0.0 is hold: nothing is sent")
        #expect(policy.refusal(address: "224.0.0.1", port: 40000) != nil)
        #expect(policy.refusal(address: "239.255.255.250", port: 40000) != nil)
        #expect(policy.refusal(address: "255.255.255.255", port: 40000) != nil)
        #expect(policy.refusal(address: "0.1.2.3", port: 40000) != nil)
        #expect(policy.refusal(address: "ff02::1", port: 40000) != nil)
        #expect(policy.refusal(address: "media.example", port: 40000)?.contains("not an IP address") == true)
        #expect(policy.refusal(address: "203.0.113.10", port: 20002)?.contains("own sockets") == true)
        #expect(policy.refusal(address: "203.0.113.10", port: 30000) == nil, "CallTrack's host, not its ports")
        #expect(policy.refusal(address: "203.0.113.10", port: 5060) != nil)
    }

    @Test func loopbackIsAPeerOnlyWhenCallTrackServesOnLoopback() {
        #expect(policy.refusal(address: "127.0.0.1", port: 40000)?.contains("loopback") == true)
        let local = MediaAddressPolicy(
            ownAddresses: ["127.0.0.1"], rtpPorts: PortRange(min: 20000, max: 29999), sipPorts: [5060])
        #expect(local.refusal(address: "127.0.0.1", port: 40000) == nil)
    }

    @Test func aWildcardBindMakesLoopbackOwn() {
        let any = MediaAddressPolicy(
            ownAddresses: ["0.0.0.0"], rtpPorts: PortRange(min: 20000, max: 29999), sipPorts: [5060])
        #expect(any.refusal(address: "127.0.0.1", port: 20000) != nil)
        #expect(any.refusal(address: "127.0.0.1", port: 40000) != nil, "loopback is CallTrack's own host")
        #expect(any.isOwn(IPAddress("127.0.0.1")!, port: 20000))
        #expect(!any.isOwn(IPAddress("127.0.0.1")!, port: 40000))
    }

    @Test func portsComeOutUnpredictablyAndRestBeforeReuse() {
        let pool = RTPPortPool(min: 20000, max: 20999, quarantineMilliseconds: 5000)
        let taken = (0..<20).compactMap { _ in pool.take(now: 0) }
        #expect(taken.allSatisfy { $0 % 2 == 0 && (20000...20998).contains($0) })
        let sequential = zip(taken, taken.dropFirst()).filter { $1 == $0 + 2 }.count
        #expect(sequential < 5, "ports handed out in order: \(taken)")
        #expect(Set(taken).count == taken.count)
        // A released port waits out its quarantine while others are free.
        let small = RTPPortPool(min: 30000, max: 30005, quarantineMilliseconds: 5000)
        let a = small.take(now: 0)!, b = small.take(now: 0)!
        let c = Set([30000, 30002, 30004]).subtracting([Int(a), Int(b)]).first!
        small.release(a, now: 100)
        #expect(small.take(now: 200) == UInt16(c))
        small.release(b, now: 300)
        // Only quarantined ports left: the oldest is reused rather than refusing a call.
        #expect(small.take(now: 400) == a)
        #expect(small.take(now: 6000) == b)
        #expect(small.take(now: 6000) == nil)
    }
}

@Suite("X-CallTrack-Peer from a front proxy") struct ProxiedPeerTests {
    @Test("an IP literal with a port and a known transport is read; anything else is not") func reads() throws {
        let v4 = try #require(ProxiedPeer("203.0.113.7:5060;transport=udp"))
        #expect(v4.address == IPAddress("203.0.113.7") && v4.port == 5060 && v4.transport == "udp")
        let v6 = try #require(ProxiedPeer(" [2001:db8::5]:5080;transport=TCP "))
        #expect(v6.address == IPAddress("2001:db8::5") && v6.port == 5080 && v6.transport == "tcp")
        #expect(ProxiedPeer("198.51.100.1:5060")?.transport == "udp")
        for bad in [
            "", "carrier.example:5060", "203.0.113.7", "203.0.113.7:0", "203.0.113.7:70000", "2001:db8::5:5060",
            "[2001:db8::5]5060", "203.0.113.7:5060;transport=sctp", "203.0.113.7:5060;maddr=1.2.3.4",
            "203.0.113.7:5060, 198.51.100.1:5060", String(repeating: "1", count: 100),
        ] { #expect(ProxiedPeer(bad) == nil, "\(bad)") }
    }
}
