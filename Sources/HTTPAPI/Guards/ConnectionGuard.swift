import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTPTypes
import Synchronization

/// The limits every HTTP connection lives under, so that no stranger can hold the node's file
/// descriptors: idle connections are closed, a request must arrive whole within a deadline, and
/// at most `maxConnections` are open at once.
public struct HTTPConnectionLimits: Sendable {
    public var maxConnections: Int
    /// A connection waiting for its next request (or its first) is closed after this long.
    public var idleTimeout: TimeAmount
    /// From a request's first byte to its last (head and body): slow senders are cut off.
    public var requestTimeout: TimeAmount

    public init(maxConnections: Int, idleTimeout: TimeAmount, requestTimeout: TimeAmount) {
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
    }
}

/// Every open HTTP connection, shared by all event loops.
///
/// At the cap a new connection does not wait behind the old ones: the connection idle the longest
/// is closed to make room (then the longest-running slow request), so a flood of idle or slow
/// connections cannot lock out a real client. Only when every connection is busy answering is
/// the newcomer turned away.
public final class HTTPConnectionRegistry: Sendable {
    enum Phase: Sendable { case idle, reading, responding }
    private struct Entry {
        let channel: any Channel
        var phase: Phase
        var since: NIODeadline
    }
    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var evicted = 0
        var refused = 0
    }

    public let limits: HTTPConnectionLimits
    private let state = Mutex(State())

    public init(limits: HTTPConnectionLimits) { self.limits = limits }

    public var openConnections: Int { state.withLock { $0.entries.count } }
    /// Connections closed to make room, and newcomers turned away, since start.
    public var evictedConnections: Int { state.withLock { $0.evicted } }
    public var refusedConnections: Int { state.withLock { $0.refused } }

    /// Registers a new connection; false when it must be closed instead.
    func open(_ id: ObjectIdentifier, channel: any Channel) -> Bool {
        let victim: (any Channel)? = state.withLock { s in
            var victim: (any Channel)?
            if s.entries.count >= limits.maxConnections {
                let order: [Phase] = [.idle, .reading]
                for phase in order {
                    if let oldest = s.entries.filter({ $0.value.phase == phase }).min(by: {
                        $0.value.since < $1.value.since
                    }) {
                        victim = oldest.value.channel
                        s.entries.removeValue(forKey: oldest.key)
                        s.evicted += 1
                        break
                    }
                }
                guard victim != nil else {
                    s.refused += 1
                    return nil
                }
            }
            s.entries[id] = Entry(channel: channel, phase: .idle, since: .now())
            return victim
        }
        if let victim {
            victim.close(promise: nil)
            return true
        }
        return state.withLock { $0.entries[id] != nil }
    }

    func update(_ id: ObjectIdentifier, _ phase: Phase) {
        state.withLock { s in
            guard s.entries[id] != nil else { return }
            s.entries[id]!.phase = phase
            s.entries[id]!.since = .now()
        }
    }

    func close(_ id: ObjectIdentifier) { _ = state.withLock { $0.entries.removeValue(forKey: id) } }

    /// The per-connection handlers Hummingbird adds after HTTP decoding.
    public func channelHandlers() -> [any RemovableChannelHandler] { [HTTPConnectionGuard(registry: self)] }
}

/// Watches one connection: its deadlines, its place in the registry, and closes it after
/// answering 413 (rather than reading a body it refused to the end).
///
/// There is always a deadline: waiting for a request, `idleTimeout`; from a request's first byte to
/// its last, `requestTimeout`; while the answer is being produced and written, `idleTimeout` from
/// the last write (a response nobody reads stalls, and is cut off).
final class HTTPConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let registry: HTTPConnectionRegistry
    private var phase = HTTPConnectionRegistry.Phase.idle
    /// The answer went out whole while its request was still arriving (an early 401, 404 or 413).
    private var answeredEarly = false
    private var deadline: Scheduled<Void>?
    private var closeAfterResponse = false
    private var id: ObjectIdentifier { ObjectIdentifier(self) }

    init(registry: HTTPConnectionRegistry) { self.registry = registry }

    func handlerAdded(context: ChannelHandlerContext) {
        // Bytes are seen before they form a request head: a request's clock starts at its first byte.
        let watcher = FirstByteWatcher { [weak self] context in self?.bytesArrived(context) }
        try? context.pipeline.syncOperations.addHandler(watcher, position: .first)
        guard registry.open(id, channel: context.channel) else {
            context.close(promise: nil)
            return
        }
        startDeadline(context, after: registry.limits.idleTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        registry.close(id)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        registry.close(id)
        context.fireChannelInactive()
    }

    fileprivate func bytesArrived(_ context: ChannelHandlerContext) {
        guard phase == .idle else { return }
        enter(.reading, context, deadline: registry.limits.requestTimeout)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) {
            if answeredEarly {
                answeredEarly = false
                enter(.idle, context, deadline: registry.limits.idleTimeout)
            } else {
                enter(.responding, context, deadline: registry.limits.idleTimeout)
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
        if case .head(let head) = part, head.status == .contentTooLarge { closeAfterResponse = true }
        guard case .end = part else {
            // Each part written restarts the answer's deadline; a request still arriving keeps its own.
            if phase == .responding { startDeadline(context, after: registry.limits.idleTimeout) }
            context.write(data, promise: promise)
            return
        }
        if closeAfterResponse {
            context.writeAndFlush(data, promise: promise)
            context.close(promise: nil)
            return
        }
        context.write(data, promise: promise)
        switch phase {
        case .responding: enter(.idle, context, deadline: registry.limits.idleTimeout)
        case .reading: answeredEarly = true  // the rest of the request must still arrive in time
        case .idle: break
        }
    }

    private func enter(
        _ next: HTTPConnectionRegistry.Phase, _ context: ChannelHandlerContext, deadline delay: TimeAmount
    ) {
        phase = next
        registry.update(id, next)
        startDeadline(context, after: delay)
    }

    private func startDeadline(_ context: ChannelHandlerContext, after delay: TimeAmount) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: delay) { channel.close(promise: nil) }
    }
}

/// Sits first in the pipeline and reports raw bytes arriving, before HTTP decoding.
private final class FirstByteWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let arrived: (ChannelHandlerContext) -> Void

    init(_ arrived: @escaping (ChannelHandlerContext) -> Void) { self.arrived = arrived }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        arrived(context)
        context.fireChannelRead(data)
    }
}
