import Foundation

/// An IPv4 or IPv6 address in binary form.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]
    public let text: String
    public var isIPv6: Bool { bytes.count == 16 }
    public var description: String { text }

    /// What per-address limits count by: the address, or for IPv6 its /64 (one subscriber's
    /// network hands out as many addresses as it likes).
    public var limitKey: String {
        guard isIPv6 else { return text }
        return Hex.bytes(bytes.prefix(8)) + "::/64"
    }

    /// The bytes per-address limits count by (see `limitKey`).
    public var limitBytes: ArraySlice<UInt8> { isIPv6 ? bytes.prefix(8) : bytes[...] }

    /// The same address written two ways (`::1`, `0::1`) is one address.
    public static func == (a: IPAddress, b: IPAddress) -> Bool { a.bytes == b.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }

    public init?(_ text: String) {
        var t = text
        if t.hasPrefix("[") && t.hasSuffix("]") { t = String(t.dropFirst().dropLast()) }
        var v4 = in_addr()
        if inet_pton(AF_INET, t, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
            self.text = t
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, t, &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
            self.text = t
            return
        }
        return nil
    }
}

/// An address block like `192.0.2.0/24`; a bare address means just that host.
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    public let network: IPAddress
    public let prefixLength: Int
    public var description: String { "\(network)/\(prefixLength)" }

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let addr = IPAddress(String(parts[0])) else { return nil }
        let maxBits = addr.bytes.count * 8
        if parts.count == 2 {
            guard let bits = Int(parts[1]), (0...maxBits).contains(bits) else { return nil }
            prefixLength = bits
        } else {
            prefixLength = maxBits
        }
        network = addr
    }

    public func contains(_ address: IPAddress) -> Bool {
        var candidate = address.bytes
        // IPv4-mapped IPv6 (::ffff:a.b.c.d) matches IPv4 blocks.
        if network.bytes.count == 4, candidate.count == 16, candidate[0..<10].allSatisfy({ $0 == 0 }),
            candidate[10] == 0xff, candidate[11] == 0xff
        {
            candidate = Array(candidate[12...])
        }
        guard candidate.count == network.bytes.count else { return false }
        var bits = prefixLength
        for i in 0..<candidate.count where bits > 0 {
            let take = min(8, bits)
            let mask: UInt8 = take == 8 ? 0xff : ~(0xff >> UInt8(take))
            if candidate[i] & mask != network.bytes[i] & mask { return false }
            bits -= take
        }
        return true
    }
}

/// `HOST:PORT`, with IPv6 hosts in brackets.
public struct HostPort: Sendable, Equatable, ConfigText {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
    public init(configText text: String, key: String) throws { self = try Self.parse(text, key: key) }
    public var configText: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public static func parse(_ text: String, key: String) throws -> HostPort {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port)
        else { throw ConfigError(key: key, "\"\(text)\" must be HOST:PORT, like 127.0.0.1:8080") }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard IPAddress(host) != nil || host == "localhost" else {
            throw ConfigError(key: key, "\"\(host)\" must be an IP address")
        }
        return HostPort(host: host == "localhost" ? "127.0.0.1" : host, port: port)
    }
}

/// One `sip.listen` entry: `udp:HOST:PORT` or `tcp:HOST:PORT`.
public struct SIPListenAddress: Sendable, Equatable, ConfigText {
    public enum Transport: String, Sendable { case udp, tcp }
    public let transport: Transport
    public let address: HostPort

    public init(transport: Transport, address: HostPort) {
        self.transport = transport
        self.address = address
    }
    public init(configText text: String, key: String) throws { self = try Self.parse(text, key: key) }
    public var configText: String { "\(transport.rawValue):\(address.configText)" }

    public static func parse(_ text: String, key: String) throws -> SIPListenAddress {
        guard let colon = text.firstIndex(of: ":"), let transport = Transport(rawValue: text[..<colon].lowercased())
        else { throw ConfigError(key: key, "\"\(text)\" must start with udp: or tcp:, like udp:127.0.0.1:5060") }
        let address = try HostPort.parse(String(text[text.index(after: colon)...]), key: key)
        return SIPListenAddress(transport: transport, address: address)
    }
}

/// Enough of a SIP URI to validate configuration: `sip:[user@]host[:port][;params]`.
public struct SIPURI: Sendable, Equatable {
    public let user: String?
    public let host: String
    public let port: Int?

    public init?(_ text: String) {
        let lower = text.lowercased()
        guard lower.hasPrefix("sip:") || lower.hasPrefix("sips:") else { return nil }
        var rest = Substring(text[text.index(after: text.firstIndex(of: ":")!)...])
        if let semi = rest.firstIndex(of: ";") { rest = rest[..<semi] }
        if let q = rest.firstIndex(of: "?") { rest = rest[..<q] }
        if let at = rest.lastIndex(of: "@") {
            let u = String(rest[..<at])
            guard !u.isEmpty, !u.contains(where: { $0 == " " || $0 == "<" || $0 == ">" }) else { return nil }
            user = u
            rest = rest[rest.index(after: at)...]
        } else {
            user = nil
        }
        var hostPart = String(rest)
        var portValue: Int?
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { return nil }
            let after = hostPart[hostPart.index(after: close)...]
            if after.hasPrefix(":") {
                portValue = Int(after.dropFirst())
                if portValue == nil { return nil }
            } else if !after.isEmpty {
                return nil
            }
            hostPart = String(hostPart[hostPart.index(after: hostPart.startIndex)..<close])
        } else if let colon = hostPart.lastIndex(of: ":") {
            guard let p = Int(hostPart[hostPart.index(after: colon)...]) else { return nil }
            portValue = p
            hostPart = String(hostPart[..<colon])
        }
        if let p = portValue, !(1...65535).contains(p) { return nil }
        let hostChars = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:")
        guard !hostPart.isEmpty, hostPart.allSatisfy({ hostChars.contains($0) }) else { return nil }
        host = hostPart
        port = portValue
    }
}

extension CIDR: ConfigText {
    public init(configText text: String, key: String) throws {
        guard let cidr = CIDR(text) else {
            throw ConfigError(key: key, "\"\(text)\" is not a CIDR like 192.0.2.0/24 or an IP address")
        }
        self = cidr
    }
    public var configText: String { description }
}

/// A configuration value written as one string (`udp:127.0.0.1:5060`, `10.0.0.0/8`): decoding
/// parses it once, and a string that does not parse fails the start naming its key.
public protocol ConfigText: Codable {
    init(configText: String, key: String) throws
    var configText: String { get }
}

extension ConfigText {
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(configText: text, key: ConfigError.path(decoder.codingPath))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(configText)
    }
}
