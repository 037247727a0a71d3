import PostgresNIO

/// `berth-registry migrate import-sqlite`: copies an embedded registry's SQLite metadata (every
/// table of schema version 4) into an empty PostgreSQL database, in one transaction, so that a
/// registry outgrowing one box keeps its tags, pull times, blob protections, upload sessions and
/// undelivered events. Blobs are not touched: they stay where the storage section says.
///
/// Run it with the embedded registry stopped: the copy is of one moment of the file.
public enum SQLiteImport {
    /// How many rows each table gave, in copy order.
    public struct Report: Sendable, Equatable {
        public var rows: [Row]

        public struct Row: Sendable, Equatable {
            public let table: String
            public let count: Int
        }

        public func count(_ table: String) -> Int { rows.first { $0.table == table }?.count ?? 0 }
    }

    /// How a column is read from SQLite and bound for PostgreSQL.
    enum Kind: Sendable {
        case integer, optionalInteger, text, optionalText, boolean, bytes, optionalBytes
    }

    enum Value: Sendable {
        case integer(Int64), text(String), boolean(Bool), bytes([UInt8]), null
    }

    struct Table: Sendable {
        let name: String
        let columns: [(name: String, kind: Kind)]
        /// Rows not copied (a key of the settings that only meant something to the old file).
        var skips: String = ""
    }

    /// Parents before children, as the foreign keys need.
    static let tables: [Table] = [
        Table(name: "repositories", columns: [("id", .integer), ("name", .text)]),
        Table(name: "repository_blobs", columns: [("repository_id", .integer), ("digest", .text), ("size", .integer)]),
        Table(name: "manifests", columns: [
            ("repository_id", .integer), ("digest", .text), ("media_type", .text), ("size", .integer),
            ("artifact_type", .optionalText), ("subject", .optionalText), ("annotations", .optionalText), ("created_at", .integer),
        ]),
        Table(name: "manifest_references", columns: [
            ("repository_id", .integer), ("parent", .text), ("child", .text), ("is_manifest", .boolean),
        ]),
        Table(name: "tags", columns: [
            ("repository_id", .integer), ("name", .text), ("digest", .text), ("pushed_at", .integer), ("pulled_at", .optionalInteger),
        ]),
        Table(name: "uploads", columns: [
            ("id", .text), ("repository", .text), ("size", .integer), ("created_at", .integer), ("digest_state", .optionalBytes),
        ]),
        Table(name: "blobs", columns: [
            ("digest", .text), ("size", .integer), ("created_at", .integer), ("protected_until", .integer), ("stored", .boolean),
        ]),
        Table(name: "blob_removals", columns: [("digest", .text), ("started_at", .integer)]),
        // The sweep lease of berth 0.1's SQLite stores; locks are not rows any more.
        Table(name: "settings", columns: [("key", .text), ("value", .text)], skips: "WHERE key <> 'gc_sweep_lease'"),
        Table(name: "events", columns: [("seq", .integer), ("created_at", .integer), ("payload", .bytes)]),
        Table(name: "event_cursors", columns: [("endpoint", .text), ("delivered", .integer)]),
    ]

    /// Rows per INSERT statement.
    static let batch = 200

    /// Every row of `table`, read from SQLite.
    static func read(_ table: Table, in db: SQLiteConnection) throws -> [[Value]] {
        let names = table.columns.map(\.name).joined(separator: ", ")
        return try db.statement("SELECT \(names) FROM \(table.name) \(table.skips)").rows { row in
            table.columns.enumerated().map { index, column in
                let index = Int32(index)
                switch column.kind {
                case .integer: return .integer(row.int(index))
                case .optionalInteger: return row.isNull(index) ? .null : .integer(row.int(index))
                case .text: return .text(row.text(index) ?? "")
                case .optionalText: return row.text(index).map(Value.text) ?? .null
                case .boolean: return .boolean(row.int(index) != 0)
                case .bytes: return .bytes(row.blob(index))
                case .optionalBytes: return row.isNull(index) ? .null : .bytes(row.blob(index))
                }
            }
        }
    }

    /// One multi-row INSERT of `rows` into `table`.
    static func insert(_ rows: ArraySlice<[Value]>, into table: Table) -> PostgresQuery {
        var bindings = PostgresBindings(capacity: rows.count * table.columns.count)
        var tuples: [String] = []
        tuples.reserveCapacity(rows.count)
        for row in rows {
            var placeholders: [String] = []
            for value in row {
                switch value {
                case .integer(let integer): bindings.append(integer)
                case .text(let text): bindings.append(text)
                case .boolean(let boolean): bindings.append(boolean)
                case .bytes(let bytes): bindings.append(ByteBuffer(bytes: bytes))
                case .null: bindings.appendNull()
                }
                placeholders.append("$\(bindings.count)")
            }
            tuples.append("(" + placeholders.joined(separator: ", ") + ")")
        }
        let names = table.columns.map(\.name).joined(separator: ", ")
        return PostgresQuery(unsafeSQL: "INSERT INTO \(table.name) (\(names)) VALUES " + tuples.joined(separator: ", "), binds: bindings)
    }
}

extension PostgresMetadataStore {
    /// Copies `source` into this database, which must hold no registry data yet (a database
    /// that only `migrate up` or a node's start-up touched is fine); throws
    /// `PostgresMetadataError.notEmpty` otherwise and changes nothing.
    public func importSQLite(from source: SQLiteMetadataStore) async throws -> SQLiteImport.Report {
        let contents = try await source.read { db in try SQLiteImport.tables.map { try SQLiteImport.read($0, in: db) } }
        try await write { db in try await self.copy(contents, in: db) }
        return SQLiteImport.Report(rows: zip(SQLiteImport.tables, contents).map { .init(table: $0.name, count: $1.count) })
    }

    private func copy(_ contents: [[[SQLiteImport.Value]]], in db: PostgresConnection) async throws {
        // No node writes while the copy runs, and none has written before it.
        try await run("LOCK TABLE repositories, blobs, uploads, events IN EXCLUSIVE MODE", db)
        let used = try await first("""
            SELECT EXISTS (SELECT 1 FROM repositories) OR EXISTS (SELECT 1 FROM blobs)
                OR EXISTS (SELECT 1 FROM uploads) OR EXISTS (SELECT 1 FROM events)
            """, db)?.decode(Bool.self) ?? true
        if used { throw PostgresMetadataError.notEmpty }
        // What a node's start-up may have written: the cursors and settings come from the file.
        try await run("DELETE FROM event_cursors", db)
        try await run("DELETE FROM settings", db)
        for (table, rows) in zip(SQLiteImport.tables, contents) {
            var start = rows.startIndex
            while start < rows.endIndex {
                let end = min(start + SQLiteImport.batch, rows.endIndex)
                try await db.query(SQLiteImport.insert(rows[start..<end], into: table), logger: logger)
                start = end
            }
        }
        // The serial columns go on after the copied numbers.
        try await run("""
            SELECT setval(pg_get_serial_sequence('repositories', 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM repositories
            """, db)
        try await run("""
            SELECT setval(pg_get_serial_sequence('events', 'seq'), COALESCE(MAX(seq), 1), MAX(seq) IS NOT NULL) FROM events
            """, db)
    }
}
