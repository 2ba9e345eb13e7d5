import CallTrackCore
import Foundation
import Hummingbird
import Storage

/// `GET /v1/calls/{id}/recording` (admin): the call's WAV, with byte ranges so browsers can seek.
///
/// The file is found through the call record, never from the id: the id is validated as a
/// call id and the stored path must stay inside `storage.recordings`.
///
/// With several nodes, a recording this node does not have is asked once of the node that took the call.
struct RecordingController<Context: RequestContext>: Sendable {
    let calls: any CallRepository
    let root: String
    let cluster: ClusterMembership?
    let fileIO = FileIO()

    init(calls: any CallRepository, recordingsFolder: String, cluster: ClusterMembership? = nil) {
        self.calls = calls
        self.cluster = cluster
        root = URL(fileURLWithPath: recordingsFolder).standardizedFileURL.path
    }

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("calls/:id/recording", use: download)
        group.head("calls/:id/recording", use: download)
    }

    @Sendable func download(_ request: Request, context: Context) async throws -> Response {
        guard let raw = context.parameters.get("id"), let id = CallID(raw), let record = try await calls.call(id: id)
        else { throw APIError.notFound("no call with this id") }
        guard let info = record.recording, let relative = info.path,
            [.recorded, .interrupted, .failed].contains(info.status)
        else {
            let why = record.recording?.reason.map { ": \($0)" } ?? ""
            throw APIError.notFound("this call has no recording\(why)")
        }
        let path = URL(fileURLWithPath: root).appendingPathComponent(relative).standardizedFileURL.path
        guard path.hasPrefix(root + "/") else {
            throw APIError.notFound("the recording file is gone (deleted or moved)")
        }
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else {
            if let cluster, let owner = record.node, owner != cluster.nodeID {
                return try await RecordingPeer(cluster: cluster).fetch(request, from: owner)
            }
            throw APIError.notFound("the recording file is gone (deleted or moved)")
        }
        var headers: HTTPFields = [
            .contentType: "audio/wav", .acceptRanges: "bytes",
            .contentDisposition: "inline; filename=\"\(id.rawValue).wav\"",
        ]
        var status = HTTPResponse.Status.ok
        var range = 0...(max(0, size - 1))
        if let header = request.headers[.range] {
            guard let r = ByteRange(header: header, size: size) else {
                headers[.contentRange] = "bytes */\(size)"
                throw APIError(
                    .rangeNotSatisfiable, code: "range_not_satisfiable",
                    message: "the range \(header) is outside the file's \(size) bytes")
            }
            range = r.range
            status = .partialContent
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
        }
        headers[.contentLength] = String(range.count)
        if request.method == .head || size == 0 { return Response(status: status, headers: headers, body: .init()) }
        let body = try await fileIO.loadFile(path: path, range: range, context: context)
        return Response(status: status, headers: headers, body: body)
    }
}

/// One `Range: bytes=…` request (RFC 9110); several ranges are served as the first.
struct ByteRange {
    let range: ClosedRange<Int>

    init?(header: String, size: Int) {
        let value = header.trimmingCharacters(in: .whitespaces)
        guard value.lowercased().hasPrefix("bytes="), size > 0 else { return nil }
        let spec = value.dropFirst(6).split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { return nil }
        // Positions past the end (even past Int.max) mean "to the end" (RFC 9110 14.1.2).
        func position(_ digits: String) -> Int? {
            guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit) else { return nil }
            return Int(digits) ?? Int.max
        }
        if parts[0].isEmpty {
            guard let suffix = position(parts[1]), suffix > 0 else { return nil }
            range = max(0, size - min(suffix, size))...(size - 1)
        } else {
            guard let start = position(parts[0]), start < size else { return nil }
            let end = parts[1].isEmpty ? size - 1 : position(parts[1]).map { min($0, size - 1) }
            guard let end, end >= start else { return nil }
            range = start...end
        }
    }
}
