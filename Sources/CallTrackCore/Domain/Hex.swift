/// Lowercase hexadecimal, the one way CallTrack writes ids, tokens, tags and digests.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// `value` zero-padded to `width` digits (its low `width` digits when longer).
    public static func fixed(_ value: UInt64, width: Int = 16) -> String {
        var out = [UInt8](repeating: UInt8(ascii: "0"), count: width)
        var v = value
        for i in stride(from: width - 1, through: 0, by: -1) where v != 0 {
            out[i] = digits[Int(v & 15)]
            v >>= 4
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Two digits per byte.
    public static func bytes<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes { out += [digits[Int(byte >> 4)], digits[Int(byte & 15)]] }
        return String(decoding: out, as: UTF8.self)
    }

    /// `words` × 64 bits from the system's random generator (16 digits each).
    public static func random(words: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<words).map { _ in fixed(generator.next()) }.joined()
    }
}
