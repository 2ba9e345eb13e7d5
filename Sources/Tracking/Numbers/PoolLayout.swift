import CallTrackCore
import Foundation

/// The projects' number pools as the configuration lays them out, and what follows from it alone: which
/// pool a visitor's region draws from, how a number is written on the site, the visit a report makes.
/// Whoever keeps the reservations (in memory on one node, in PostgreSQL for several) decides with it.
public struct PoolLayout: Sendable {
    public struct Pool: Sendable {
        public let projectKey, name: String
        let regions: Set<String>
        public let numbers: [PhoneNumber]
        public let staticNumber: PhoneNumber
    }

    public struct Project: Sendable {
        public let key: String
        public let ttl: TimeInterval
        public let model: AttributionModel
        public let pools: [Pool]
        let siteNumberTemplate: String?
        let nationalDigits: Int
        /// Every pool and static number written like the site's number, computed once.
        var formatted: [PhoneNumber: String] = [:]

        func format(_ n: PhoneNumber) -> String {
            formatted[n] ?? NumberFormat.format(n, like: siteNumberTemplate, nationalDigits: nationalDigits)
        }

        /// The pool of the visitor's region, else the pool for every region, else the first.
        public func pool(for region: String?) -> Pool? {
            if let region = region?.lowercased(), let match = pools.first(where: { $0.regions.contains(region) }) {
                return match
            }
            return pools.first { $0.regions.isEmpty } ?? pools.first
        }

        public func assignment(_ r: Reservation) -> NumberAssignment {
            NumberAssignment(kind: .dynamic, number: r.number, formatted: format(r.number), reservation: r)
        }

        /// The pool's static number: what a visitor gets when no number can be theirs.
        public func staticAssignment(_ pool: Pool) -> NumberAssignment {
            NumberAssignment(
                kind: .static, number: pool.staticNumber, formatted: format(pool.staticNumber), reservation: nil)
        }
    }

    public let projects: [String: Project]
    public let plan: NumberPlan

    public init(config: CallTrackConfig) {
        var projects: [String: Project] = [:]
        let plan = NumberPlan(config: config)
        let n = config.numbering
        for p in config.projects {
            var pools: [Pool] = []
            for pool in p.pools {
                let numbers = plan.numbers(project: p.key, pool: pool.name)
                guard let s = numbers.staticNumber else { continue }
                pools.append(
                    Pool(
                        projectKey: p.key, name: pool.name, regions: Set(pool.regions.map { $0.lowercased() }),
                        numbers: numbers.dynamic, staticNumber: s))
            }
            var project = Project(
                key: p.key, ttl: TimeInterval(p.reservationTTLSeconds), model: p.attribution, pools: pools,
                siteNumberTemplate: p.siteNumbers.first, nationalDigits: n.nationalNumberLength)
            for number in pools.flatMap({ $0.numbers + [$0.staticNumber] }) {
                project.formatted[number] = project.format(number)
            }
            projects[p.key] = project
        }
        self.projects = projects
        self.plan = plan
    }

    /// What the configuration alone says of a call to `number`: an offline or static number's channel
    /// (nil for a number no project tracks) at once; a dynamic number's holder must be looked up (`later`).
    public func attributionFromConfiguration(_ number: PhoneNumber) -> AttributionAnswer {
        guard let entry = plan[number] else { return .now(nil) }
        switch entry.role {
        case .offline(let channel):
            return .now(Attribution(kind: .offline, source: "offline", medium: channel, channel: channel))
        case .staticNumber(let pool): return .now(.unattributed(.static, pool: pool))
        case .dynamic: return projects[entry.projectKey] == nil ? .now(nil) : .later
        }
    }

    /// A dynamic number's attribution from its holder's visits (the project's model picks the visit), or
    /// the pool's unattributed one when no one holds it.
    public func attribution(of number: PhoneNumber, holder: (reservation: Reservation, late: Bool, visits: [Visit])?)
        -> Attribution?
    {
        guard let entry = plan[number], case .dynamic(let pool) = entry.role, let project = projects[entry.projectKey]
        else { return nil }
        guard let holder else { return .unattributed(.dynamic, pool: pool) }
        return Attribution(
            poolName: pool, reservation: holder.reservation, late: holder.late,
            visit: project.model.pick(from: holder.visits), history: holder.visits)
    }

    /// The visit a visitor's report makes: its source and medium classified, campaign data read from the
    /// whole page address, and what is kept of it bounded (see `Visit.storedLength`).
    public func visit(projectKey: String, clientID: String, report: VisitReport, at now: Date) -> Visit {
        let report = report.completedFromPageURL()
        let (source, medium) = SourceClassifier.classify(report)
        return Visit(
            projectKey: projectKey, clientID: clientID, at: now, page: Visit.bounded(report.page),
            referrer: report.referrer.map { Visit.bounded($0) }, source: source, medium: medium,
            campaign: report.utmCampaign, keyword: report.utmTerm, content: report.utmContent, gclid: report.gclid,
            yclid: report.yclid, region: report.region, gaClientID: report.gaClientID, ymClientID: report.ymClientID)
    }
}
