import Foundation
import Metrics

/// What CallTrack counts as it happens, for the people who run it, through swift-metrics: the
/// backend the process bootstraps decides where it goes (Prometheus text on `/metrics` in
/// `calltrack serve`; nothing when none is bootstrapped, as in unit tests). Every name and label
/// is listed in docs/metrics.md; figures read at scrape time (gauges, process figures) are the
/// HTTP API's `MetricsSampler`.
public enum Telemetry {
    /// How far a call got before the first word from the callee, and before the answer.
    public enum SetupStage: String, Sendable { case ringing, answer }
    /// A reservation request's outcome: a new pool number, the live one renewed, or the static number.
    public enum ReservationKind: String, Sendable { case dynamic, renewed, `static` }

    /// Makes the series without labels exist at 0 from the start, so that rates and alerts have them
    /// before the first event (called once the backend is bootstrapped).
    public static func start() {
        for label in [
            "calltrack_media_timeouts_total", "calltrack_recordings_written_total", "calltrack_recordings_failed_total",
            "calltrack_recording_bytes_total",
        ] { Counter(label: label).increment(by: 0) }
    }

    public static func callStarted(project: String) {
        Counter(label: "calltrack_calls_started_total", dimensions: [("project", project)]).increment()
    }

    public static func callEnded(project: String, status: CallStatus) {
        Counter(label: "calltrack_calls_ended_total", dimensions: [("project", project), ("status", status.rawValue)])
            .increment()
    }

    /// From the caller's INVITE to the callee's first provisional response, or to the answer.
    public static func callSetup(_ stage: SetupStage, seconds: Double) {
        Timer(label: "calltrack_call_setup_seconds", dimensions: [("stage", stage.rawValue)]).recordNanoseconds(
            Int64(max(0, seconds) * 1e9))
    }

    /// An answered call ended because no media came for `sip.rtp_timeout_seconds`.
    public static func mediaTimeout() { Counter(label: "calltrack_media_timeouts_total").increment() }

    public static func recordingWritten(bytes: Int) {
        Counter(label: "calltrack_recordings_written_total").increment()
        Counter(label: "calltrack_recording_bytes_total").increment(by: Int64(max(0, bytes)))
    }

    public static func recordingFailed() { Counter(label: "calltrack_recordings_failed_total").increment() }

    public static func reservation(project: String, kind: ReservationKind) {
        Counter(label: "calltrack_reservations_total", dimensions: [("project", project), ("kind", kind.rawValue)])
            .increment()
    }

    /// A visitor got the static number because every number of the pool was held.
    public static func poolExhausted(project: String, pool: String) {
        Counter(label: "calltrack_pool_exhaustions_total", dimensions: [("project", project), ("pool", pool)])
            .increment()
    }

    /// A delivery attempt an endpoint did not take (it stays in the outbox and is retried).
    public static func deliveryFailed(endpoint: String) {
        Counter(label: "calltrack_delivery_failures_total", dimensions: [("endpoint", endpointLabel(endpoint))])
            .increment()
    }

    /// An outbox read or write that failed (`operation`: due, delivered, attempt failed, …); the
    /// log says why. A "delivered" that could not be written means that delivery goes again.
    public static func outboxError(operation: String) {
        Counter(label: "calltrack_outbox_errors_total", dimensions: [("operation", operation)]).increment()
    }

    /// What `/metrics`, which needs no token, may say of a delivery endpoint: its scheme, host and
    /// port. A webhook's path or query often is its secret, and e-mail addresses are personal; the
    /// admin API's delivery log has the whole endpoint.
    public static func endpointLabel(_ endpoint: String) -> String {
        if endpoint.hasPrefix("mailto:") { return "mailto" }
        guard let url = URLComponents(string: endpoint), let scheme = url.scheme, let host = url.host else {
            return "other"
        }
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let shownHost = bare.contains(":") ? "[\(bare)]" : bare
        return "\(scheme)://\(shownHost)" + (url.port.map { ":\($0)" } ?? "")
    }

    /// How long one batch of changes took to write to the database (`store`: which writer).
    public static func databaseBatch(store: String, seconds: Double) {
        Timer(label: "calltrack_db_batch_seconds", dimensions: [("store", store)]).recordNanoseconds(
            Int64(max(0, seconds) * 1e9))
    }

    /// Histogram buckets per timer, in seconds, for the backend.
    public static let buckets: [String: [Double]] = [
        "calltrack_call_setup_seconds": [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        "calltrack_db_batch_seconds": [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    ]
}
