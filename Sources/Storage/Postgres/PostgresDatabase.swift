import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Where a PostgreSQL server is and how CallTrack uses it: `storage.postgres` with the address from the
/// environment variable it names (`postgres://USER:PASSWORD@HOST:PORT/DATABASE`).
public struct PostgresSettings: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var poolSize: Int
    /// A statement running longer is cancelled: a stuck database fails a request instead of holding it.
    public var statementTimeoutMilliseconds: Int

    public init(
        host: String, port: Int = 5432, user: String, password: String? = nil, database: String, poolSize: Int = 16,
        statementTimeoutMilliseconds: Int = 2000
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.poolSize = poolSize
        self.statementTimeoutMilliseconds = statementTimeoutMilliseconds
    }

    /// Reads `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (or `postgresql://`); nil for anything else.
    public init?(url: String, poolSize: Int = 16, statementTimeoutMilliseconds: Int = 2000) {
        guard let c = URLComponents(string: url), c.scheme == "postgres" || c.scheme == "postgresql", let host = c.host,
            !host.isEmpty, let user = c.user, !user.isEmpty
        else { return nil }
        let database = String(c.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { return nil }
        self.init(
            host: host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host, port: c.port ?? 5432,
            user: c.user ?? "", password: c.password, database: database, poolSize: poolSize,
            statementTimeoutMilliseconds: statementTimeoutMilliseconds)
    }
}

/// A pool of connections to one PostgreSQL database (postgres-nio's `PostgresClient`): a service that
/// must run (in the service group) while anything queries it.
public final class PostgresDatabase: SQLDatabase, Service {
    public let client: PostgresClient
    public let settings: PostgresSettings
    let logger: Logger
    /// Each statement's SQL with `?` turned into `$1`, `$2`…, made once.
    private let translated = Mutex<[String: String]>([:])

    public var dialect: SQLDialect { .postgres }

    public init(settings: PostgresSettings, logger: Logger) {
        var config = PostgresClient.Configuration(
            host: settings.host, port: settings.port, username: settings.user, password: settings.password,
            database: settings.database, tls: .disable)
        config.options.maximumConnections = settings.poolSize
        config.options.connectTimeout = .seconds(5)
        config.options.additionalStartupParameters = [
            ("statement_timeout", String(settings.statementTimeoutMilliseconds)), ("application_name", "calltrack"),
        ]
        client = PostgresClient(configuration: config, backgroundLogger: logger)
        self.settings = settings
        self.logger = logger
    }

    public func run() async throws { await client.run() }

    @discardableResult public func query(_ sql: String, _ arguments: [SQLValueConvertible]) async throws -> [Row] {
        let statement = try statement(sql, arguments)
        return try await withDeadline(sql: sql) { [client, logger] in
            try await Self.rows(of: client.query(statement, logger: logger))
        }
    }

    /// Runs `body` for at most the statement timeout: the pool waits for a connection as long as the server
    /// is away, and a request must fail in that time instead (`unavailable`), not hang with it. On time out
    /// the caller goes on at once; `body` is cancelled and may end later (a connection the server dropped
    /// mid-query does not always heed cancellation, so it is never waited for).
    func withDeadline<T: Sendable>(sql: String?, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let limit = Duration.milliseconds(settings.statementTimeoutMilliseconds)
        let timedOut = DatabaseError(
            kind: .unavailable, code: "timeout",
            message: "PostgreSQL at \(settings.host):\(settings.port) did not answer within \(limit)", sql: sql)
        let outcome: Result<T, Error> = await withCheckedContinuation { continuation in
            let answered = Mutex(false)
            let finish: @Sendable (Result<T, Error>) -> Bool = { result in
                guard
                    answered.withLock({ done in
                        defer { done = true }
                        return !done
                    })
                else { return false }
                continuation.resume(returning: result)
                return true
            }
            // The timer is an event loop's (a heap entry, no system call), not a sleeping task: one is set
            // for every statement.
            let timer = Mutex<Scheduled<Void>?>(nil)
            let work = Task {
                let result: Result<T, Error>
                do { result = .success(try await body()) } catch { result = .failure(error) }
                if finish(result) { timer.withLock { $0?.cancel() } }
            }
            timer.withLock { timer in
                timer = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(
                    in: .milliseconds(Int64(settings.statementTimeoutMilliseconds))
                ) { if finish(.failure(timedOut)) { work.cancel() } }
            }
        }
        do { return try outcome.get() } catch { throw Self.databaseError(error, sql: sql) }
    }

    public func scan<Columns>(
        _ sql: String, _ arguments: [SQLValueConvertible], columns: (Cursor) -> Columns,
        _ body: (Cursor, Columns) throws -> Void
    ) async throws {
        var names: [String: Int]?
        var found: Columns?
        let statement = try statement(sql, arguments)
        let rows = try await withDeadline(sql: sql) { [client, logger] in
            try await client.query(statement, logger: logger)
        }
        var iterator = rows.makeAsyncIterator()
        while true {
            let next: PostgresRow?
            do { next = try await iterator.next() } catch { throw Self.databaseError(error, sql: sql) }
            guard let row = next else { return }
            let values: [SQLValue]
            do { values = try row.map(Self.value) } catch { throw Self.databaseError(error, sql: sql) }
            let cursor = Cursor(source: .row(values), columns: names ?? Self.columns(of: row))
            names = cursor.columns
            if found == nil { found = columns(cursor) }
            try body(cursor, found!)
        }
    }

    public func write<T: Sendable>(_ body: (WriteBatch) throws -> T) async throws -> T {
        let batch = WriteBatch(dialect: .postgres)
        let result = try body(batch)
        let statements = try batch.statements.map { try statement($0.sql, $0.arguments) }
        guard !statements.isEmpty else { return result }
        try await withDeadline(sql: nil) { [client, logger] in
            try await client.withTransaction(logger: logger) { connection in
                for statement in statements { _ = try await connection.query(statement, logger: logger).collect() }
            }
        }
        return result
    }

    /// Runs `body` as one transaction on one connection, for a change that reads what it decides on
    /// (`SELECT … FOR UPDATE`, advisory locks): committed when `body` returns, rolled back when it throws.
    /// `body` may outlive the call when the deadline passes first (it is cancelled then, and rolled back).
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (Transaction) async throws -> T) async throws -> T
    {
        try await withDeadline(sql: nil) { [client, logger] in
            try await client.withTransaction(logger: logger) { connection in
                try await body(Transaction(connection: connection, database: self))
            }
        }
    }

    /// The statements of one transaction (`transaction`).
    public struct Transaction: Sendable {
        let connection: PostgresConnection
        let database: PostgresDatabase

        @discardableResult public func query(_ sql: String, _ arguments: [SQLValueConvertible] = []) async throws
            -> [Row]
        {
            try await PostgresDatabase.rows(
                of: connection.query(database.statement(sql, arguments), logger: database.logger))
        }
    }

    /// Runs `body` on one connection of the pool, for what must stay on one session (advisory locks).
    public func withConnection<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do { return try await client.withConnection { try await body($0) } } catch let error as DatabaseError {
            throw error
        } catch { throw Self.databaseError(error, sql: nil) }
    }

    /// The statement to send: the SQL with numbered placeholders, and its arguments bound.
    func statement(_ sql: String, _ arguments: [SQLValueConvertible]) throws -> PostgresQuery {
        let text =
            translated.withLock { $0[sql] }
            ?? {
                let t = Self.numberPlaceholders(sql)
                translated.withLock { $0[sql] = t }
                return t
            }()
        var binds = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument.sqlValue {
            case .null: binds.appendNull()
            case .integer(let v): binds.append(v)
            case .real(let v): binds.append(v)
            case .text(let v): binds.append(v)
            }
        }
        return PostgresQuery(unsafeSQL: text, binds: binds)
    }

    /// `?` outside quoted text becomes `$1`, `$2`… in order.
    static func numberPlaceholders(_ sql: String) -> String {
        var out = "", n = 0, quoted = false
        out.reserveCapacity(sql.utf8.count + 16)
        for c in sql {
            if c == "'" { quoted.toggle() }
            if c == "?" && !quoted {
                n += 1
                out += "$\(n)"
            } else {
                out.append(c)
            }
        }
        return out
    }

    /// Every row of a result, read into the values both engines share.
    static func rows(of sequence: PostgresRowSequence) async throws -> [Row] {
        var rows: [Row] = []
        var columns: [String: Int]?
        for try await row in sequence {
            let names = columns ?? Self.columns(of: row)
            columns = names
            rows.append(Row(columns: names, values: try row.map(Self.value)))
        }
        return rows
    }

    static func columns(of row: PostgresRow) -> [String: Int] {
        var names: [String: Int] = [:]
        for (i, cell) in row.enumerated() where names[cell.columnName] == nil { names[cell.columnName] = i }
        return names
    }

    /// A cell as one of the values both engines share: integers, doubles (also sums, which PostgreSQL
    /// gives as numeric), text; booleans as 0 and 1.
    static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
        case .float4, .float8: return .real(try cell.decode(Double.self))
        case .bool: return .integer(try cell.decode(Bool.self) ? 1 : 0)
        case .numeric:
            let d = try cell.decode(Decimal.self)
            let v = NSDecimalNumber(decimal: d)
            return d == Decimal(v.int64Value) ? .integer(v.int64Value) : .real(v.doubleValue)
        default: return .text(try cell.decode(String.self))
        }
    }

    /// postgres-nio's failures as the kinds the stores act on: the server unreachable or gone, a statement
    /// past its timeout, a full disk, a server that takes no writes.
    static func databaseError(_ error: any Error, sql: String?) -> DatabaseError {
        if let e = error as? DatabaseError { return e }
        if let t = error as? PostgresTransactionError {
            return databaseError(t.closureError ?? t.commitError ?? t.beginError ?? t.rollbackError ?? error, sql: sql)
        }
        guard let e = error as? PSQLError else {
            return DatabaseError(kind: .unavailable, code: "connection", message: "\(error)", sql: sql)
        }
        let query = sql ?? e.query?.sql
        guard e.code == .server, let info = e.serverInfo else {
            let kind: DatabaseError.Kind = e.code == .queryCancelled ? .busy : .unavailable
            return DatabaseError(
                kind: kind, code: "\(e.code)", message: "\(e.underlying.map { "\($0)" } ?? "")", sql: query)
        }
        let state = info[.sqlState] ?? ""
        let kind: DatabaseError.Kind =
            switch state {
            case "53100", "53200": .full
            case "53300": .unavailable
            case "25006": .readOnly
            case "57014", "40001", "40P01", "55P03": .busy
            case "57P01", "57P02", "57P03": .unavailable
            case let s where s.hasPrefix("08"): .unavailable
            case let s where s.hasPrefix("23"): .constraint
            default: .other
            }
        return DatabaseError(kind: kind, code: state, message: info[.message] ?? "\(e.code)", sql: query)
    }
}

extension PostgresDatabase {
    /// Waits until the server answers, for a node that starts before its database does: tried every
    /// half second for `seconds`, then an error naming the server's host and port.
    public func waitUntilReachable(seconds: Double) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while true {
            do { return try await execute("SELECT 1") } catch let error as DatabaseError
                where error.kind == .unavailable
            {
                guard ContinuousClock.now < deadline else {
                    throw DatabaseError(
                        kind: .unavailable, code: error.code,
                        message: "PostgreSQL at \(settings.host):\(settings.port) unreachable for \(Int(seconds)) s: "
                            + error.message, sql: nil)
                }
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// Brings the schema up to date (one node at a time); throws when it is newer than this binary knows.
    public func migrate() async throws { try await PostgresSchema.migrate(self) }
}
