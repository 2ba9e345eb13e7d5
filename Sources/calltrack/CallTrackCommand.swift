import ArgumentParser
import CallTrackApp
import CallTrackCore
import Foundation
import Logging

@main struct CallTrackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calltrack",
        abstract: "Call-tracking telephony: a SIP B2BUA that forwards tracking numbers and records every call.",
        subcommands: [Serve.self, CheckConfig.self, Import.self], defaultSubcommand: Serve.self)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run CallTrack: SIP, media relay, HTTP API.")

    @Option(name: .long, help: "Path to the YAML configuration.") var config = "config/calltrack.yaml"

    func run() async throws {
        let cfg = try loadConfig(config)
        let level =
            ProcessInfo.processInfo.environment["CALLTRACK_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .info
        // CALLTRACK_LOG_FORMAT=json: one JSON object per line; text (the default) otherwise.
        let format = ProcessInfo.processInfo.environment["CALLTRACK_LOG_FORMAT"] ?? "text"
        guard format == "json" || format == "text" else {
            FileHandle.standardError.write(
                Data("calltrack: CALLTRACK_LOG_FORMAT must be json or text, not \"\(format)\"\n".utf8))
            throw ExitCode(1)
        }
        let json = format == "json"
        LoggingSystem.bootstrap { label in
            if json { return JSONLogHandler(label: label, level: level) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "calltrack")
        let metrics = bootstrapMetrics()
        do {
            try await runNode(
                config: cfg, environment: ProcessInfo.processInfo.environment, metrics: metrics, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("calltrack: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate a configuration and exit.")

    @Option(name: .long, help: "Path to the YAML configuration.") var config = "config/calltrack.yaml"

    func run() async throws {
        let cfg = try loadConfig(config)
        print("\(config): OK (\(cfg.trunks.count) trunks, \(cfg.projects.count) projects)")
    }
}

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move a single node's history (its SQLite file) into the empty PostgreSQL of a new cluster.")

    @Option(name: .long, help: "The single node's SQLite file.") var from: String
    @Option(name: .long, help: "The cluster's configuration (storage.backend: postgres).") var config =
        "config/calltrack.yaml"

    func run() async throws {
        let cfg = try loadConfig(config)
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        do {
            let moved = try await importHistory(
                from: from, config: cfg, environment: ProcessInfo.processInfo.environment,
                logger: Logger(label: "calltrack.import"))
            for (table, rows) in moved { print("\(table): \(rows) rows") }
        } catch {
            FileHandle.standardError.write(Data("calltrack: import refused: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Loads the configuration or exits with status 2 and a message naming the key at fault.
func loadConfig(_ path: String) throws -> CallTrackConfig {
    do { return try ConfigLoader.load(path: path) } catch let error as ConfigError {
        FileHandle.standardError.write(Data("calltrack: invalid configuration \(path): \(error)\n".utf8))
        throw ExitCode(2)
    }
}
