import CSQLite
import Foundation
import Synchronization

/// A SQLite failure: what kind, SQLite's (extended) result code, its message and the SQL.
public struct DatabaseError: Error, CustomStringConvertible {
    /// The failures an operator acts on differently; SQLite's primary result codes.
    public enum Kind: Sendable, Equatable {
        /// Another connection holds the lock past the busy timeout.
        case busy
        /// The disk (or the database's size limit) is full.
        case full
        /// The file or its folder cannot be written.
        case readOnly
        case constraint
        case other
    }

    public let code: Int32
    public let message: String
    public let sql: String?

    public var kind: Kind {
        switch code & 0xff {
        case SQLITE_BUSY, SQLITE_LOCKED: .busy
        case SQLITE_FULL: .full
        case SQLITE_READONLY, SQLITE_CANTOPEN: .readOnly
        case SQLITE_CONSTRAINT: .constraint
        default: .other
        }
    }

    public var description: String { "SQLite error \(code): \(message)" + (sql.map { " (in \($0))" } ?? "") }
}

/// One result row, read by column name (`row["started_at"]`), never by position.
public struct Row: Sendable {
    fileprivate let columns: [String: Int]
    fileprivate let values: [SQLValue]

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
extension Optional: SQLValueConvertible where Wrapped: SQLValueConvertible {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

/// One SQLite connection in WAL mode, used from any thread one call at a time, with CallTrack's
/// schema brought up to date when it opens.
///
/// Statements are prepared once and cached by their SQL text. Every method holds the
/// connection's lock for its whole duration, so `write` is atomic.
public final class Database: Sendable {
    private struct State {
        var handle: OpaquePointer
        var statements: [String: OpaquePointer] = [:]
    }
    private let state: Mutex<State?>
    public let path: String

    /// Opens (creating if needed) the database file and its parent folder, and migrates it.
    /// `readOnly` opens a second connection to a database another one keeps up to date: in WAL
    /// mode its reads neither wait for that connection's writes nor hold them up.
    public init(path: String, readOnly: Bool = false) throws {
        self.path = path
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty && !readOnly {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        var handle: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let msg = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let handle { sqlite3_close_v2(handle) }
            throw DatabaseError(code: rc, message: "\(msg): \(path)", sql: nil)
        }
        sqlite3_extended_result_codes(handle, 1)
        // The one writing connection waits briefly for a lock another process holds (a backup): its batch
        // writers hold their changes and retry without a thread, and nothing else queues behind it for long.
        sqlite3_busy_timeout(handle, readOnly ? 5000 : 250)
        state = Mutex(State(handle: handle))
        if readOnly { return }
        let mode = try scalar("PRAGMA journal_mode = WAL")?.string
        guard mode?.lowercased() == "wal" else {
            throw DatabaseError(
                code: SQLITE_ERROR, message: "WAL mode not available (journal_mode=\(mode ?? "?"))", sql: nil)
        }
        try execute("PRAGMA synchronous = NORMAL")
        try execute("PRAGMA foreign_keys = ON")
        try Migrations.migrate(self)
    }

    deinit {
        state.withLock { state in
            guard let s = state else { return }
            state = nil
            for stmt in s.statements.values { sqlite3_finalize(stmt) }
            sqlite3_close_v2(s.handle)
        }
    }

    /// Runs one statement that returns no rows.
    public func execute(_ sql: String, _ arguments: [SQLValueConvertible] = []) throws { _ = try query(sql, arguments) }

    /// Runs several statements separated by semicolons (migrations); no arguments.
    public func executeScript(_ sql: String) throws {
        try state.withLock { state in
            guard let s = state else { throw DatabaseError(code: SQLITE_MISUSE, message: "closed", sql: sql) }
            var err: UnsafeMutablePointer<CChar>?
            let rc = sqlite3_exec(s.handle, sql, nil, nil, &err)
            if rc != SQLITE_OK {
                let msg = err.map { String(cString: $0) } ?? "error"
                sqlite3_free(err)
                throw DatabaseError(code: rc, message: msg, sql: sql)
            }
        }
    }

    /// The one value a statement like `SELECT count(*)` returns (nil for no row).
    public func scalar(_ sql: String, _ arguments: [SQLValueConvertible] = []) throws -> SQLValue? {
        try query(sql, arguments).first?.values.first
    }

    /// Runs one statement and returns its rows.
    @discardableResult public func query(_ sql: String, _ arguments: [SQLValueConvertible] = []) throws -> [Row] {
        try state.withLock { state in
            guard state != nil else { throw DatabaseError(code: SQLITE_MISUSE, message: "closed", sql: sql) }
            return try Self.run(&state!, sql, arguments.map(\.sqlValue))
        }
    }

    /// Runs one statement and hands each row to `body` in place, copying nothing: for results too big
    /// to hold (a month of calls for a report). `columns` finds the columns `body` reads by name,
    /// once, before the first row.
    public func scan<Columns>(
        _ sql: String, _ arguments: [SQLValueConvertible] = [], columns: (Cursor) -> Columns,
        _ body: (Cursor, Columns) throws -> Void
    ) throws {
        var found: Columns?
        try withoutActuallyEscaping({ (cursor: Cursor) throws in
            if found == nil { found = columns(cursor) }
            try body(cursor, found!)
        }) { each in
            // The closure runs on this thread, inside the lock, and never outlives the call: the
            // box only tells the region checker so.
            let sink = CursorSink(body: each)
            try state.withLock { state in
                guard state != nil else { throw DatabaseError(code: SQLITE_MISUSE, message: "closed", sql: sql) }
                try Self.step(&state!, sql, arguments.map(\.sqlValue)) { @Sendable cursor in try sink.body(cursor) }
            }
        }
    }

    /// Collects the statements `body` adds to a batch, then runs them all inside one
    /// BEGIN IMMEDIATE … COMMIT: all of them are written or, on any failure, none.
    public func write<T>(_ body: (WriteBatch) throws -> T) throws -> T {
        try state.withLock { state in
            guard state != nil else { throw DatabaseError(code: SQLITE_MISUSE, message: "closed", sql: nil) }
            _ = try Self.run(&state!, "BEGIN IMMEDIATE", [])
            let batch = WriteBatch()
            do {
                let result = try body(batch)
                for (sql, args) in batch.statements { _ = try Self.run(&state!, sql, args) }
                _ = try Self.run(&state!, "COMMIT", [])
                return result
            } catch {
                _ = try? Self.run(&state!, "ROLLBACK", [])
                throw error
            }
        }
    }

    /// Statements collected inside `write`, run in order in one transaction.
    public final class WriteBatch {
        fileprivate var statements: [(String, [SQLValue])] = []
        public func execute(_ sql: String, _ arguments: [SQLValueConvertible] = []) {
            statements.append((sql, arguments.map(\.sqlValue)))
        }
    }

    /// Runs a statement and returns its rows.
    private static func run(_ state: inout State, _ sql: String, _ arguments: [SQLValue]) throws -> [Row] {
        var rows: [Row] = []
        try step(&state, sql, arguments) { cursor in
            rows.append(Row(columns: cursor.columns, values: (0..<cursor.count).map { cursor.value(Int32($0)) }))
        }
        return rows
    }

    /// Runs a statement, handing the cursor to `each` on every row.
    private static func step(
        _ state: inout State, _ sql: String, _ arguments: [SQLValue], each: (Cursor) throws -> Void
    ) throws {
        let stmt: OpaquePointer
        if let cached = state.statements[sql] {
            stmt = cached
        } else {
            var s: OpaquePointer?
            let rc = sqlite3_prepare_v2(state.handle, sql, -1, &s, nil)
            guard rc == SQLITE_OK, let s else {
                throw DatabaseError(code: rc, message: String(cString: sqlite3_errmsg(state.handle)), sql: sql)
            }
            state.statements[sql] = s
            stmt = s
        }
        defer {
            sqlite3_reset(stmt)
            sqlite3_clear_bindings(stmt)
        }
        for (i, value) in arguments.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(stmt, index)
            case .integer(let v): rc = sqlite3_bind_int64(stmt, index, v)
            case .real(let v): rc = sqlite3_bind_double(stmt, index, v)
            case .text(let v): rc = sqlite3_bind_text(stmt, index, v, -1, sqliteTransient)
            }
            guard rc == SQLITE_OK else {
                throw DatabaseError(code: rc, message: String(cString: sqlite3_errmsg(state.handle)), sql: sql)
            }
        }
        var columns: [String: Int] = [:]
        for c in 0..<sqlite3_column_count(stmt) {
            if let name = sqlite3_column_name(stmt, c) { columns[String(cString: name)] = Int(c) }
        }
        let cursor = Cursor(stmt: stmt, columns: columns, count: Int(sqlite3_column_count(stmt)))
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else {
                throw DatabaseError(code: rc, message: String(cString: sqlite3_errmsg(state.handle)), sql: sql)
            }
            try each(cursor)
        }
    }
}

private struct CursorSink: @unchecked Sendable { let body: (Cursor) throws -> Void }

/// The row a running statement stands on, read in place. Valid only inside the closure it is
/// handed to. Columns are found by name (`column`), then read by the handle found.
public struct Cursor {
    public struct Column { fileprivate let index: Int32 }

    fileprivate let stmt: OpaquePointer
    fileprivate let columns: [String: Int]
    fileprivate let count: Int

    /// The handle of `name`; a name the query does not select is a programming error.
    public func column(_ name: String) -> Column {
        guard let i = columns[name] else { preconditionFailure("query selects no column \(name)") }
        return Column(index: Int32(i))
    }

    public func double(_ c: Column) -> Double? {
        sqlite3_column_type(stmt, c.index) == SQLITE_NULL ? nil : sqlite3_column_double(stmt, c.index)
    }

    public func int(_ c: Column) -> Int? {
        sqlite3_column_type(stmt, c.index) == SQLITE_NULL ? nil : Int(sqlite3_column_int64(stmt, c.index))
    }

    public func string(_ c: Column) -> String? { sqlite3_column_text(stmt, c.index).map { String(cString: $0) } }

    fileprivate func value(_ i: Int32) -> SQLValue {
        switch sqlite3_column_type(stmt, i) {
        case SQLITE_INTEGER: .integer(sqlite3_column_int64(stmt, i))
        case SQLITE_FLOAT: .real(sqlite3_column_double(stmt, i))
        case SQLITE_NULL: .null
        default: sqlite3_column_text(stmt, i).map { .text(String(cString: $0)) } ?? .null
        }
    }
}

/// SQLite's SQLITE_TRANSIENT (copy the bytes now): a macro casting -1 to a destructor pointer, which
/// Swift cannot import.
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
