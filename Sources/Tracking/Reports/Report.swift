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
    public var source: String?
    public var medium: String?
    public var campaign: String?
    public var keyword: String?
    public var landingPage: String?
    /// The tracking number dialled (E.164).
    public var number: String
    public var channel: String?
    /// The visitor behind a dynamic number, for re-attribution under another model.
    public var clientID: String?
    /// Sales that count for this call (a lead's sales count for its first call).
    public var sales: Int
    public var revenue: Double

    public init(id: String, startedAt: Date, answered: Bool, ringSeconds: Double?, talkSeconds: Double, caller: String?,
                firstTime: Bool, kind: Attribution.Kind?, source: String? = nil, medium: String? = nil,
                campaign: String? = nil, keyword: String? = nil, landingPage: String? = nil, number: String,
                channel: String? = nil, clientID: String? = nil, sales: Int = 0, revenue: Double = 0) {
        self.id = id; self.startedAt = startedAt; self.answered = answered; self.ringSeconds = ringSeconds
        self.talkSeconds = talkSeconds; self.caller = caller; self.firstTime = firstTime; self.kind = kind
        self.source = source; self.medium = medium; self.campaign = campaign; self.keyword = keyword
        self.landingPage = landingPage; self.number = number; self.channel = channel; self.clientID = clientID
        self.sales = sales; self.revenue = revenue
    }

    /// The same call under another attribution model, re-picked from the visitor's stored visits
    /// (those before the call). Calls without a visitor keep what they have.
    public func reattributed(_ model: AttributionModel, visits: [Visit]) -> ReportCall {
        guard kind == .dynamic, clientID != nil, let visit = model.pick(from: visits.filter { $0.at <= startedAt }) else {
            return self
        }
        var call = self
        call.source = visit.source; call.medium = visit.medium; call.campaign = visit.campaign
        call.keyword = visit.keyword; call.landingPage = visit.page
        return call
    }
}

/// Money spent on one day, source, medium, campaign and keyword (`PUT …/costs`).
public struct CostRow: Sendable, Equatable {
    public var date: String
    public var source: String
    public var medium: String
    public var campaign: String?
    public var keyword: String?
    public var amount: Double

    public init(date: String, source: String, medium: String, campaign: String?, keyword: String?, amount: Double) {
        self.date = date; self.source = source; self.medium = medium; self.campaign = campaign; self.keyword = keyword
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
    public static func build(calls: [ReportCall], costs: [CostRow], groupBy dimensions: [ReportDimension],
                             timeZone: TimeZone) -> Report {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        var groups: [[String]: [ReportCall]] = [:]
        for call in calls { groups[dimensions.map { value(of: $0, for: call, calendar: calendar) }, default: []].append(call) }
        let withCosts = dimensions.allSatisfy(\.costsCarry)
        var costByGroup: [[String]: Double] = [:]
        if withCosts {
            for row in costs { costByGroup[dimensions.map { value(of: $0, for: row) }, default: 0] += row.amount }
        }
        let keys = Set(groups.keys).union(costByGroup.keys).sorted { $0.lexicographicallyPrecedes($1) }
        let rows = keys.map { key in
            var m = metrics(groups[key] ?? [])
            m.cost = withCosts ? (costByGroup[key] ?? 0) : nil
            return ReportRow(group: Dictionary(uniqueKeysWithValues: zip(dimensions.map(\.rawValue), key)), metrics: m)
        }
        var totals = metrics(calls)
        totals.cost = costs.reduce(0) { $0 + $1.amount }
        return Report(rows: rows, totals: totals)
    }

    static func metrics(_ calls: [ReportCall]) -> ReportMetrics {
        var m = ReportMetrics()
        m.calls = calls.count
        m.answered = calls.filter(\.answered).count
        m.missed = m.calls - m.answered
        m.uniqueCallers = Set(calls.compactMap(\.caller)).count
        m.firstTimeCallers = calls.filter(\.firstTime).count
        let rings = calls.compactMap(\.ringSeconds)
        m.avgRingSeconds = rings.isEmpty ? nil : rings.reduce(0, +) / Double(rings.count)
        m.talkSeconds = calls.reduce(0) { $0 + $1.talkSeconds }
        m.sales = calls.reduce(0) { $0 + $1.sales }
        m.revenue = calls.reduce(0) { $0 + $1.revenue }
        return m
    }

    /// A call's value for one dimension. Calls without a website visit: a static number is
    /// `(static)`/`(none)`, an offline number its channel/`offline`, anything else `(unknown)`.
    static func value(of dimension: ReportDimension, for call: ReportCall, calendar: Calendar) -> String {
        let visit = call.kind == .dynamic && call.source != nil
        switch dimension {
        case .source, .medium, .campaign, .keyword, .landingPage:
            if visit {
                let v: String? = switch dimension {
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
            case .offline: return dimension == .source ? (call.channel ?? unknown) : dimension == .medium ? "offline" : none
            default: return unknown
            }
        case .number: return call.number
        case .channel: return call.channel ?? none
        case .day:
            let c = calendar.dateComponents([.year, .month, .day], from: call.startedAt)
            return String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
        case .hour: return String(format: "%02d", calendar.component(.hour, from: call.startedAt))
        case .weekday:
            // ISO: 1 is Monday, 7 is Sunday.
            return String((calendar.component(.weekday, from: call.startedAt) + 5) % 7 + 1)
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
