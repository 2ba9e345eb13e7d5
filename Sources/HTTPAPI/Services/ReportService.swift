import CallTrackCore
import Foundation
import Storage
import Tracking

/// Turns stored calls into reports, for the API and the dashboard alike: the calls of a period,
/// grouped, under the attribution they were stored with or another model, with the costs imported.
struct ReportService: Sendable {
    let calls: any CallRepository
    let tracking: any TrackingRepository
    /// Rows one cost import may carry.
    static let maxCostRows = 100_000

    /// One report per grouping from a single pass over the calls (the dashboard shows two).
    func build(project: PublicProject, period: ReportPeriod, groupings: [[ReportDimension]], model: AttributionModel?)
        async throws -> [Report]
    {
        var builders = groupings.map { ReportBuilder(groupBy: $0, timeZone: project.timeZone) }
        // Under another model each visitor's history is read after the scan (the scan holds the read
        // connection); without one the calls go straight into the report.
        var visited: [ReportCall] = []
        try await calls.forEachReportCall(
            project: project.key, from: period.start, to: period.end,
            landingPages: groupings.contains { $0.contains(.landingPage) } || model != nil, visitors: model != nil
        ) { call in
            if model != nil, call.kind == .dynamic, call.clientID != nil {
                visited.append(call)
            } else {
                for i in builders.indices { builders[i].add(call) }
            }
        }
        if let model {
            var visits: [String: [Visit]] = [:]
            for call in visited {
                let client = call.clientID ?? ""
                if visits[client] == nil {
                    visits[client] = try await tracking.visits(projectKey: project.key, clientID: client, limit: 50)
                }
                let reattributed = call.reattributed(model, visits: visits[client] ?? [])
                for i in builders.indices { builders[i].add(reattributed) }
            }
        }
        let costs = try await calls.costs(project: project.key, from: period.from, to: period.to)
        return builders.map { $0.report(costs: costs) }
    }

    /// Stores an import of cost rows (at most `maxCostRows`), all or nothing.
    func store(costs rows: [CostRow], project: PublicProject) async throws {
        guard rows.count <= Self.maxCostRows else {
            throw APIError.badRequest(field: "rows", "at most \(Self.maxCostRows) rows per import")
        }
        try await calls.importCosts(project: project.key, rows: rows)
    }
}
