import CallTrackCore
import Foundation
import Storage
import Tracking

/// Cost rows from JSON (`{"rows": [...]}`) or CSV (`date,source,medium,campaign,keyword,amount`),
/// checked whole before anything is stored: a bad row is named with its field.
enum CostImport {
    /// `{"rows": [{"date", "source", "medium", "campaign", "keyword", "amount"}, …]}`.
    struct Body: Decodable {
        let rows: [Row]

        struct Row: Decodable {
            let cost: CostRow

            init(from decoder: Decoder) throws {
                let c = try decoder.container(keyedBy: Key.self)
                func text(_ key: Key) -> String? { (try? c.decodeIfPresent(String.self, forKey: key)) ?? nil }
                let amount = try? c.number(.amount, problem: "") { _ in true }
                cost = try CostImport.row(
                    date: text(.date), source: text(.source), medium: text(.medium), campaign: text(.campaign),
                    keyword: text(.keyword), amount: amount, at: RequestBody.field(decoder.codingPath))
            }

            enum Key: String, CodingKey { case date, source, medium, campaign, keyword, amount }
        }
    }

    static func csv(_ text: String) throws -> [CostRow] {
        var records = Self.records(text)
        let header = ["date", "source", "medium", "campaign", "keyword", "amount"]
        guard let first = records.first, first.map({ $0.lowercased() }) == header else {
            throw APIError.badRequest(field: "header", "the first line must be \(header.joined(separator: ","))")
        }
        records.removeFirst()
        return try records.enumerated().map { i, f in
            let at = "row \(i + 2)"
            guard f.count == header.count else {
                throw APIError.badRequest(field: at, "\(at) needs \(header.count) fields")
            }
            func opt(_ s: String) -> String? { s.isEmpty ? nil : s }
            return try row(
                date: f[0], source: f[1], medium: f[2], campaign: opt(f[3]), keyword: opt(f[4]), amount: Double(f[5]),
                at: at)
        }
    }

    /// CSV records (RFC 4180, as spreadsheets and ad platforms export them): a field in double quotes
    /// may hold commas, line breaks and doubled quotes; unquoted fields are trimmed; blank lines and
    /// a leading byte-order mark are skipped.
    static func records(_ text: String) -> [[String]] {
        var records: [[String]] = [], record: [String] = [], field = ""
        var inQuotes = false, quoted = false
        let chars = Array(text.hasPrefix("\u{FEFF}") ? text.dropFirst() : Substring(text))
        func endField() {
            record.append(quoted ? field : field.trimmingCharacters(in: .whitespaces))
            field = ""
            quoted = false
        }
        func endRecord() {
            endField()
            if record != [""] { records.append(record) }
            record = []
        }
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if inQuotes {
                if c == "\"" {
                    if i + 1 < chars.count, chars[i + 1] == "\"" {
                        field.append("\"")
                        i += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    field.append(c)
                }
            } else if c == "\"", field.allSatisfy(\.isWhitespace) {
                inQuotes = true
                quoted = true
                field = ""
            } else if c == "," {
                endField()
            } else if c.isNewline {
                endRecord()
            } else {
                field.append(c)
            }
            i += 1
        }
        if !field.isEmpty || !record.isEmpty || quoted { endRecord() }
        return records
    }

    static func row(
        date: String?, source: String?, medium: String?, campaign: String?, keyword: String?, amount: Double?,
        at: String
    ) throws -> CostRow {
        let day = /^\d{4}-\d{2}-\d{2}$/
        guard let date, date.wholeMatch(of: day) != nil else {
            throw APIError.badRequest(field: "\(at).date", "\(at): date must be like 2026-11-01")
        }
        guard let source, !source.isEmpty, source.count <= 256 else {
            throw APIError.badRequest(field: "\(at).source", "\(at): source is required")
        }
        guard let medium, !medium.isEmpty, medium.count <= 256 else {
            throw APIError.badRequest(field: "\(at).medium", "\(at): medium is required")
        }
        guard (campaign?.count ?? 0) <= 256, (keyword?.count ?? 0) <= 256 else {
            throw APIError.badRequest(field: "\(at).campaign", "\(at): campaign and keyword are at most 256 characters")
        }
        guard let amount, amount.isFinite, amount >= 0 else {
            throw APIError.badRequest(field: "\(at).amount", "\(at): amount must be a number, 0 or more")
        }
        return CostRow(date: date, source: source, medium: medium, campaign: campaign, keyword: keyword, amount: amount)
    }
}
