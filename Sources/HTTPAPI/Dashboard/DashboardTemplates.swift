import Foundation
import Mustache

/// The HTML templates (`Resources/Templates/*.mustache`), parsed once. `{{name}}` escapes what it
/// writes, and no template writes anything raw (`{{{…}}}` and `{{&…}}` are refused here), so a value
/// reaches a page only as text: a visitor's UTM tag, a caller's name or an admin's project name can
/// never become markup.
enum DashboardTemplates {
    static let sources: [String: [UInt8]] = [
        "layout": PackageResources.layout_mustache, "message": PackageResources.message_mustache,
        "signin": PackageResources.signin_mustache, "report": PackageResources.report_mustache,
        "chart": PackageResources.chart_mustache, "calls": PackageResources.calls_mustache,
        "leads": PackageResources.leads_mustache, "pool": PackageResources.pool_mustache,
        "setup": PackageResources.setup_mustache, "deliveries": PackageResources.deliveries_mustache,
        "demo": PackageResources.demo_mustache,
    ]

    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, bytes) in sources {
            let text = String(decoding: bytes, as: UTF8.self)
            precondition(!text.contains("{{{") && !text.contains("{{&"), "template \(name) writes a value unescaped")
            do { try library.register(text, named: name) } catch {
                preconditionFailure("template \(name) does not parse: \(error)")
            }
        }
        return library
    }()

    /// `name` rendered with `object` (its stored properties are the template's names).
    static func render(_ name: String, _ object: Any) -> String {
        guard let text = library.render(tree(object) ?? [:], withTemplate: name) else {
            preconditionFailure("no template \(name)")
        }
        return text
    }

    /// The view as nested dictionaries and arrays, each struct reflected once: Mustache would otherwise
    /// reflect a struct again for every name it looks up (a calls page took 15 times as long).
    static func tree(_ value: Any) -> Any? {
        switch value {
        case is String, is Bool, is Int, is Double: return value
        case let values as [Any]: return values.compactMap(tree)
        case let table as [String: String]: return table
        default:
            let mirror = Mirror(reflecting: value)
            switch mirror.displayStyle {
            case .optional?: return mirror.children.first.flatMap { tree($0.value) }
            case .struct?, .class?, .tuple?:
                var fields: [String: Any] = [:]
                for child in mirror.children {
                    if let label = child.label, let field = tree(child.value) { fields[label] = field }
                }
                return fields
            default: return value
            }
        }
    }
}
