import Hummingbird
import NIOCore

/// The request context of CallTrack's routes: Hummingbird's basic one plus the peer address,
/// which the public reservation route rate-limits by.
public struct APIRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
