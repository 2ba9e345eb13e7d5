import Foundation

/// A database the stores read and write: SQLite in one file (one node) or PostgreSQL (several nodes).
/// The stores' SQL is written once: `?` placeholders, types both engines share (text, 64-bit integers,
/// doubles for times), `ON CONFLICT` upserts; what differs is spelled by `dialect`.
public protocol SQLDatabase: Sendable {
    var dialect: SQLDialect { get }
    /// Runs one statement and returns its rows.
    @discardableResult func query(_ sql: String, _ arguments: [SQLValueConvertible]) async throws -> [Row]
    /// Runs one statement and hands each row to `body` as it comes, holding none: for results too big to
    /// hold (a month of calls for a report). `columns` finds the columns `body` reads, once, before the first row.
    func scan<Columns>(
        _ sql: String, _ arguments: [SQLValueConvertible], columns: (Cursor) -> Columns,
        _ body: (Cursor, Columns) throws -> Void) async throws
    /// Collects the statements `body` adds to a batch, then runs them all in one transaction: all of them
    /// are written or, on any failure, none.
    func write<T: Sendable>(_ body: (WriteBatch) throws -> T) async throws -> T
}

extension SQLDatabase {
    public func execute(_ sql: String, _ arguments: [SQLValueConvertible] = []) async throws {
        try await query(sql, arguments)
    }

    /// The one value a statement like `SELECT count(*)` returns (nil for no row).
    public func scalar(_ sql: String, _ arguments: [SQLValueConvertible] = []) async throws -> SQLValue? {
        try await query(sql, arguments).first?.values.first
    }

    @discardableResult public func query(_ sql: String) async throws -> [Row] { try await query(sql, []) }
}

/// What the two engines spell differently.
public enum SQLDialect: Sendable {
    case sqlite, postgres

    /// The smallest of several values (SQLite's scalar `min`, PostgreSQL's `least`).
    func least(_ values: String...) -> String {
        (self == .sqlite ? "min(" : "least(") + values.joined(separator: ", ") + ")"
    }
    /// The largest of several values (SQLite's scalar `max`, PostgreSQL's `greatest`).
    func greatest(_ values: String...) -> String {
        (self == .sqlite ? "max(" : "greatest(") + values.joined(separator: ", ") + ")"
    }
}

/// Statements collected inside `write`, run in order in one transaction.
public final class WriteBatch {
    private(set) var statements: [(sql: String, arguments: [SQLValue])] = []
    public let dialect: SQLDialect
    init(dialect: SQLDialect) { self.dialect = dialect }
    public func execute(_ sql: String, _ arguments: [SQLValueConvertible] = []) {
        statements.append((sql, arguments.map(\.sqlValue)))
    }
}

/// A database failure: what kind, the engine's message and the SQL.
public struct DatabaseError: Error, CustomStringConvertible {
    /// The failures an operator acts on differently.
    public enum Kind: Sendable, Equatable {
        /// Another connection holds the lock past the busy timeout, or a statement ran past its timeout.
        case busy
        /// The disk (or the database's size limit) is full.
        case full
        /// The file or its folder cannot be written, or the server takes no writes.
        case readOnly
        /// The database server cannot be reached.
        case unavailable
        case constraint
        case other
    }

    public let kind: Kind
    /// The engine's own code: SQLite's extended result code, PostgreSQL's SQLSTATE.
    public let code: String
    public let message: String
    public let sql: String?

    public init(kind: Kind, code: String, message: String, sql: String?) {
        self.kind = kind
        self.code = code
        self.message = message
        self.sql = sql
    }

    public var description: String { "database error \(code): \(message)" + (sql.map { " (in \($0))" } ?? "") }

    /// What a batch writer holds and retries rather than drops: the database may take it later.
    public var isPassing: Bool { [.full, .readOnly, .busy, .unavailable].contains(kind) }
}

/// One result row, read by column name (`row["started_at"]`), never by position.
public struct Row: Sendable {
    let columns: [String: Int]
    let values: [SQLValue]

    /// The value of `column`; a name the query does not select is a programming error.
    public subscript(_ column: String) -> SQLValue {
        guard let i = columns[column] else { preconditionFailure("query selects no column \(column)") }
        return values[i]
    }
}

/// A value bound to or read from a statement.
public enum SQLValue: Sendable, Equatable {
    case null, integer(Int64), real(Double), text(String)

    public var int: Int? { if case .integer(let v) = self { Int(v) } else { nil } }
    public var double: Double? {
        switch self {
        case .real(let v): v
        case .integer(let v): Double(v)
        default: nil
        }
    }
    public var string: String? { if case .text(let v) = self { v } else { nil } }
}

public protocol SQLValueConvertible { var sqlValue: SQLValue { get } }
extension Int: SQLValueConvertible { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Double: SQLValueConvertible { public var sqlValue: SQLValue { .real(self) } }
extension String: SQLValueConvertible { public var sqlValue: SQLValue { .text(self) } }
extension Bool: SQLValueConvertible { public var sqlValue: SQLValue { .integer(self ? 1 : 0) } }
extension SQLValue: SQLValueConvertible { public var sqlValue: SQLValue { self } }
extension Optional: SQLValueConvertible where Wrapped: SQLValueConvertible {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

/// The row a running statement stands on, read in place. Valid only inside the closure it is
/// handed to. Columns are found by name (`column`), then read by the handle found.
public struct Cursor {
    public struct Column { let index: Int32 }

    enum Source {
        /// SQLite's statement, read without copying.
        case statement(OpaquePointer)
        /// A row already decoded (PostgreSQL's).
        case row([SQLValue])
    }

    let source: Source
    let columns: [String: Int]

    /// The handle of `name`; a name the query does not select is a programming error.
    public func column(_ name: String) -> Column {
        guard let i = columns[name] else { preconditionFailure("query selects no column \(name)") }
        return Column(index: Int32(i))
    }

    public func double(_ c: Column) -> Double? {
        switch source {
        case .statement(let stmt): SQLiteDatabase.double(stmt, c.index)
        case .row(let values): values[Int(c.index)].double
        }
    }

    public func int(_ c: Column) -> Int? {
        switch source {
        case .statement(let stmt): SQLiteDatabase.int(stmt, c.index)
        case .row(let values): values[Int(c.index)].int
        }
    }

    public func string(_ c: Column) -> String? {
        switch source {
        case .statement(let stmt): SQLiteDatabase.string(stmt, c.index)
        case .row(let values): values[Int(c.index)].string
        }
    }
}
