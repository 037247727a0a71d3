import CSQLite

/// An error from SQLite, keeping the call's result code and message.
public struct SQLiteError: Error, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public var description: String { "sqlite error \(code): \(message)" }
}

/// One SQLite connection with a cache of prepared statements.
///
/// Not thread-safe by itself: `SQLiteMetadataStore` hands each connection to one caller at a time.
final class SQLiteConnection {
    private let handle: OpaquePointer
    private var statements: [String: Statement] = [:]

    init(path: String, readOnly: Bool) throws {
        var db: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let db { sqlite3_close(db) }
            throw SQLiteError(code: rc, message: "\(message) (\(path))")
        }
        handle = db
        // Writers wait for each other instead of failing with SQLITE_BUSY.
        sqlite3_busy_timeout(db, 10_000)
    }

    deinit {
        for statement in statements.values { statement.finalize() }
        sqlite3_close(handle)
    }

    func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        if rc != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? "unknown"
            sqlite3_free(error)
            throw SQLiteError(code: rc, message: message)
        }
    }

    /// A prepared statement for `sql`, reset and with bindings cleared, cached for reuse.
    func statement(_ sql: String) throws -> Statement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard rc == SQLITE_OK, let raw else { throw lastError(rc) }
        let statement = Statement(raw: raw, connection: self)
        statements[sql] = statement
        return statement
    }

    /// Runs `body` in one `BEGIN IMMEDIATE ... COMMIT` transaction, rolling back if it throws
    /// (or always, when `commit` is false: a dry run).
    func transaction<T>(commit: Bool = true, _ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute(commit ? "COMMIT" : "ROLLBACK")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    var changes: Int { Int(sqlite3_changes(handle)) }

    func lastError(_ rc: Int32) -> SQLiteError {
        SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(handle)))
    }
}

/// A prepared statement; bind parameters by 1-based index, then step through rows.
final class Statement {
    private let raw: OpaquePointer
    private unowned let connection: SQLiteConnection
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    fileprivate init(raw: OpaquePointer, connection: SQLiteConnection) {
        self.raw = raw
        self.connection = connection
    }

    fileprivate func finalize() { sqlite3_finalize(raw) }

    fileprivate func reset() {
        sqlite3_reset(raw)
        sqlite3_clear_bindings(raw)
    }

    @discardableResult
    func bind(_ values: (any SQLiteValue)?...) -> Statement {
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            switch value {
            case nil: sqlite3_bind_null(raw, index)
            case let int as Int: sqlite3_bind_int64(raw, index, Int64(int))
            case let int as Int64: sqlite3_bind_int64(raw, index, int)
            case let text as String: sqlite3_bind_text(raw, index, text, -1, Statement.transient)
            case let bytes as [UInt8]:
                bytes.withUnsafeBytes { buffer in
                    _ = sqlite3_bind_blob(raw, index, buffer.baseAddress, Int32(buffer.count), Statement.transient)
                }
            default: sqlite3_bind_null(raw, index)
            }
        }
        return self
    }

    /// Advances to the next row; false when done.
    func step() throws -> Bool {
        let rc = sqlite3_step(raw)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE:
            sqlite3_reset(raw)
            return false
        default:
            let error = connection.lastError(rc)
            sqlite3_reset(raw)
            throw error
        }
    }

    /// Runs a statement that returns no rows.
    func run() throws {
        while try step() {}
    }

    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(raw, column) }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(raw, column) == SQLITE_NULL }

    func text(_ column: Int32) -> String? {
        guard sqlite3_column_type(raw, column) != SQLITE_NULL, let pointer = sqlite3_column_text(raw, column) else { return nil }
        return String(cString: pointer)
    }

    func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(raw, column))
        guard count > 0, let pointer = sqlite3_column_blob(raw, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// Collects every row through `row`; the statement is reset afterwards.
    func rows<T>(_ row: (Statement) throws -> T) throws -> [T] {
        var result: [T] = []
        while try step() { result.append(try row(self)) }
        return result
    }

    /// The first row, if any; the statement is reset afterwards.
    func first<T>(_ row: (Statement) throws -> T) throws -> T? {
        guard try step() else { return nil }
        let value = try row(self)
        sqlite3_reset(raw)
        return value
    }
}

/// Values that can be bound to a statement parameter.
protocol SQLiteValue {}
extension Int: SQLiteValue {}
extension Int64: SQLiteValue {}
extension Array: SQLiteValue where Element == UInt8 {}
extension String: SQLiteValue {}
