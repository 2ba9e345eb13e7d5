import Foundation
import Logging
import Storage
import Synchronization

/// The engines the stores run on; storage tests run on each.
public enum Backend: String, CaseIterable, Sendable {
    case sqlite, postgres

    /// Runs `body` with a new, empty database of this engine, migrated.
    public func withDatabase<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        switch self {
        case .sqlite:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent(
                "store-\(UUID().uuidString)/calltrack.sqlite"
            ).path
            return try await body(try SQLiteDatabase(path: path))
        case .postgres: return try await TestPostgres.shared().withDatabase(body)
        }
    }
}

/// The tests' own PostgreSQL: `initdb` and `pg_ctl` from Debian's package in a temporary folder, run as
/// the `postgres` user when the tests run as root (PostgreSQL refuses root), listening on 127.0.0.1 on
/// a free port, with no fsync (nothing here must survive a power cut, only a server killed at once, whose
/// commits are in the operating system's cache). The shared one is started once per
/// test process and stopped when it exits; each test gets a database of its own. A test that stops and
/// starts the server makes one of its own (`init`, `stop`, `start`).
public final class TestPostgres: Sendable {
    public let port: Int
    let folder: String
    let bin: String

    private static let started = Mutex<TestPostgres?>(nil)
    /// For the exit hook, which can capture nothing.
    nonisolated(unsafe) private static var stopCommand: [String] = []

    public static func shared() throws -> TestPostgres {
        try started.withLock { server in
            if let server { return server }
            let s = try TestPostgres()
            server = s
            stopCommand = s.stopCommand
            atexit { try? TestPostgres.run(asOwner: true, TestPostgres.stopCommand) }
            return s
        }
    }

    public init() throws {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let version = versions.sorted(by: { Int($0) ?? 0 < Int($1) ?? 0 }).last else {
            throw Failure("PostgreSQL is not installed (apt-get install postgresql; make test does)")
        }
        bin = "/usr/lib/postgresql/\(version)/bin"
        folder = NSTemporaryDirectory() + "calltrack-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if getuid() == 0 {
            try FileManager.default.setAttributes([.ownerAccountName: "postgres"], ofItemAtPath: folder)
        }
        try Self.run(
            asOwner: true,
            [
                bin + "/initdb", "-D", folder + "/data", "-U", "calltrack", "--auth=trust", "--encoding=UTF8",
                "--locale=C.UTF-8",
            ])
        var lastError: Error?
        for _ in 0..<5 {
            let port = try Self.freePort()
            do {
                try Self.start(bin: bin, folder: folder, port: port)
                self.port = port
                return
            } catch { lastError = error }
        }
        throw lastError ?? Failure("PostgreSQL did not start")
    }

    private static func start(bin: String, folder: String, port: Int) throws {
        try run(
            asOwner: true,
            [
                bin + "/pg_ctl", "-D", folder + "/data", "-l", folder + "/log", "-w", "-t", "30", "-o",
                "-c listen_addresses=127.0.0.1 -p \(port) -k \(folder) -c fsync=off -c max_connections=300", "start",
            ])
    }

    /// Starts the server again on its port (after `stop`).
    public func start() throws { try Self.start(bin: bin, folder: folder, port: port) }

    /// Stops the server at once, as a crash or an outage would: clients lose their connections.
    public func stop() throws { try Self.run(asOwner: true, stopCommand) }

    /// Stops the server (if it runs) and removes its folder.
    public func destroy() {
        try? stop()
        try? FileManager.default.removeItem(atPath: folder)
    }

    private var stopCommand: [String] { [bin + "/pg_ctl", "-D", folder + "/data", "-m", "immediate", "stop"] }

    /// A new empty database on the server; its name.
    public func newDatabase() throws -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try Self.run(
            asOwner: false,
            [
                bin + "/psql", "-h", "127.0.0.1", "-p", "\(port)", "-U", "calltrack", "-d", "postgres", "-q", "-c",
                "CREATE DATABASE \(name)",
            ])
        return name
    }

    /// The address of a new empty database, as `CALLTRACK_DATABASE_URL` holds it.
    public func newDatabaseURL() throws -> String { "postgres://calltrack@127.0.0.1:\(port)/\(try newDatabase())" }

    /// A new database, migrated, with its client running for the length of `body`.
    /// `statementTimeoutMilliseconds` is longer than a node's default: tests race many transactions on a
    /// loaded machine, and an outage test names its own.
    public func withDatabase<T>(statementTimeoutMilliseconds: Int = 10_000, _ body: (any SQLDatabase) async throws -> T)
        async throws -> T
    {
        let name = try newDatabase()
        let db = PostgresDatabase(
            settings: PostgresSettings(
                host: "127.0.0.1", port: port, user: "calltrack", database: name, poolSize: 4,
                statementTimeoutMilliseconds: statementTimeoutMilliseconds), logger: Logger(label: "test.postgres"))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await db.run() }
            defer { group.cancelAll() }
            try await db.migrate()
            return try await body(db)
        }
    }

    /// Runs a command to its end, its output in a file (not a pipe: the server `pg_ctl` starts inherits
    /// it and would keep a pipe open).
    private static func run(asOwner: Bool, _ command: [String]) throws {
        let full = asOwner && getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] + command : command
        let log = NSTemporaryDirectory() + "calltrack-pg-\(UUID().uuidString).out"
        defer { unlink(log) }
        let status = try Daemon(executable: full[0], arguments: Array(full.dropFirst()), log: log).wait()
        guard status == 0 else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw Failure("\(command.first ?? "") failed (status \(status)): \(text)")
        }
    }

    /// A TCP port nothing listens on now (the kernel's pick for port 0).
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
            }
        }
        guard bound else { throw Failure("no free port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }
}
