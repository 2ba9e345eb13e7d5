import CallTrackCore

/// A trunk as the SIP path needs it: who may send calls, where outbound calls go.
public struct Trunk: Sendable, Equatable {
    public let name: String
    public let allow: [CIDR]
    /// Outbound calls are routed through this SIP URI (a loose route), when set.
    public let proxy, username, password: String?
    public let register: Bool

    public func admits(_ address: IPAddress) -> Bool { allow.contains { $0.contains(address) } }
}

/// Where a call to one tracking number goes. The target comes only from configuration,
/// never from the caller's request.
public struct ForwardingTarget: Sendable, Equatable {
    public let projectKey: String
    /// The tracking number dialled, in E.164 form.
    public let did: PhoneNumber
    public let uri: String
    public let trunk: Trunk?
    public let ringTimeoutSeconds: Int
    public let record: Bool
    /// The caller's display name starts with `[source/medium]` (`projects[].caller_name_prefix`).
    public var callerNamePrefix = false
}

/// In-memory routing indexes, built from configuration so that the SIP path never reads the database.
public final class CallRouter: Sendable {
    public let trunks: [Trunk]
    private let targets: [PhoneNumber: ForwardingTarget]
    private let numbering: NumberingConfig

    /// Builds the indexes; passwords are read from the environment variables the config names.
    public init(config: CallTrackConfig, environment: [String: String]) {
        numbering = config.numbering
        let trunks = config.trunks.map { t in
            Trunk(
                name: t.name, allow: t.allow, proxy: t.proxy, username: t.username,
                password: t.passwordEnv.flatMap { environment[$0] }, register: t.register)
        }
        self.trunks = trunks
        let projects = Dictionary(config.projects.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        var targets: [PhoneNumber: ForwardingTarget] = [:]
        for entry in NumberPlan(config: config).all {
            guard let p = projects[entry.projectKey] else { continue }
            let trunk = p.trunk.flatMap { name in trunks.first { $0.name == name } }
            targets[entry.number] = ForwardingTarget(
                projectKey: p.key, did: entry.number, uri: p.forwardTo, trunk: trunk,
                ringTimeoutSeconds: p.ringTimeoutSeconds, record: p.record, callerNamePrefix: p.callerNamePrefix)
        }
        self.targets = targets
    }

    /// The first trunk whose `allow` list contains the address, or nil: such a source gets 403.
    public func trunk(admitting address: IPAddress) -> Trunk? { trunks.first { $0.admits(address) } }

    /// The forwarding target for a dialled DID in any of its shapes, or nil for an unknown number.
    public func target(forDialled dialled: String) -> ForwardingTarget? {
        guard let number = PhoneNumber.normalise(dialled, numbering: numbering) else { return nil }
        return targets[number]
    }

    public var trackingNumberCount: Int { targets.count }
}
