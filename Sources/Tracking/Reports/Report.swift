import CallTrackCore
import Foundation

/// What a report can group calls by (`group_by`).
public enum ReportDimension: String, CaseIterable, Sendable {
    case source, medium, campaign, keyword, landingPage = "landing_page", number, channel, day, hour, weekday

    /// Costs are imported per day, source, medium, campaign and keyword: a grouping by anything
    /// else has no cost per row.
    public var costsCarry: Bool { [.source, .medium, .campaign, .keyword, .day].contains(self) }
}

/// What one call brings to a report: when, how it went, who called and where it came from.
public struct ReportCall: Sendable, Equatable {
    public var id: String
    public var startedAt: Date
    public var answered: Bool
    /// From the start to the answer, or to the end of a missed call.
    public var ringSeconds: Double?
    public var talkSeconds: Double
    /// The caller's E.164 number; nil for an anonymous or unreadable caller.
    public var caller: String?
    /// The caller's first call ever to the project (a lead).
    public var firstTime: Bool
    /// How the number was attributed; nil for a number no pool knows.
    public var kind: Attribution.Kind?
    public var source, medium, campaign, keyword, landingPage: String?
    /// The tracking number dialled (E.164).
    public var number: String
    public var channel: String?
    /// The visitor behind a dynamic number, for re-attribution under another model.
    public var clientID: String?
    /// Sales that count for this call (a lead's sales count for its first call).
    public var sales: Int
    public var revenue: Double

    public init(
        id: String, startedAt: Date, answered: Bool, ringSeconds: Double?, talkSeconds: Double, caller: String?,
        firstTime: Bool, kind: Attribution.Kind?, source: String? = nil, medium: String? = nil, campaign: String? = nil,
        keyword: String? = nil, landingPage: String? = nil, number: String, channel: String? = nil,
        clientID: String? = nil, sales: Int = 0, revenue: Double = 0
    ) {
        self.id = id
        self.startedAt = startedAt
        self.answered = answered
        self.ringSeconds = ringSeconds
        self.talkSeconds = talkSeconds
        self.caller = caller
        self.firstTime = firstTime
        self.kind = kind
        self.source = source
        self.medium = medium
        self.campaign = campaign
        self.keyword = keyword
        self.landingPage = landingPage
        self.number = number
        self.channel = channel
        self.clientID = clientID
        self.sales = sales
        self.revenue = revenue
    }

    /// The same call under another attribution model, re-picked from the visitor's stored visits
    /// (those before the call). Calls without a visitor keep what they have.
    public func reattributed(_ model: AttributionModel, visits: [Visit]) -> ReportCall {
        guard kind == .dynamic, clientID != nil, let visit = model.pick(from: visits.filter { $0.at <= startedAt })
        else { return self }
        var call = self
        call.source = visit.source
        call.medium = visit.medium
        call.campaign = visit.campaign
        call.keyword = visit.keyword
        call.landingPage = visit.page
        return call
    }
}

/// Money spent on one day, source, medium, campaign and keyword (`PUT …/costs`).
public struct CostRow: Sendable, Equatable {
    public var date, source, medium: String
    public var campaign, keyword: String?
    public var amount: Double

    public init(date: String, source: String, medium: String, campaign: String?, keyword: String?, amount: Double) {
        self.date = date
        self.source = source
        self.medium = medium
        self.campaign = campaign
        self.keyword = keyword
        self.amount = amount
    }
}

/// The figures of one report row or of the totals.
public struct ReportMetrics: Sendable, Equatable {
    public var calls = 0
    public var answered = 0
    public var missed = 0
    public var uniqueCallers = 0
    public var firstTimeCallers = 0
    public var avgRingSeconds: Double?
    public var talkSeconds = 0.0
    public var sales = 0
    public var revenue = 0.0
    /// Nil when the grouping has a dimension costs do not carry.
    public var cost: Double?

    public var costPerCall: Double? { Self.ratio(cost, Double(calls)) }
    public var costPerLead: Double? { Self.ratio(cost, Double(firstTimeCallers)) }
    /// (revenue − cost) / cost.
    public var roi: Double? { cost.flatMap { Self.ratio(revenue - $0, $0) } }

    /// A ratio over nothing (null or zero) is unknown, not infinite.
    static func ratio(_ a: Double?, _ b: Double?) -> Double? {
        guard let a, let b, b != 0 else { return nil }
        return a / b
    }
}

public struct ReportRow: Sendable, Equatable {
    /// Dimension name → value, e.g. `["source": "google", "medium": "cpc"]`.
    public var group: [String: String]
    public var metrics: ReportMetrics
}

public struct Report: Sendable, Equatable {
    public var rows: [ReportRow]
    public var totals: ReportMetrics

    /// Groups `calls` (already those of the period) by `dimensions`, days in `timeZone`; `costs` are
    /// the cost rows of the period. Rows come sorted by their group values.
    public static func build(
        calls: [ReportCall], costs: [CostRow], groupBy dimensions: [ReportDimension], timeZone: TimeZone
    ) -> Report {
        var builder = ReportBuilder(groupBy: dimensions, timeZone: timeZone)
        for call in calls { builder.add(call) }
        return builder.report(costs: costs)
    }

    /// Running sums of one group.
    struct Accumulator {
        var calls = 0, answered = 0, firstTime = 0, sales = 0, rings = 0
        /// Callers as the number their E.164 digits make, counted distinct once at the end (sorting
        /// a million numbers once costs less than a million hash-set inserts).
        var callers: [Int64] = []
        var ringSeconds = 0.0, talkSeconds = 0.0, revenue = 0.0

        mutating func add(_ call: ReportCall, caller: Int64?) {
            calls += 1
            if call.answered { answered += 1 }
            if call.firstTime { firstTime += 1 }
            if let caller { callers.append(caller) }
            if let ring = call.ringSeconds {
                ringSeconds += ring
                rings += 1
            }
            talkSeconds += call.talkSeconds
            sales += call.sales
            revenue += call.revenue
        }

        static func distinct(_ numbers: [Int64]) -> Int {
            let sorted = numbers.sorted()
            var count = 0
            for (i, n) in sorted.enumerated() where i == 0 || sorted[i - 1] != n { count += 1 }
            return count
        }

        var metrics: ReportMetrics {
            var m = ReportMetrics()
            m.calls = calls
            m.answered = answered
            m.missed = calls - answered
            m.uniqueCallers = Self.distinct(callers)
            m.firstTimeCallers = firstTime
            m.avgRingSeconds = rings == 0 ? nil : ringSeconds / Double(rings)
            m.talkSeconds = talkSeconds
            m.sales = sales
            m.revenue = revenue
            return m
        }
    }

    /// Local day, hour and ISO weekday of instants, worked out once per quarter hour (every time
    /// zone's offset is a whole number of quarter hours).
    struct LocalClock {
        private var calendar: Calendar
        private var cache: [Int: (day: String, hour: String, weekday: String)] = [:]

        init(timeZone: TimeZone) {
            calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = timeZone
        }

        mutating func local(_ date: Date) -> (day: String, hour: String, weekday: String) {
            let bucket = Int((date.timeIntervalSince1970 / 900).rounded(.down))
            if let hit = cache[bucket] { return hit }
            let c = calendar.dateComponents(
                [.year, .month, .day, .hour, .weekday], from: Date(timeIntervalSince1970: Double(bucket) * 900))
            // ISO: 1 is Monday, 7 is Sunday.
            let value = (
                day: String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0),
                hour: String(format: "%02d", c.hour ?? 0), weekday: String(((c.weekday ?? 1) + 5) % 7 + 1)
            )
            cache[bucket] = value
            return value
        }
    }

    /// A call's group values for `dimensions` (`["source": "google", …]`), as a report row shows them.
    public static func group(of call: ReportCall, by dimensions: [ReportDimension], timeZone: TimeZone = .gmt)
        -> [String: String]
    {
        var clock = LocalClock(timeZone: timeZone)
        return Dictionary(
            uniqueKeysWithValues: dimensions.map { ($0.rawValue, value(of: $0, for: call, clock: &clock)) })
    }

    /// A call's value for one dimension. Calls without a website visit: a static number is
    /// `(static)`/`(none)`, an offline number its channel/`offline`, anything else `(unknown)`.
    static func value(of dimension: ReportDimension, for call: ReportCall, clock: inout LocalClock) -> String {
        let visit = call.kind == .dynamic && call.source != nil
        switch dimension {
        case .source, .medium, .campaign, .keyword, .landingPage:
            if visit {
                let v: String? =
                    switch dimension {
                    case .source: call.source
                    case .medium: call.medium
                    case .campaign: call.campaign
                    case .keyword: call.keyword
                    default: call.landingPage
                    }
                return v ?? none
            }
            switch call.kind {
            case .static: return dimension == .source ? "(static)" : none
            case .offline:
                return dimension == .source ? (call.channel ?? unknown) : dimension == .medium ? "offline" : none
            default: return unknown
            }
        case .number: return call.number
        case .channel: return call.channel ?? none
        case .day: return clock.local(call.startedAt).day
        case .hour: return clock.local(call.startedAt).hour
        case .weekday: return clock.local(call.startedAt).weekday
        }
    }

    /// A cost row's value for a dimension costs carry.
    static func value(of dimension: ReportDimension, for row: CostRow) -> String {
        switch dimension {
        case .source: row.source
        case .medium: row.medium
        case .campaign: row.campaign ?? none
        case .keyword: row.keyword ?? none
        case .day: row.date
        default: unknown
        }
    }

    static let none = "(none)"
    static let unknown = "(unknown)"
}

/// A report built one call at a time, in memory that grows with the number of groups, never with
/// the number of calls.
public struct ReportBuilder {
    let dimensions: [ReportDimension]
    private var clock: Report.LocalClock
    private var groups: [[String]: Report.Accumulator] = [:]
    private var all = Report.Accumulator()

    public init(groupBy dimensions: [ReportDimension], timeZone: TimeZone) {
        self.dimensions = dimensions
        clock = Report.LocalClock(timeZone: timeZone)
    }

    public mutating func add(_ call: ReportCall) {
        let key = dimensions.map { Report.value(of: $0, for: call, clock: &clock) }
        let caller = call.caller.flatMap(Self.number)
        groups[key, default: Report.Accumulator()].add(call, caller: caller)
        all.add(call, caller: caller)
    }

    /// `+79161234567` as 79161234567 (E.164 has at most 15 digits).
    static func number(_ e164: String) -> Int64? {
        var n: Int64 = 0, digits = 0
        for b in e164.utf8 where b != UInt8(ascii: "+") {
            guard b >= 48, b <= 57, digits < 18 else { return nil }
            n = n * 10 + Int64(b - 48)
            digits += 1
        }
        return digits > 0 ? n : nil
    }

    /// The rows (sorted by their group values) and totals, with `costs` (the period's cost rows).
    public func report(costs: [CostRow]) -> Report {
        let withCosts = dimensions.allSatisfy(\.costsCarry)
        var costByGroup: [[String]: Double] = [:]
        if withCosts {
            for row in costs {
                costByGroup[dimensions.map { Report.value(of: $0, for: row) }, default: 0] += row.amount
            }
        }
        let keys = Set(groups.keys).union(costByGroup.keys).sorted { $0.lexicographicallyPrecedes($1) }
        let rows = keys.map { key in
            var m = (groups[key] ?? Report.Accumulator()).metrics
            m.cost = withCosts ? (costByGroup[key] ?? 0) : nil
            return ReportRow(group: Dictionary(uniqueKeysWithValues: zip(dimensions.map(\.rawValue), key)), metrics: m)
        }
        var totals = all.metrics
        totals.cost = costs.reduce(0) { $0 + $1.amount }
        return Report(rows: rows, totals: totals)
    }
}
