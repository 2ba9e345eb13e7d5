import CallTrackCore

/// Refused SIP requests, counted between log lines so that a flood writes one line per interval.
struct RefusalLog {
    private(set) var counts: [CallStatistics.Refusal: Int] = [:]
    private(set) var sources: [String: Int] = [:]
    private(set) var otherSources = 0
    /// Distinct sources named in one line; the rest are only counted.
    let maxSources: Int

    init(maxSources: Int = 32) { self.maxSources = maxSources }

    var isEmpty: Bool { counts.isEmpty }

    mutating func add(_ refusal: CallStatistics.Refusal, source: String) {
        counts[refusal, default: 0] += 1
        if sources[source] != nil || sources.count < maxSources {
            sources[source, default: 0] += 1
        } else {
            otherSources += 1
        }
    }

    /// One line's worth: totals by reason and the busiest sources; resets the counts.
    mutating func take() -> (total: Int, byReason: String, topSources: String)? {
        guard !counts.isEmpty else { return nil }
        let total = counts.values.reduce(0, +)
        let byReason = counts.sorted { $0.value > $1.value }.map { "\($0.key.rawValue)=\($0.value)" }.joined(
            separator: " ")
        var top = sources.sorted { $0.value > $1.value }.prefix(5).map { "\($0.key)=\($0.value)" }
        let named = sources.count
        if named > 5 || otherSources > 0 {
            top.append("(\(named - min(named, 5)) more sources, \(otherSources) requests from unnamed ones)")
        }
        counts.removeAll(keepingCapacity: true)
        sources.removeAll(keepingCapacity: true)
        otherSources = 0
        return (total, byReason, top.joined(separator: " "))
    }
}
