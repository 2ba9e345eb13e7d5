import Foundation

/// Replays a project's own recorded visits against other pool sizes and reservation times: the
/// exact pool size a week of statistics asks for, where the usual formulas only estimate it.
///
/// A visitor holds a number from arrival until `reservation time` after their last heartbeat;
/// one who arrives while every number is held gets the static number, and calls from such a
/// visitor cannot be attributed. So the share of visitors served is also the expected accuracy.
public enum PoolPlanner {
    /// One visitor: arrival, last heartbeat (the visit's end as the snippet saw it) and, when the
    /// visitor called, when the call gave the number back.
    public struct Visit: Sendable, Equatable {
        public var arrival, lastSeen: Date
        public var released: Date?
        public init(arrival: Date, lastSeen: Date, released: Date? = nil) {
            self.arrival = arrival
            self.lastSeen = max(arrival, lastSeen)
            self.released = released
        }
    }

    public struct Option: Sendable, Equatable {
        public var poolSize, reservationSeconds: Int
        /// Visitors who would have got a dynamic number, in percent; also the expected accuracy.
        public var servedPercent: Double
    }

    public struct Plan: Sendable, Equatable {
        /// Each pool size from 1 up to the first that serves every visitor.
        public var options: [Option]
        /// The smallest of them that reaches the target.
        public var recommended: Option?
    }

    /// The heartbeat comes once a minute: a reservation shorter than this would drop visitors mid-visit.
    public static let shortestReservation = 120

    /// How long a number must stay reserved after the last heartbeat to catch `share` (0…1) of the
    /// calls that came after their visitor left, measured by those calls' delays; at least
    /// `shortestReservation`, rounded up to 30 s. Nil without measured calls.
    public static func reservationSeconds(callDelays: [Double], share: Double = 0.95) -> Int? {
        guard !callDelays.isEmpty else { return nil }
        let sorted = callDelays.map { max(0, $0) }.sorted()
        let index = min(sorted.count - 1, Int((Double(sorted.count) * share).rounded(.up)) - 1)
        let needed = Int((sorted[max(0, index)] / 30).rounded(.up)) * 30
        return max(shortestReservation, needed)
    }

    /// Visitors served by `poolSize` numbers held `reservationSeconds` past each visitor's last heartbeat.
    public static func servedPercent(_ visits: [Visit], poolSize: Int, reservationSeconds: Int) -> Double {
        guard !visits.isEmpty else { return 100 }
        var releases: [Double] = []
        var served = 0
        for v in visits.sorted(by: { $0.arrival < $1.arrival }) {
            let now = v.arrival.timeIntervalSince1970
            releases.removeAll { $0 <= now }
            guard releases.count < poolSize else { continue }
            let held = v.lastSeen.timeIntervalSince1970 + Double(reservationSeconds)
            releases.append(min(held, v.released?.timeIntervalSince1970 ?? held))
            served += 1
        }
        return Double(served) * 100 / Double(visits.count)
    }

    /// The plan for `targetPercent` at a reservation time.
    public static func plan(_ visits: [Visit], reservationSeconds: Int, targetPercent: Double, maxPoolSize: Int = 1000)
        -> Plan
    {
        var options: [Option] = []
        for size in 1...max(1, maxPoolSize) {
            let served = servedPercent(visits, poolSize: size, reservationSeconds: reservationSeconds)
            options.append(Option(poolSize: size, reservationSeconds: reservationSeconds, servedPercent: served))
            if served >= 100 { break }
        }
        return Plan(options: options, recommended: options.first { $0.servedPercent >= targetPercent })
    }
}
