import CallTrackCore
import Foundation
import Tracking

/// Stored calls and what hangs on them (leads, sales, costs) as the HTTP API, the dashboard and the
/// deliveries read and change them. SQLite stands behind it today; another database is another
/// conformer, and nothing that reads calls has to change.
public protocol CallRepository: Sendable {
    /// Newest first; `before` continues a previous page.
    func calls(limit: Int, before: CallID?, filter: CallFilter) async throws -> [CallRecord]
    func call(id: CallID) async throws -> CallRecord?
    /// The DTMF keys pressed during a call, in order.
    func dtmf(callID: CallID) async throws -> [DTMFEvent]

    /// Leads whose first call started in [`from`, `to`), oldest first: at most `limit`, after the lead
    /// whose first call is `after` (the previous page's last).
    func leads(project: String, from: Date, to: Date, limit: Int, after: String?) async throws -> [Lead]
    /// The calls of a project that started in [`from`, `to`), with the sales that count for each, handed
    /// to `body` one at a time; landing pages and visitor ids only when asked for.
    func forEachReportCall(
        project: String, from: Date, to: Date, landingPages: Bool, visitors: Bool, _ body: (ReportCall) throws -> Void)
        async throws
    /// What the exports to ad platforms read of each call of a project that started in [`from`, `to`).
    func forEachExportCall(project: String, from: Date, to: Date, _ body: (ExportCall) throws -> Void) async throws
    func exportCall(id: CallID) async throws -> ExportCall?

    /// A sale for a call (`callID`) or a caller's phone, counted for the lead's first call; the same
    /// `dealID` again updates the amount.
    func recordSale(project: String?, callID: CallID?, phone: String?, dealID: String, amount: Double, at: Date)
        async throws -> SaleOutcome
    func sale(project: String, dealID: String) async throws -> Sale?
    /// Stores cost rows all at once, replacing any of the same day, source, medium, campaign and keyword.
    func importCosts(project: String, rows: [CostRow]) async throws
    /// Cost rows of the days `from`…`to` (`YYYY-MM-DD`, inclusive).
    func costs(project: String, from: String, to: String) async throws -> [CostRow]
}
