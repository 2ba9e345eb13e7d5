/// A configuration problem, naming the key (as a path like `projects[0].forward_to`) and what is wrong.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public let key: String
    public let problem: String
    public init(key: String, _ problem: String) { self.key = key; self.problem = problem }
    public var description: String { key.isEmpty ? problem : "\(key): \(problem)" }
}
