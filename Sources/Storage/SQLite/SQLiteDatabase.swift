import CSQLite
import Foundation
import Synchronization

extension DatabaseError {
    /// A SQLite failure, by its (extended) result code.
    init(sqlite code: Int32, message: String, sql: String?) {
        let kind: Kind =
            switch code & 0xff {
            case SQLITE_BUSY, SQLITE_LOCKED: .busy
            case SQLITE_FULL: .full
            case SQLITE_READONLY, SQLITE_CANTOPEN: .readOnly
            case SQLITE_CONSTRAINT: .constraint
            default: .other
            }
        self.init(kind: kind, code: "SQLite \(code)", message: message, sql: sql)
    }
}

/// One SQLite connection in WAL mode, used from any thread one call at a time, with CallTrack's
/// schema brought up to date when it opens.
///
/// Statements are prepared once and cached by their SQL text. Every method holds the
/// connection's lock for its whole duration, so `write` is atomic.
public final class SQLiteDatabase: SQLDatabase {
    private struct State {
        var handle: OpaquePointer
        var statements: [String: OpaquePointer] = [:]
    }
    private let state: Mutex<State?>
    private let writes: DispatchQueue
    public let path: String

    /// Opens (creating if needed) the database file and its parent folder, and migrates it.
    /// `readOnly` opens a second connection to a database another one keeps up to date: in WAL
    /// mode its reads neither wait for that connection's writes nor hold them up.
    public init(path: String, readOnly: Bool = false) throws {
        self.path = path
        writes = DispatchQueue(label: "calltrack.sqlite.writes")
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
            throw DatabaseError(sqlite: rc, message: "\(msg): \(path)", sql: nil)
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
                sqlite: SQLITE_ERROR, message: "WAL mode not available (journal_mode=\(mode ?? "?"))", sql: nil)
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
            guard let s = state else { throw DatabaseError(sqlite: SQLITE_MISUSE, message: "closed", sql: sql) }
            var err: UnsafeMutablePointer<CChar>?
            let rc = sqlite3_exec(s.handle, sql, nil, nil, &err)
            if rc != SQLITE_OK {
                let msg = err.map { String(cString: $0) } ?? "error"
                sqlite3_free(err)
                throw DatabaseError(sqlite: rc, message: msg, sql: sql)
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
            guard state != nil else { throw DatabaseError(sqlite: SQLITE_MISUSE, message: "closed", sql: sql) }
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
                guard state != nil else { throw DatabaseError(sqlite: SQLITE_MISUSE, message: "closed", sql: sql) }
                try Self.step(&state!, sql, arguments.map(\.sqlValue)) { @Sendable cursor in try sink.body(cursor) }
            }
        }
    }

    public var dialect: SQLDialect { .sqlite }

    /// Collects the statements `body` adds to a batch, then runs them all inside one
    /// BEGIN IMMEDIATE … COMMIT on this connection's own queue: SQLite blocks while it writes (and while it
    /// waits for a lock), and the few threads async code shares must never wait with it.
    public func write<T: Sendable>(_ body: (WriteBatch) throws -> T) async throws -> T {
        let batch = WriteBatch(dialect: .sqlite)
        let result = try body(batch)
        let statements = batch.statements
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
            writes.async { c.resume(with: Result { try self.transaction(statements) }) }
        }
        return result
    }

    /// Runs statements in one transaction, here and now.
    func transaction(_ statements: [(sql: String, arguments: [SQLValue])]) throws {
        try state.withLock { state in
            guard state != nil else { throw DatabaseError(sqlite: SQLITE_MISUSE, message: "closed", sql: nil) }
            _ = try Self.run(&state!, "BEGIN IMMEDIATE", [])
            do {
                for (sql, args) in statements { _ = try Self.run(&state!, sql, args) }
                _ = try Self.run(&state!, "COMMIT", [])
            } catch {
                _ = try? Self.run(&state!, "ROLLBACK", [])
                throw error
            }
        }
    }

    /// Runs a statement and returns its rows.
    private static func run(_ state: inout State, _ sql: String, _ arguments: [SQLValue]) throws -> [Row] {
        var rows: [Row] = []
        try step(&state, sql, arguments) { cursor in
            guard case .statement(let stmt) = cursor.source else { return }
            let count = sqlite3_column_count(stmt)
            rows.append(Row(columns: cursor.columns, values: (0..<count).map { value(stmt, $0) }))
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
                throw DatabaseError(sqlite: rc, message: String(cString: sqlite3_errmsg(state.handle)), sql: sql)
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
                throw DatabaseError(sqlite: rc, message: String(cString: sqlite3_errmsg(state.handle)), sql: sql)
            }
        }
        var columns: [String: Int] = [:]
        for c in 0..<sqlite3_column_count(stmt) {
            if let name = sqlite3_column_name(stmt, c) { columns[String(cString: name)] = Int(c) }
        }
        let cursor = Cursor(source: .statement(stmt), columns: columns)
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else {
                throw DatabaseError(sqlite: rc, message: String(cString: sqlite3_errmsg(state.handle)), sql: sql)
            }
            try each(cursor)
        }
    }
}

private struct CursorSink: @unchecked Sendable { let body: (Cursor) throws -> Void }

extension SQLiteDatabase {
    static func double(_ stmt: OpaquePointer, _ i: Int32) -> Double? {
        sqlite3_column_type(stmt, i) == SQLITE_NULL ? nil : sqlite3_column_double(stmt, i)
    }

    static func int(_ stmt: OpaquePointer, _ i: Int32) -> Int? {
        sqlite3_column_type(stmt, i) == SQLITE_NULL ? nil : Int(sqlite3_column_int64(stmt, i))
    }

    static func string(_ stmt: OpaquePointer, _ i: Int32) -> String? {
        sqlite3_column_text(stmt, i).map { String(cString: $0) }
    }

    static func value(_ stmt: OpaquePointer, _ i: Int32) -> SQLValue {
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
