import Foundation
import Yams

/// Reads, checks and validates a configuration file.
public enum ConfigLoader {
    /// Loads `path`; throws a `ConfigError` naming the key at fault.
    public static func load(path: String) throws -> CallTrackConfig {
        guard let data = FileManager.default.contents(atPath: path),
              let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(key: "", "cannot read config file \(path)")
        }
        return try parse(yaml: text)
    }

    /// Parses YAML text into a validated configuration.
    public static func parse(yaml text: String) throws -> CallTrackConfig {
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch {
            throw ConfigError(key: "", "not valid YAML: \(error)")
        }
        if let node { try checkKeys(node, schema: ConfigSchema.root, path: "") }
        let config: CallTrackConfig
        do {
            config = try YAMLDecoder().decode(CallTrackConfig.self, from: node == nil ? "{}" : text)
        } catch let error as DecodingError {
            throw describe(error)
        }
        try ConfigValidator(config: config).validate()
        return config
    }

    private static func checkKeys(_ node: Node, schema: ConfigSchema, path: String) throws {
        switch schema {
        case .scalar:
            return
        case .list(let element):
            guard case .sequence(let seq) = node else {
                throw ConfigError(key: path, "must be a list")
            }
            for (i, child) in seq.enumerated() { try checkKeys(child, schema: element, path: "\(path)[\(i)]") }
        case .map(let fields):
            guard case .mapping(let map) = node else {
                throw ConfigError(key: path, "must be a mapping of keys")
            }
            for (k, v) in map {
                let name = k.string ?? "\(k)"
                let childPath = path.isEmpty ? name : "\(path).\(name)"
                guard let childSchema = fields[name] else {
                    let known = fields.keys.sorted().joined(separator: ", ")
                    throw ConfigError(key: childPath, "unknown key (known keys here: \(known))")
                }
                try checkKeys(v, schema: childSchema, path: childPath)
            }
        }
    }

    private static func describe(_ error: DecodingError) -> ConfigError {
        func path(_ keys: [CodingKey]) -> String {
            var out = ""
            for k in keys {
                if let i = k.intValue { out += "[\(i)]" } else { out += out.isEmpty ? k.stringValue : ".\(k.stringValue)" }
            }
            return out
        }
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
        @unknown default:
            return ConfigError(key: "", "\(error)")
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

/// The shape of the file: which keys exist where. Unknown keys are errors, not silently ignored.
indirect enum ConfigSchema: Sendable {
    case scalar
    case list(ConfigSchema)
    case map([String: ConfigSchema])

    static let root: ConfigSchema = .map([
        "sip": .map([
            "listen": .list(.scalar), "advertised_address": .scalar,
            "rtp_ports": .map(["min": .scalar, "max": .scalar]),
            "rtp_timeout_seconds": .scalar, "drain_seconds": .scalar, "user_agent": .scalar,
            "untrusted": .scalar, "max_requests_per_second_per_source": .scalar, "media_latching": .scalar,
        ]),
        "http": .map([
            "listen": .scalar, "reservations_per_minute": .scalar, "region_header": .scalar, "trusted_proxies": .list(.scalar),
            "max_connections": .scalar, "idle_timeout_seconds": .scalar, "request_timeout_seconds": .scalar,
        ]),
        "storage": .map(["database": .scalar, "recordings": .scalar]),
        "admin": .map(["tokens_env": .scalar]),
        "numbering": .map(["country_code": .scalar, "trunk_prefix": .scalar, "national_number_length": .scalar]),
        "recording": .map(["retention_days": .scalar, "sweep_interval_seconds": .scalar]),
        "tracking": .map(["visit_retention_days": .scalar, "sweep_interval_seconds": .scalar, "max_numbers_per_address": .scalar]),
        "trunks": .list(.map([
            "name": .scalar, "allow": .list(.scalar), "proxy": .scalar, "username": .scalar,
            "password_env": .scalar, "register": .scalar,
        ])),
        "projects": .list(.map([
            "key": .scalar, "name": .scalar, "origins": .list(.scalar), "site_numbers": .list(.scalar),
            "number_selector": .scalar, "click_to_reveal": .scalar,
            "forward_to": .scalar, "trunk": .scalar, "ring_timeout_seconds": .scalar,
            "reservation_ttl_seconds": .scalar, "attribution": .scalar, "record": .scalar,
            "pools": .list(.map(["name": .scalar, "regions": .list(.scalar), "numbers": .list(.scalar), "static": .scalar])),
            "offline": .list(.map(["number": .scalar, "channel": .scalar])),
            "webhooks": .list(.map(["url": .scalar, "secret_env": .scalar])),
        ])),
    ])
}
