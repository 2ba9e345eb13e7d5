import Foundation
import Synchronization

/// A call's id: 22 lowercase hex digits, time-ordered so that sorting by id is newest-last.
///
/// 12 digits of milliseconds since 1970, 4 of a per-process sequence, 6 random. It is
/// validated wherever it arrives from outside, so it can never smuggle a path or SQL.
public struct CallID: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let rawValue: String
    public var description: String { rawValue }

    public init?(_ text: String) {
        guard text.utf8.count == 22, text.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
            return nil
        }
        rawValue = text
    }

    private init(unchecked: String) { rawValue = unchecked }

    private static let sequence = Atomic<UInt32>(0)

    /// A fresh id for a call starting now.
    public static func next(at date: Date = Date()) -> CallID {
        let ms = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        let seq = sequence.wrappingAdd(1, ordering: .relaxed).oldValue & 0xffff
        let random = UInt32.random(in: 0..<0x100_0000)
        return CallID(
            unchecked: Hex.fixed(ms, width: 12) + Hex.fixed(UInt64(seq), width: 4) + Hex.fixed(UInt64(random), width: 6)
        )
    }

    public static func < (a: CallID, b: CallID) -> Bool { a.rawValue < b.rawValue }

    public init(from decoder: Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let id = CallID(s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a call id"))
        }
        self = id
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}
