import CallTrackCore
import Foundation
import Hummingbird
import Storage

/// `/calls`: the calls list with its filters, a player per recording, and pages of 50
/// (`calls.mustache`); the player's audio is `/calls/{id}/audio`, the API's download behind the session.
extension Dashboard {
    static let callsPerPage = 50

    struct CallsView {
        let project, from, to, source, number: String
        let statusOptions: [DashboardPage.Layout.Option]
        let head: [String]
        let hasCalls: Bool
        let calls: [CallRow]
        let nextPage: String?
    }

    struct CallRow {
        struct Player { let src, seconds: String }
        let id, time, caller: String
        let callerName: String?
        let firstTime: Bool
        let did, source, campaign, talk: String
        /// The status of an answered or running call; a missed one is `missedStatus`, shown in red.
        let plainStatus, missedStatus: String?
        let player: Player?
        let noRecording: Bool

        init(_ r: CallRecord, formatter: DateFormatter, _ t: DashboardText) {
            let s = r.start, a = s.attribution
            id = r.id.rawValue
            time = formatter.string(from: s.startedAt)
            caller = s.caller
            callerName = s.callerName
            firstTime = r.firstTime
            did = s.did
            source =
                a?.knownSource.map { "\($0.source) / \($0.medium)" } ?? (a?.kind == .static ? "(static)" : "(unknown)")
            campaign = a?.kind == .dynamic ? [a?.campaign, a?.keyword].compactMap { $0 }.joined(separator: " / ") : ""
            talk = r.talkSeconds.map { String(format: "%d:%02d", Int($0) / 60, Int($0) % 60) } ?? ""
            switch r.status {
            case .answered: (plainStatus, missedStatus) = (t[.answered], nil)
            case .inProgress: (plainStatus, missedStatus) = (t[.inProgress], nil)
            case .missed:
                let reason: Phrase? =
                    switch r.missedReason {
                    case .noAnswer?: .noAnswer
                    case .busy?: .busy
                    case .cancelled?: .cancelled
                    case .failed?: .failed
                    case .rejected?: .rejected
                    case nil: nil
                    }
                (plainStatus, missedStatus) = (nil, t[.missed] + (reason.map { ": " + t[$0] } ?? ""))
            }
            if let info = r.recording, info.path != nil, [.recorded, .interrupted, .failed].contains(info.status) {
                player = Player(
                    src: "/calls/\(r.id.rawValue)/audio", seconds: info.seconds.map { String(format: "%.3f", $0) } ?? ""
                )
            } else {
                player = nil
            }
            noRecording = player == nil && r.status != .inProgress
        }
    }

    @Sendable func callsPage(_ request: Request, context: DashboardContext) async throws -> Response {
        try await page(request, context, path: "/calls") { p in
            let t = p.text
            var notices: [DashboardPage.Notice] = []
            var filter = CallFilter(project: p.project.key)
            do {
                filter = try CallListQuery({ p.query[$0] }, projects: [p.project.key: p.project]).filter
                filter.project = p.project.key
            } catch { notices.append(Self.problem(error, p)) }
            let records = try await calls.calls(
                limit: Self.callsPerPage + 1, before: p.value("cursor").flatMap(CallID.init), filter: filter)
            let shown = records.prefix(Self.callsPerPage)
            let formatter = Self.timeFormatter(p)
            let statuses: [(String, Phrase)] = [
                ("", .any), ("answered", .answered), ("missed", .missed), ("in_progress", .inProgress),
            ]
            let keep = ["from", "to", "source", "status", "number", "lang"].map { ($0, p.value($0)) }
            let view = CallsView(
                project: p.project.key, from: p.value("from") ?? "", to: p.value("to") ?? "",
                source: p.value("source") ?? "", number: p.value("number") ?? "",
                statusOptions: statuses.map {
                    .init(value: $0.0, label: t[$0.1], selected: $0.0 == (p.value("status") ?? ""))
                },
                head: [
                    t[.time], t[.caller], t[.number], "\(t[.source]) / \(t[.medium])",
                    "\(t[.campaign]) / \(t[.keyword])", t[.duration], t[.status], t[.recording],
                ], hasCalls: !shown.isEmpty, calls: shown.map { CallRow($0, formatter: formatter, t) },
                nextPage: records.count > Self.callsPerPage
                    ? shown.last.map { p.link("/calls", keep + [("cursor", $0.id.rawValue)]) } : nil)
            return p.render(
                "calls", title: t[.calls], content: view, status: notices.isEmpty ? .ok : .badRequest, notices: notices)
        }
    }
}
