/// The display name of a From or To header value, as a person would read it.
///
/// libre keeps only the last word of an unquoted name (`Bare Name <sip:…>` gives `Name`);
/// this reads the whole of it, and unescapes a quoted one.
enum DisplayName {
    static func parse(_ headerValue: String) -> String? {
        let value = headerValue.drop { $0 == " " || $0 == "\t" }
        if value.first == "\"" {
            var name = ""
            var escaped = false
            for c in value.dropFirst() {
                if escaped {
                    name.append(c)
                    escaped = false
                    continue
                }
                if c == "\\" {
                    escaped = true
                    continue
                }
                if c == "\"" { return name.isEmpty ? nil : name }
                name.append(c)
            }
            return nil  // no closing quote
        }
        guard let angle = value.firstIndex(of: "<") else { return nil }
        let name = value[..<angle].split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
        return name.isEmpty ? nil : name
    }

    /// `name` ready to go between the quotes of an outbound From (libre writes `"%s"`): quotes and
    /// backslashes escaped, control characters dropped, so a caller's name cannot add header text.
    static func quotedContent(_ name: String) -> String {
        var out = ""
        for scalar in name.unicodeScalars {
            switch scalar {
            case "\"", "\\":
                out += "\\"
                out.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || scalar.value == 0x7f: continue
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
