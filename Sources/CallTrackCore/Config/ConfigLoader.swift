import Foundation
import Yams

/// Reads, decodes (refusing unknown keys) and validates a configuration file.
public enum ConfigLoader {
    /// Loads `path`; throws a `ConfigError` naming the key at fault.
    public static func load(path: String) throws -> CallTrackConfig {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else { throw ConfigError(key: "", "cannot read config file \(path)") }
        return try parse(yaml: text)
    }

    /// Parses YAML text into a validated configuration.
    public static func parse(yaml text: String) throws -> CallTrackConfig {
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch { throw ConfigError(key: "", "not valid YAML: \(error)") }
        let config: CallTrackConfig
        do { config = try YAMLDecoder().decode(CallTrackConfig.self, from: node == nil ? "{}" : text) } catch let error
            as DecodingError
        { throw configError(in: error) ?? describe(error) }
        try ConfigValidator(config: config).validate()
        return config
    }

    /// The `ConfigError` a value's own decoding threw (a key it does not know, a string that does
    /// not parse), which the YAML decoder hands back wrapped.
    private static func configError(in error: Error) -> ConfigError? {
        if let e = error as? ConfigError { return e }
        guard let decoding = error as? DecodingError, case .dataCorrupted(let ctx) = decoding,
            let inner = ctx.underlyingError
        else { return nil }
        return configError(in: inner)
    }

    private static func describe(_ error: DecodingError) -> ConfigError {
        let path = ConfigError.path
        switch error {
        case .keyNotFound(let key, let ctx):
            let p = path(ctx.codingPath + [key])
            return ConfigError(key: p, "is required")
        case .typeMismatch(let type, let ctx):
            return ConfigError(key: path(ctx.codingPath), "has the wrong type (expected \(typeName(type)))")
        case .valueNotFound(let type, let ctx):
            return ConfigError(key: path(ctx.codingPath), "is empty (expected \(typeName(type)))")
        case .dataCorrupted(let ctx):
            return ConfigError(key: path(ctx.codingPath), "invalid value: \(ctx.debugDescription)")
        @unknown default: return ConfigError(key: "", "\(error)")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        default:
            let n = "\(type)"
            return n.hasPrefix("Array") ? "a list" : (n.contains("Config") || n.contains("Range") ? "a mapping" : n)
        }
    }
}
