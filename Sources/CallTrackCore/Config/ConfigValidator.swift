import Foundation

/// Checks what spans blocks of the file: names used twice, references between blocks, numbers read
/// with the numbering plan. Each block checks its own keys as it is decoded (`ConfigSection`).
struct ConfigValidator {
    let config: CallTrackConfig

    func validate() throws {
        switch (config.storage.backend, config.cluster) {
        case (.postgres, nil): throw ConfigError(key: "cluster", "is required with storage.backend postgres")
        case (.sqlite, .some):
            throw ConfigError(key: "cluster", "needs storage.backend postgres: nodes share their state there")
        default: break
        }
        if config.smtp == nil, let i = config.projects.firstIndex(where: { !$0.notify.email.isEmpty }) {
            throw ConfigError(key: "projects[\(i)].notify.email", "needs an smtp block to send through")
        }
        var trunkNames = Set<String>()
        for (i, trunk) in config.trunks.enumerated() where !trunkNames.insert(trunk.name).inserted {
            throw ConfigError(key: "trunks[\(i)].name", "trunk \"\(trunk.name)\" is defined twice")
        }
        var keys = Set<String>()
        for (i, p) in config.projects.enumerated() {
            if !keys.insert(p.key).inserted {
                throw ConfigError(key: "projects[\(i)].key", "project \"\(p.key)\" is defined twice")
            }
            if let t = p.trunk, !trunkNames.contains(t) {
                throw ConfigError(
                    key: "projects[\(i)].trunk",
                    "no trunk named \"\(t)\" (trunks: \(trunkNames.sorted().joined(separator: ", ")))")
            }
            for (j, n) in p.siteNumbers.enumerated() where PhoneNumber.normalise(n, numbering: config.numbering) == nil
            { throw ConfigError(key: "projects[\(i)].site_numbers[\(j)]", "\"\(n)\" is not a phone number") }
        }
        // Every tracking number a phone number, and each in one place only.
        if let problem = NumberPlan(config: config).problem { throw problem }
    }
}
