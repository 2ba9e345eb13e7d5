import CLibre
import CallTrackCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The telephony service: runs the B2BUA on libre's thread for the life of the process.
///
/// On graceful shutdown new INVITEs get 503, active calls get `sip.drain_seconds` to end by
/// themselves, then CallTrack hangs up the rest and finishes the event stream.
public final class SIPEngine: Service {
    /// The switchboard lives on libre's thread: this type reaches it only through `loop.submit`.
    private let loop: LibreLoop<SwitchBoard>
    private let makeBoard: @Sendable () throws -> SwitchBoard
    private let events: CallEventBus
    private let statistics: CallStatistics
    private let drainSeconds: Int
    private let logger: Logger

    private let recorder: any CallRecorder
    /// The media relay's threads: started before SIP, stopped after it.
    private let relayThreads: RelayThreads
    private let listening = Atomic<Bool>(false)
    private let drainingNow = Atomic<Bool>(false)

    /// True once SIP listens, until shutdown begins: what `/healthz` reports.
    public var isReady: Bool { listening.load(ordering: .relaxed) }
    /// True from the start of shutdown: calls in progress may finish, new ones are refused.
    public var isDraining: Bool { drainingNow.load(ordering: .relaxed) }

    /// `attributor` says who is calling a tracking number; `recorder` records the calls of projects that record.
    /// `callerHistory`, when given, tells the business's PBX whether the caller is new (looked up while the call is
    /// routed).
    public init(
        config: CallTrackConfig, router: CallRouter, events: CallEventBus, statistics: CallStatistics,
        recorder: any CallRecorder, attributor: any CallAttributor, callerHistory: (any CallerHistory)? = nil,
        logger: Logger
    ) {
        let loop = LibreLoop<SwitchBoard>()
        self.loop = loop
        self.recorder = recorder
        let relayThreads = RelayThreads(count: config.sip.relayThreads, recorder: recorder)
        self.relayThreads = relayThreads
        let listen = config.sip.listen
        let bound = listen[0].address.host
        let advertised = config.sip.advertisedAddress ?? (bound == "0.0.0.0" || bound == "::" ? "127.0.0.1" : bound)
        let contact: String
        if advertised != bound {
            let first = listen[0]
            let host = advertised.contains(":") ? "[\(advertised)]" : advertised
            contact = "sip:calltrack@\(host):\(first.address.port)" + (first.transport == .tcp ? ";transport=tcp" : "")
        } else {
            contact = "calltrack"
        }
        let settings = SwitchBoard.Settings(
            listen: listen, advertisedAddress: advertised, rtpBindAddress: bound, rtpPorts: config.sip.rtpPorts,
            rtpTimeoutSeconds: config.sip.rtpTimeoutSeconds, userAgent: config.sip.userAgent, contactUser: contact,
            untrusted: config.sip.untrusted, maxRequestsPerSecondPerSource: config.sip.maxRequestsPerSecondPerSource,
            mediaLatching: config.sip.mediaLatching, frontProxies: config.sip.frontProxies)
        let callCount = CallCount()
        self.callCount = callCount
        makeBoard = {
            let services = CallServices(
                settings: settings, events: events, recorder: recorder, attributor: attributor, statistics: statistics,
                mediaPolicy: MediaAddressPolicy(
                    ownAddresses: [settings.advertisedAddress, settings.rtpBindAddress], rtpPorts: settings.rtpPorts,
                    sipPorts: settings.listen.map(\.address.port)),
                callerLookup: CallerLookup(
                    history: callerHistory, attributor: attributor, backOnLoop: { job in loop.submit(job) },
                    late: LateAttribution(attributor: attributor, events: events, logger: logger)), logger: logger,
                loop: .current())
            let board = SwitchBoard(
                router: router, services: services, relayThreads: relayThreads, callCount: callCount)
            try board.open()
            return board
        }
        self.events = events
        self.statistics = statistics
        self.drainSeconds = config.sip.drainSeconds
        self.logger = logger
    }

    /// Calls currently up or being set up.
    public var activeCallCount: Int { callCount.value }
    private let callCount: CallCount

    public func run() async throws {
        Self.raiseFileLimit()
        signal(SIGPIPE, SIG_IGN)
        do {
            try await relayThreads.start(maxFileDescriptors: Self.maxFileDescriptors)
            try await loop.start(maxFileDescriptors: Self.maxFileDescriptors, make: makeBoard)
        } catch {
            await relayThreads.stop()
            events.finish()
            throw error
        }
        listening.store(true, ordering: .relaxed)
        var cancelled = false
        do { try await gracefulShutdown() } catch { cancelled = true }
        drainingNow.store(true, ordering: .relaxed)
        listening.store(false, ordering: .relaxed)

        loop.submit { $0.startDraining() }
        // Calls get `drain_seconds` to end by themselves: the wait ends the moment the last one does.
        if !cancelled, await !callCount.waitUntilNone(atMost: .seconds(drainSeconds)) {
            logger.info("hanging up calls still active after drain", metadata: ["calls": "\(activeCallCount)"])
        }
        loop.submit { $0.hangUpAll() }
        // Every call is freed (its BYE or CANCEL handed to libre) a loop turn after it is hung up.
        _ = await callCount.waitUntilNone(atMost: .seconds(2))
        // The network gets a moment for those requests' answers (and a CANCEL that libre holds until
        // the callee's first provisional response), not the transactions' whole 32 s.
        try? await Task.sleep(for: .milliseconds(300))
        // Jobs run in order: the loop stops after the board has closed.
        loop.submit { $0.close() }
        await loop.stop()
        // The relay threads close the last calls' sockets and hand over their recordings first.
        await relayThreads.stop()
        // The last recordings are finalised on the recorder's queue: wait for them before ending the stream.
        await recorder.waitUntilIdle()
        events.finish()
    }

    /// libre's fd table size: a relayed call uses four sockets, plus SIP TCP connections.
    static let maxFileDescriptors: Int32 = 32768

    /// Raises the process's file descriptor limit toward libre's table size; returns the limit now in force.
    @discardableResult public static func raiseFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        // libre's fd table has `maxFileDescriptors` entries: a descriptor numbered higher cannot be
        // used for SIP or RTP, so the limit goes to exactly that (HTTP's cap is derived from it).
        let want = rlim_t(maxFileDescriptors)
        if limit.rlim_cur != want {
            limit.rlim_cur = min(want, limit.rlim_max)
            _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
        _ = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        return Int(min(limit.rlim_cur, rlim_t(Int32.max)))
    }
}
