import CallTrackCore
import Foundation
import Storage

/// Yandex Metrica's offline calls upload: the rows of the calls ended since the last upload, as one
/// CSV file in the multipart field `file` (the same rows as `GET …/exports/metrica-calls.csv`).
enum MetricaUpload {
    /// The CSV line a call adds to an upload; stored in the outbox, so that a retry sends the same row.
    static func row(_ call: ExportCall) -> Data? { call.metricaRow.map { Data(CSV.line($0).utf8) } }

    static func body(rows: [Data], boundary: String) -> Data {
        var body = Data("--\(boundary)\r\n".utf8)
        body.append(Data("Content-Disposition: form-data; name=\"file\"; filename=\"calls.csv\"\r\n".utf8))
        body.append(Data("Content-Type: text/csv; charset=utf-8\r\n\r\n".utf8))
        body.append(Data((CSV.line(ExportCall.metricaHeader) + "\r\n").utf8))
        for row in rows {
            body.append(row)
            body.append(Data("\r\n".utf8))
        }
        body.append(Data("--\(boundary)--\r\n".utf8))
        return body
    }

    /// A boundary no row can contain: rows are CSV of a call's fields, and this is random.
    static func boundary() -> String {
        var g = SystemRandomNumberGenerator()
        return "calltrack-" + String(g.next() as UInt64, radix: 36) + String(g.next() as UInt64, radix: 36)
    }
}
