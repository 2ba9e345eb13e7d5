import CallTrackCore
import Foundation
import Storage

/// Every project's delivery endpoints from the configuration, with their secrets read from the
/// environment, and the routes the outbox writes by (derived from the channels, so the two agree).
public struct DeliveryPlan: Sendable {
    public let channels: [any DeliveryChannel]
    public let routes: DeliveryRoutes

    /// A secret's variable that is not set refuses the start, naming the key.
    public init(config: CallTrackConfig, environment: [String: String]) throws {
        func secret(_ env: String, key: String) throws -> String {
            guard let value = environment[env], !value.isEmpty else {
                throw DeliveryPlanError(description: "\(key): the environment variable \(env) is not set")
            }
            return value
        }
        // One endpoint per URL, however many projects send to it: projects are added to it.
        var webhooks: [String: [String: WebhookChannel.Subscription]] = [:]
        var ga4: [String: GA4Channel] = [:], metrica: [String: MetricaChannel] = [:]
        var emails: [String: MissedCallEmailChannel] = [:]
        var order: [String] = []
        func remember(_ url: String) { if !order.contains(url) { order.append(url) } }
        for (i, p) in config.projects.enumerated() {
            for (j, w) in p.webhooks.enumerated() {
                let key = try secret(w.secretEnv, key: "projects[\(i)].webhooks[\(j)].secret_env")
                webhooks[w.url, default: [:]][p.key] = .init(secret: key, events: Set(w.events))
                remember(w.url)
            }
            if let g = p.ga4 {
                let apiSecret = try secret(g.apiSecretEnv, key: "projects[\(i)].ga4.api_secret_env")
                let projects = (ga4[g.url]?.projects ?? []).union([p.key])
                ga4[g.url] = GA4Channel(
                    endpoint: g.url, apiSecret: ga4[g.url]?.apiSecret ?? apiSecret, projects: projects)
                remember(g.url)
            }
            if let m = p.metrica {
                let token = try secret(m.tokenEnv, key: "projects[\(i)].metrica.token_env")
                let existing = metrica[m.url]
                metrica[m.url] = MetricaChannel(
                    endpoint: m.url, token: existing?.token ?? token,
                    projects: (existing?.projects ?? []).union([p.key]),
                    attemptInterval: existing?.attemptInterval ?? m.uploadIntervalSeconds)
                remember(m.url)
            }
            if !p.notify.email.isEmpty, let smtp = config.smtp {
                let url = "mailto:" + p.notify.email.joined(separator: ",")
                var messages = emails[url]?.messages ?? [:]
                messages[p.key] = MissedCallEmail(
                    from: smtp.from, to: p.notify.email, projectName: p.name,
                    timeZone: TimeZone(identifier: p.timezone) ?? .gmt, linkBase: config.http.linkBase)
                emails[url] = MissedCallEmailChannel(endpoint: url, recipients: p.notify.email, messages: messages)
                remember(url)
            }
        }
        if let env = config.smtp?.passwordEnv { _ = try secret(env, key: "smtp.password_env") }
        channels = order.compactMap { url -> (any DeliveryChannel)? in
            if let projects = webhooks[url] { return WebhookChannel(endpoint: url, projects: projects) }
            return ga4[url] ?? metrica[url] ?? emails[url]
        }
        var byProject: [String: [DeliveryRoutes.Route]] = [:]
        for project in config.projects.map(\.key) {
            for channel in channels {
                let deliveries = Dictionary(
                    uniqueKeysWithValues: DeliveryEvent.webhookEvents.compactMap { event in
                        channel.delivery(of: event, project: project).map { (event, $0) }
                    })
                if !deliveries.isEmpty {
                    byProject[project, default: []].append(
                        .init(endpoint: channel.endpoint, deliveries: deliveries, condition: channel.condition))
                }
            }
        }
        routes = DeliveryRoutes(byProject)
    }
}

/// A delivery setting that stops CallTrack from starting (a secret's variable not set).
public struct DeliveryPlanError: Error, CustomStringConvertible { public let description: String }
