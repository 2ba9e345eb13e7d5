/// A configuration problem, naming the key (as a path like `projects[0].forward_to`) and what is wrong.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public let key, problem: String
    public init(key: String, _ problem: String) {
        self.key = key
        self.problem = problem
    }
    public var description: String { key.isEmpty ? problem : "\(key): \(problem)" }

    /// `projects[0].pools[1].static` for a decoder's coding path.
    public static func path(_ keys: [CodingKey]) -> String {
        var out = ""
        for k in keys {
            if let i = k.intValue { out += "[\(i)]" } else { out += out.isEmpty ? k.stringValue : ".\(k.stringValue)" }
        }
        return out
    }
}
