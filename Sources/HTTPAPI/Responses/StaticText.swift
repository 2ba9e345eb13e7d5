import CallTrackCore
import Foundation
import HTTPTypes
import Hummingbird

/// A text served with an `ETag` (a fingerprint of its bytes: the same text has the same tag across
/// restarts and nodes), so that a browser revalidates it for nothing.
struct StaticText: Sendable {
    let text, etag: String

    init(_ text: String) {
        self.text = text
        // FNV-1a over the bytes.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        etag = "\"" + Hex.fixed(hash) + "\""
    }

    init(_ bytes: [UInt8]) { self.init(String(decoding: bytes, as: UTF8.self)) }

    /// The text, or 304 when the browser's `If-None-Match` names this version.
    static func response(
        _ asset: StaticText, contentType: String, cacheControl: String = "public, max-age=300", request: Request
    ) -> Response {
        let headers: HTTPFields = [.contentType: contentType, .eTag: asset.etag, .cacheControl: cacheControl]
        if let asked = request.headers[.ifNoneMatch],
            asked.split(separator: ",").contains(where: {
                let tag = $0.trimmingCharacters(in: .whitespaces)
                return tag == asset.etag || tag == "*"
            })
        {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: asset.text)))
    }
}
