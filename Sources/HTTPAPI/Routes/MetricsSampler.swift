import CallTrackCore
import Foundation
import Prometheus
import Synchronization
import Tracking

/// `/metrics`: what the rest of CallTrack counts as it happens (through swift-metrics, into this
/// registry) plus the figures read when Prometheus asks: gauges of what is held now, counters kept
/// elsewhere as running totals, and the process figures Prometheus expects. docs/metrics.md lists them.
final class MetricsSampler: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let deps: APIDependencies
    /// The running totals already added to each counter read at scrape time.
    private let added = Mutex<[String: Double]>([:])
    /// Endpoints seen with a backlog: each keeps its series, at 0 once drained.
    private let endpoints = Mutex<Set<String>>([])
    private let startedAt = Date().timeIntervalSince1970
    /// The last text and when it was made.
    private let last = Mutex<(at: ContinuousClock.Instant, text: String)?>(nil)

    init(registry: PrometheusCollectorRegistry, deps: APIDependencies) {
        self.registry = registry
        self.deps = deps
    }

    /// The registry as Prometheus text, after reading the current figures into it. Anyone may ask
    /// (no token), so the figures are read at most five times a second and the text shared meanwhile.
    func text() async -> String {
        if let recent = last.withLock({ last in
            last.flatMap { ContinuousClock.now - $0.at < .milliseconds(200) ? $0.text : nil }
        }) {
            return recent
        }
        // The one figure read from storage, outside the lock (several scrapes at once may both read it).
        let backlog = try? await deps.outbox?.backlog()
        let pools = (try? await deps.numbers.poolUse(at: Date())) ?? []
        return last.withLock { last in
            if let last, ContinuousClock.now - last.at < .milliseconds(200) { return last.text }
            sample(backlog: backlog, pools: pools)
            let text = registry.emitToString()
            last = (ContinuousClock.now, text)
            return text
        }
    }

    private func sample(backlog: [String: Int]?, pools: [PoolUse]) {
        gauge("calltrack_active_calls", "Calls up or being set up.").set(Double(deps.activeCalls()))
        if let c = deps.connections {
            gauge("calltrack_http_connections", "Open HTTP connections.").set(Double(c.openConnections))
            gauge("calltrack_http_connections_max", "The cap on open HTTP connections.").set(
                Double(c.limits.maxConnections))
            total(
                "calltrack_http_connections_evicted_total", "Idle or slow connections closed at the cap to make room.",
                Double(c.evictedConnections))
            total(
                "calltrack_http_connections_refused_total",
                "New connections closed at the cap because every one was busy.", Double(c.refusedConnections))
        }
        let held = deps.numbers.visitorsInMemory
        gauge("calltrack_visitors_in_memory", "Visitor histories held in memory (visitors holding a number).").set(
            Double(held.histories))
        gauge("calltrack_recent_visitors", "Recent visitors remembered to tell heartbeats from new visits.").set(
            Double(held.recent))
        for p in deps.projects {
            total(
                "calltrack_reservations_address_limited_total",
                "Visitors given the static number because their address held its share.",
                Double(deps.numbers.addressLimitedCount(projectKey: p.key)), labels: [("project", p.key)])
        }
        for use in pools {
            let labels = [("project", use.project), ("pool", use.pool)]
            gauge("calltrack_pool_numbers_reserved", "Numbers of a pool held by a visitor now.", labels).set(
                Double(use.held))
            gauge("calltrack_pool_numbers", "Numbers in a pool.", labels).set(Double(use.size))
        }
        if let backlog {
            var waiting: [String: Int] = [:]
            for (endpoint, count) in backlog { waiting[Telemetry.endpointLabel(endpoint), default: 0] += count }
            let all = endpoints.withLock {
                $0.formUnion(waiting.keys)
                return $0
            }
            for endpoint in all.sorted() {
                gauge(
                    "calltrack_outbox_backlog",
                    "Deliveries waiting in the outbox, per endpoint (scheme, host and port).", [("endpoint", endpoint)]
                ).set(Double(waiting[endpoint] ?? 0))
            }
        }
        sampleProcess()
    }

    /// The standard process figures, from the kernel.
    private func sampleProcess() {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu =
            Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(
                usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        total("process_cpu_seconds_total", "User and system CPU time spent, in seconds.", cpu)
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let fields = statm.split(separator: " ").compactMap { Double($0) }
            if fields.count >= 2 {
                gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.").set(fields[0] * page)
                gauge("process_resident_memory_bytes", "Resident memory size in bytes.").set(fields[1] * page)
            }
        }
        if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            gauge("process_open_fds", "Number of open file descriptors.").set(Double(fds.count))
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            gauge("process_max_fds", "Maximum number of open file descriptors.").set(Double(limit.rlim_cur))
        }
        gauge("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.").set(
            startedAt)
    }

    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    /// A counter whose running total lives elsewhere: adds what it grew since the last scrape.
    private func total(_ name: String, _ help: String, _ value: Double, labels: [(String, String)] = []) {
        let key = name + labels.map { "\u{1f}\($0.0)=\($0.1)" }.joined()
        let grown = added.withLock { seen -> Double in
            let before = seen[key] ?? 0
            guard value > before else { return 0 }
            seen[key] = value
            return value - before
        }
        let counter = registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
        // Whole counts stay integers in the text; only the CPU seconds have a fraction.
        if grown > 0 { grown == grown.rounded() ? counter.increment(by: Int64(grown)) : counter.increment(by: grown) }
    }
}
