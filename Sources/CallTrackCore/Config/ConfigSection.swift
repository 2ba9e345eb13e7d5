import Foundation

/// A block of the configuration file, described once by its keys: each key's YAML name, the property
/// it fills and the rule its value keeps. Decoding starts from `init()` (every default is the
/// property's own initial value), refuses a key the block does not list (a misspelt setting must fail
/// the start, not silently do nothing), and names the key of any value that breaks its rule, with the
/// decoder's own path (`projects[0].ring_timeout_seconds`).
public protocol ConfigSection: Decodable {
    init()
    static var keys: [ConfigKey<Self>] { get }
    /// Checks what involves several keys of the block and fills defaults that follow from others;
    /// `path` is the block's own (`sip.rtp_ports`), for the key an error names.
    mutating func settle(path: ConfigPath) throws
}

extension ConfigSection {
    public mutating func settle(path: ConfigPath) throws {}

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: ConfigPath.Name.self)
        let keys = Self.keys
        let known = Set(keys.map(\.name))
        for key in container.allKeys where !known.contains(key.stringValue) {
            throw ConfigError(
                key: ConfigError.path(decoder.codingPath + [key]),
                "unknown key (known keys here: \(known.sorted().joined(separator: ", ")))")
        }
        self.init()
        for key in keys { try key.read(&self, container) }
        try settle(path: ConfigPath(decoder.codingPath))
    }
}

/// Where a value sits in the file, as errors name it: `projects[0].pools[1]`.
public struct ConfigPath: CustomStringConvertible, Sendable {
    public let description: String

    init(_ codingPath: [CodingKey]) { description = ConfigError.path(codingPath) }

    /// The path of `name` inside this block.
    public func key(_ name: String) -> String { description.isEmpty ? name : "\(description).\(name)" }

    /// A key of a mapping, to see what it really holds.
    public struct Name: CodingKey {
        public let stringValue: String
        public let intValue: Int?
        public init(stringValue: String) {
            self.stringValue = stringValue
            intValue = nil
        }
        public init?(intValue: Int) {
            stringValue = String(intValue)
            self.intValue = intValue
        }
    }
}

/// One key of a `ConfigSection`: read from the file into its property when present, and checked.
public struct ConfigKey<Section> {
    let name: String
    let read: (inout Section, KeyedDecodingContainer<ConfigPath.Name>) throws -> Void

    /// A setting that may be left out: its property's initial value is the default.
    public static func key<Value: Decodable>(
        _ name: String, _ property: WritableKeyPath<Section, Value>, _ rule: ConfigRule<Value> = .any
    ) -> Self { ifPresent(name, rule) { $0[keyPath: property] = $1 } }

    /// A setting with no value by default (nil), checked when it is given.
    public static func key<Value: Decodable>(
        _ name: String, _ property: WritableKeyPath<Section, Value?>, _ rule: ConfigRule<Value>
    ) -> Self { ifPresent(name, rule) { $0[keyPath: property] = $1 } }

    /// Reads `name` when the file has it, checks it by `rule`, and hands it to `assign`.
    private static func ifPresent<Value: Decodable>(
        _ name: String, _ rule: ConfigRule<Value>, assign: @escaping (inout Section, Value) -> Void
    ) -> Self {
        ConfigKey(name: name) { section, container in
            let key = ConfigPath.Name(stringValue: name)
            guard let value = try container.decodeIfPresent(Value.self, forKey: key) else { return }
            try rule.check(value, at: container.codingPath + [key])
            assign(&section, value)
        }
    }

    /// A setting the block cannot do without: leaving it out fails the start, naming it.
    public static func required<Value: Decodable>(
        _ name: String, _ property: WritableKeyPath<Section, Value>, _ rule: ConfigRule<Value> = .any,
        why: String = "is required"
    ) -> Self {
        ConfigKey(name: name) { section, container in
            let key = ConfigPath.Name(stringValue: name)
            guard container.contains(key) else {
                throw ConfigError(key: ConfigError.path(container.codingPath + [key]), why)
            }
            let value = try container.decode(Value.self, forKey: key)
            try rule.check(value, at: container.codingPath + [key])
            section[keyPath: property] = value
        }
    }
}

/// What a setting's value must be. A value that breaks it fails the start with the rule's words,
/// naming the key (or the element of a list).
public struct ConfigRule<Value> {
    /// What is wrong with a value, and which element of a list it is; nil when the value is fine.
    let problem: (Value) -> (element: Int?, message: String)?

    public init(_ problem: @escaping (Value) -> String?) { self.problem = { problem($0).map { (nil, $0) } } }

    private init(problem: @escaping (Value) -> (element: Int?, message: String)?) { self.problem = problem }

    /// A rule over a list whose problem names the element at fault.
    static func elements(_ problem: @escaping (Value) -> (element: Int?, message: String)?) -> Self {
        Self(problem: problem)
    }

    func check(_ value: Value, at path: [CodingKey]) throws {
        guard let (element, message) = problem(value) else { return }
        throw ConfigError(key: ConfigError.path(path) + (element.map { "[\($0)]" } ?? ""), message)
    }

    public static var any: Self { Self { (_: Value) -> String? in nil } }

    /// `problem` unless `holds`.
    public static func that(_ problem: String, _ holds: @escaping (Value) -> Bool) -> Self {
        Self { holds($0) ? nil : problem }
    }
}

extension ConfigRule where Value: Comparable {
    public static func atLeast(_ low: Value) -> Self { .that("must be at least \(low)") { $0 >= low } }
    public static func within(_ range: ClosedRange<Value>) -> Self {
        .that("must be from \(range.lowerBound) to \(range.upperBound)") { range.contains($0) }
    }
}

extension ConfigRule where Value == String {
    public static var nonEmpty: Self { .that("must not be empty") { !$0.isEmpty } }

    /// The name of an environment variable: secrets live there, never in the file.
    public static var environmentName: Self {
        Self { isEnvironmentName($0) ? nil : "must be an environment variable name, not \"\($0)\"" }
    }

    public static var ipAddress: Self { Self { IPAddress($0) == nil ? "must be an IP address, not \"\($0)\"" : nil } }

    public static var httpURL: Self { Self { isHTTPURL($0) ? nil : "\"\($0)\" is not an http(s) URL" } }

    /// A plain `local@domain` address: nothing that could end a header or start another.
    public static var emailAddress: Self { Self { isEmailAddress($0) ? nil : "\"\($0)\" is not an e-mail address" } }

    public static func sipURI(like example: String) -> Self {
        Self { SIPURI($0) == nil ? "\"\($0)\" is not a SIP URI like \(example)" : nil }
    }

    /// `pattern` (a regular expression) matches the whole value.
    public static func matching(_ pattern: String, _ problem: String) -> Self {
        .that(problem) { $0.range(of: "^(\(pattern))$", options: .regularExpression) != nil }
    }
}

extension ConfigRule where Value == [String] {
    /// At most `limit` elements, each keeping `rule`; the error names the element (`notify.email[1]`).
    public static func each(_ rule: ConfigRule<String>, atMost limit: Int = .max) -> Self {
        .elements { values in
            if values.count > limit { return (nil, "takes at most \(limit)") }
            for (i, value) in values.enumerated() { if let (_, message) = rule.problem(value) { return (i, message) } }
            return nil
        }
    }
}

func isEnvironmentName(_ s: String) -> Bool {
    guard let first = s.first, first == "_" || (first.isASCII && first.isLetter) else { return false }
    return s.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
}

func isHTTPURL(_ s: String) -> Bool {
    guard let url = URL(string: s), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else { return false }
    return true
}

func isEmailAddress(_ s: String) -> Bool {
    s.count <= 254 && s.range(of: "^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+$", options: .regularExpression) != nil
}
