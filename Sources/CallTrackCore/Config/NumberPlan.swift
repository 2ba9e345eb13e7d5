/// Every tracking number of the configuration and what it is for: the one walk over the configured
/// numbers that validation, call routing and the number pools share.
public struct NumberPlan: Sendable {
    public enum Role: Sendable, Equatable {
        /// Handed to one visitor at a time from `pool`.
        case dynamic(pool: String)
        /// Shown when every number of `pool` is taken.
        case staticNumber(pool: String)
        /// Printed somewhere offline (a billboard, a listing): every call to it is from `channel`.
        case offline(channel: String)
    }

    public struct Entry: Sendable, Equatable {
        public let number: PhoneNumber
        public let projectKey: String
        public let role: Role
    }

    /// A pool's numbers in the order configured, and its static number.
    public struct PoolNumbers: Sendable, Equatable {
        public var dynamic: [PhoneNumber] = []
        public var staticNumber: PhoneNumber?
    }

    private var entries: [PhoneNumber: Entry] = [:]
    private var pools: [String: PoolNumbers] = [:]
    /// The first number that is not a phone number or is declared twice, with the key declaring it.
    public private(set) var problem: ConfigError?

    public init(config: CallTrackConfig) {
        var declaredAt: [PhoneNumber: String] = [:]
        func claim(_ raw: String, key: String, project: String, role: Role) -> PhoneNumber? {
            guard let number = PhoneNumber.normalise(raw, numbering: config.numbering) else {
                if problem == nil {
                    problem = ConfigError(key: key, "\"\(raw)\" is not a phone number (use E.164, like +74990000001)")
                }
                return nil
            }
            if let first = declaredAt[number] {
                if problem == nil {
                    problem = ConfigError(
                        key: key,
                        "\(number.e164) is already used at \(first); a number belongs to one pool of one project")
                }
                return nil
            }
            declaredAt[number] = key
            entries[number] = Entry(number: number, projectKey: project, role: role)
            return number
        }
        for (i, p) in config.projects.enumerated() {
            for (j, pool) in p.pools.enumerated() {
                let key = "projects[\(i)].pools[\(j)]"
                var numbers = PoolNumbers()
                for (k, raw) in pool.numbers.enumerated() {
                    if let n = claim(raw, key: "\(key).numbers[\(k)]", project: p.key, role: .dynamic(pool: pool.name))
                    {
                        numbers.dynamic.append(n)
                    }
                }
                numbers.staticNumber = claim(
                    pool.static, key: "\(key).static", project: p.key, role: .staticNumber(pool: pool.name))
                pools[Self.poolKey(p.key, pool.name)] = numbers
            }
            for (j, o) in p.offline.enumerated() {
                _ = claim(
                    o.number, key: "projects[\(i)].offline[\(j)].number", project: p.key,
                    role: .offline(channel: o.channel))
            }
        }
    }

    /// What a tracking number is, or nil for a number no project tracks.
    public subscript(number: PhoneNumber) -> Entry? { entries[number] }

    /// A pool's numbers (empty for a pool the configuration does not have).
    public func numbers(project: String, pool: String) -> PoolNumbers {
        pools[Self.poolKey(project, pool)] ?? PoolNumbers()
    }

    /// Every tracking number, in no particular order.
    public var all: Dictionary<PhoneNumber, Entry>.Values { entries.values }

    private static func poolKey(_ project: String, _ pool: String) -> String { project + "\u{0}" + pool }
}
