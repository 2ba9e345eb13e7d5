import Foundation

extension String {
    /// UTF-8 percent-encoded so that only RFC 3986's unreserved ASCII characters stay as they are:
    /// safe in a query string, a URL and a SIP header value.
    public var percentEncodedUnreserved: String { addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? "" }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
