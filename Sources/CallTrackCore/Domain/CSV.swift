import Foundation

/// The CSV CallTrack writes (exports, the report as CSV, Metrica's uploads): RFC 4180, and safe to open
/// in a spreadsheet.
public enum CSV {
    /// One field of a row: CallTrack's own value (a number, a time, a number from the configuration),
    /// written as it is; or text from outside (a visitor's tags and pages, a caller, an ad platform),
    /// which a spreadsheet must show as text, never run as a formula.
    public enum Field: Sendable, Equatable, ExpressibleByStringLiteral {
        case own(String)
        case outside(String)

        public init(stringLiteral value: String) { self = .own(value) }
    }

    public static func line(_ fields: [Field]) -> String {
        fields.map { field in
            switch field {
            case .own(let text): quoted(text)
            case .outside(let text): quoted(defused(text))
            }
        }.joined(separator: ",")
    }

    /// A header or any row of CallTrack's own values.
    public static func line(_ fields: [String]) -> String { line(fields.map(Field.own)) }

    /// Text a spreadsheet would read as a formula (it begins with `=`, `+`, `-`, `@`, a tab or a carriage
    /// return) gets a leading apostrophe, which shows it as text (OWASP's advice on CSV injection).
    static func defused(_ text: String) -> String {
        guard let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) else { return text }
        return "'" + text
    }

    /// In quotes, its quotes doubled, when it holds a comma, a quote or a line break (a lone `\r` too:
    /// scalars are looked at, since `"\r\n"` is one `Character`).
    static func quoted(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" }) else {
            return text
        }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
