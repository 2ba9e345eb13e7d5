import CallTrackCore
import Foundation
import Hummingbird
import Tracking

/// `group_by` (default `source,medium`) and `model` of a report request.
struct ReportQuery {
    var dimensions: [ReportDimension] = []
    var model: AttributionModel?

    init(_ request: Request) throws {
        let query = request.uri.queryParameters
        try self.init(groupBy: query["group_by"].map(String.init), model: query["model"].map(String.init))
    }

    /// One dimension, the stored attribution.
    init(grouping dimension: ReportDimension) { dimensions = [dimension] }

    init(groupBy: String?, model rawModel: String?, defaultGroupBy: String = "source,medium") throws {
        for name in (groupBy ?? defaultGroupBy).split(separator: ",") {
            guard let d = ReportDimension(rawValue: String(name)), !dimensions.contains(d) else {
                throw APIError.badRequest(
                    field: "group_by",
                    "group_by takes \(ReportDimension.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            dimensions.append(d)
        }
        if let raw = rawModel, !raw.isEmpty {
            guard let m = AttributionModel(rawValue: raw) else {
                throw APIError.badRequest(
                    field: "model",
                    "model is one of \(AttributionModel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            model = m
        }
    }
}

/// A period of whole days in the project's time zone: [start of `from`, start of the day after `to`).
struct ReportPeriod {
    let from: String, to: String
    let start: Date, end: Date

    init(_ request: Request, timeZone: TimeZone) throws {
        let query = request.uri.queryParameters
        try self.init(from: query["from"].map(String.init), to: query["to"].map(String.init), timeZone: timeZone)
    }

    /// The last 30 days up to today.
    init(lastDaysIn timeZone: TimeZone) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let today = calendar.startOfDay(for: Date())
        start = calendar.date(byAdding: .day, value: -29, to: today) ?? today
        end = calendar.date(byAdding: .day, value: 1, to: today) ?? today
        from = Self.day(start, calendar)
        to = Self.day(today, calendar)
    }

    /// `2026-11-01`.
    static func day(_ date: Date, _ calendar: Calendar) -> String {
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
    }

    /// The days of the period, `2026-11-01` each (at most 400).
    func days(in timeZone: TimeZone) -> [String] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        var out: [String] = []
        var day = start
        while day < end, out.count <= 400 {
            out.append(Self.day(day, calendar))
            guard let next = calendar.date(byAdding: .day, value: 1, to: day) else { break }
            day = next
        }
        return out
    }

    init(from rawFrom: String?, to rawTo: String?, timeZone: TimeZone) throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        func day(_ name: String, default value: Date) throws -> (String, Date) {
            guard let raw = name == "from" ? rawFrom : rawTo else {
                return (Self.day(value, calendar), calendar.startOfDay(for: value))
            }
            let parts = raw.split(separator: "-").compactMap { Int($0) }
            guard raw.count == 10, parts.count == 3,
                let date = calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])),
                calendar.dateComponents([.year, .month, .day], from: date)
                    == DateComponents(year: parts[0], month: parts[1], day: parts[2])
            else { throw APIError.badRequest(field: name, "\(name) must be a date like 2026-11-01") }
            return (raw, date)
        }
        let now = Date()
        let (to, toStart) = try day("to", default: now)
        let (from, start) = try day("from", default: calendar.date(byAdding: .day, value: -29, to: toStart) ?? toStart)
        guard start <= toStart else { throw APIError.badRequest(field: "from", "from must not be after to") }
        guard let end = calendar.date(byAdding: .day, value: 1, to: toStart),
            end.timeIntervalSince(start) <= 400 * 86400
        else { throw APIError.badRequest(field: "from", "a report covers at most 400 days") }
        self.from = from
        self.to = to
        self.start = start
        self.end = end
    }
}
