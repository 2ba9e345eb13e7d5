import Foundation

/// A phone number in E.164 form, as CallTrack keys tracking numbers.
///
/// Carriers send the same DID in several shapes: `74990000001`, `84990000001` and
/// `+74990000001` are one Russian number. `normalise` maps them all to `+74990000001`.
public struct PhoneNumber: Hashable, Sendable, CustomStringConvertible, Codable {
    /// `+` followed by the country code and national number.
    public let e164: String
    public var description: String { e164 }

    public init?(e164: String) {
        guard e164.hasPrefix("+"), e164.count >= 5, e164.count <= 16, e164.dropFirst().allSatisfy(\.isASCIIDigit) else {
            return nil
        }
        self.e164 = e164
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let number = PhoneNumber(e164: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not E.164"))
        }
        self = number
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(e164)
    }

    /// Reads a dialled or configured number; nil when it cannot be a phone number.
    public static func normalise(_ raw: String, numbering: NumberingConfig) -> PhoneNumber? {
        var text = raw.trimmingCharacters(in: .whitespaces)
        // A tel: or sip user part may carry parameters (";npdi", ";phone-context=...").
        if let semi = text.firstIndex(of: ";") { text = String(text[..<semi]) }
        let plus = text.hasPrefix("+")
        let allowed = Set("0123456789+-() .")
        guard !text.isEmpty, text.allSatisfy({ allowed.contains($0) }) else { return nil }
        let digits = text.filter(\.isASCIIDigit)
        guard !digits.isEmpty else { return nil }
        if plus { return PhoneNumber(e164: "+" + digits) }
        if digits.hasPrefix("00") { return PhoneNumber(e164: "+" + digits.dropFirst(2)) }
        let national = numbering.nationalNumberLength
        if digits.count == national { return PhoneNumber(e164: "+" + numbering.countryCode + digits) }
        if !numbering.trunkPrefix.isEmpty, digits.count == national + numbering.trunkPrefix.count,
            digits.hasPrefix(numbering.trunkPrefix)
        {
            return PhoneNumber(e164: "+" + numbering.countryCode + digits.dropFirst(numbering.trunkPrefix.count))
        }
        if digits.count == national + numbering.countryCode.count, digits.hasPrefix(numbering.countryCode) {
            return PhoneNumber(e164: "+" + digits)
        }
        // Anything else with enough digits is taken as already international.
        return digits.count >= 8 ? PhoneNumber(e164: "+" + digits) : nil
    }
}

extension Character {
    /// 0–9 only (`isNumber` also accepts other scripts' digits).
    public var isASCIIDigit: Bool { self >= "0" && self <= "9" }
}
