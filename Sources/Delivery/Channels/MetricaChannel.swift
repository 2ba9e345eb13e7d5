import AsyncHTTPClient
import CallTrackCore
import Foundation
import NIOCore
import Storage

/// Yandex Metrica's offline calls upload: every call ended since the last upload goes up as one CSV
/// file (the same rows as `GET …/exports/metrica-calls.csv`), at most once per upload interval.
struct MetricaChannel: HTTPDeliveryChannel {
    let endpoint, token: String
    let projects: Set<String>
    let attemptInterval: Double

    /// Calls in one upload at most.
    var batchLimit: Int { 1000 }
    var condition: DeliveryCondition { .metricaCanPlaceCall }

    func delivery(of event: DeliveryEvent, project: String) -> DeliveryEvent? {
        event == .callEnded && projects.contains(project) ? .metricaCall : nil
    }

    /// The CSV line the call adds to an upload; stored in the outbox, so that a retry sends the same row.
    func body(_ entry: OutboxEntry, from source: DeliverySource) async throws -> Data? {
        guard let id = entry.callID, let call = try await source.calls.exportCall(id: id) else { return nil }
        return call.metricaRow.map { Data(CSV.line($0).utf8) }
    }

    func request(for deliveries: [Delivery]) -> HTTPClientRequest {
        let boundary = Self.boundary()
        var request = HTTPClientRequest(url: endpoint)
        request.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
        request.headers.add(name: "Authorization", value: "OAuth \(token)")
        request.body = .bytes(ByteBuffer(bytes: Self.upload(rows: deliveries.map(\.body), boundary: boundary)))
        return request
    }

    /// The multipart body: the rows as the file `calls.csv` in the field `file`, under Metrica's header.
    static func upload(rows: [Data], boundary: String) -> Data {
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
