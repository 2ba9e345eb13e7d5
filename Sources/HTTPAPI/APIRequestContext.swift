import Foundation
import Hummingbird
import NIOCore

/// The request context of CallTrack's routes: Hummingbird's basic one plus the peer address,
/// which the public reservation route rate-limits by, and the JSON encoder of every answer.
public struct APIRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The one encoder of every JSON answer (models are `ResponseEncodable`): keys sorted, slashes as they are.
    public var responseEncoder: JSONEncoder { Self.jsonEncoder() }

    /// Keys sorted, slashes as they are: also the encoder of webhook bodies.
    static func jsonEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
