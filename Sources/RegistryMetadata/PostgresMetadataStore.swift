import Foundation
import OCI
import PostgresNIO
import Synchronization

/// `MetadataStore` in a PostgreSQL database, which several registry nodes can share.
///
/// Every mutating call is one transaction (READ COMMITTED) on a connection of postgres-nio's
/// pool. What SQLite's single writer orders for free is ordered here by row locks taken inside
/// the transaction (`FOR SHARE` on what a change depends on, `FOR UPDATE` on what it will change),
/// by `SHARE ROW EXCLUSIVE` table locks for a sweep, and by a transaction-scoped advisory lock
/// around event appends (so event sequence numbers follow commit order). A transaction that
/// PostgreSQL aborts as a deadlock victim or serialisation failure is run again, whole.
///
/// The pool runs in a task the store owns: `init` starts `PostgresClient.run()` so the store is
/// usable at once, like `SQLiteMetadataStore`, without the caller wiring a service into a
/// lifecycle it may not have (tests, tools); `shutdown()` cancels that task and waits for the
/// pool to close its connections. Call `migrate()` (or use `open(settings:)`) before serving.
public final class PostgresMetadataStore: MetadataStore, Sendable {
    /// Where and how to connect.
    public struct Settings: Sendable, Equatable {
        public enum TLSMode: String, Sendable, Equatable {
            /// Plain TCP.
            case disable
            /// TLS, without checking the server's certificate (as libpq's `sslmode=require`).
            case require
            /// TLS, checking the certificate against the system trust roots and the host name.
            case verifyFull = "verify-full"
        }

        public var host: String
        public var port: Int
        public var user: String
        public var password: String?
        public var database: String
        public var tls: TLSMode
        /// Most connections open at once (the pool's maximum).
        public var maxOpenConnections: Int
        /// Connections kept open while idle (the pool's minimum; more close after `idleTimeout`).
        public var maxIdleConnections: Int
        /// Connections older than this are closed after their transaction; nil: no limit.
        public var maxConnectionLifetime: Duration?
        /// How long a connection above `maxIdleConnections` may stay idle.
        public var idleTimeout: Duration

        public init(host: String = "127.0.0.1", port: Int = 5432, user: String, password: String?, database: String,
                    tls: TLSMode = .disable, maxOpenConnections: Int = 16, maxIdleConnections: Int = 2,
                    maxConnectionLifetime: Duration? = nil, idleTimeout: Duration = .seconds(60)) {
            self.host = host
            self.port = port
            self.user = user
            self.password = password
            self.database = database
            self.tls = tls
            self.maxOpenConnections = maxOpenConnections
            self.maxIdleConnections = maxIdleConnections
            self.maxConnectionLifetime = maxConnectionLifetime
            self.idleTimeout = idleTimeout
        }
    }

    let client: PostgresClient
    let logger: Logger
    private let settings: Settings
    /// The connection holding this store's `ExclusiveLock`s.
    let locks: PostgresLockSession
    private let runner: Task<Void, Never>
    /// When each pooled connection was first seen, for `maxConnectionLifetime`.
    private let connectionBirths = Mutex<[PostgresConnection.ID: ContinuousClock.Instant]>([:])
    private static let maximumAttempts = 5

    /// Makes the pool and starts running it; connects lazily. Call `migrate()` before use.
    public init(settings: Settings, logger: Logger = Logger(label: "berth.metadata.postgres")) {
        var configuration = PostgresClient.Configuration(host: settings.host, port: settings.port, username: settings.user,
                                                         password: settings.password, database: settings.database,
                                                         tls: Self.tlsConfiguration(settings.tls).map { .require($0) } ?? .disable)
        configuration.options.maximumConnections = max(1, settings.maxOpenConnections)
        configuration.options.minimumConnections = max(0, min(settings.maxIdleConnections, settings.maxOpenConnections))
        configuration.options.connectionIdleTimeout = settings.idleTimeout
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.settings = settings
        locks = PostgresLockSession(logger: logger) { try await Self.connect(settings: settings, logger: logger) }
        // Started at once (`Task.immediate` runs up to its first suspension here), so that
        // `run()` has marked the pool as running before any call leases a connection.
        if #available(macOS 26, *) {
            runner = Task.immediate { await client.run() }
        } else {
            runner = Task { await client.run() }
        }
    }

    /// The TLS a mode asks for; nil for plain TCP.
    private static func tlsConfiguration(_ mode: Settings.TLSMode) -> TLSConfiguration? {
        switch mode {
        case .disable:
            return nil
        case .require:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            return configuration
        case .verifyFull:
            return .makeClientConfiguration()
        }
    }

    /// Makes one connection of its own, outside the pool.
    static func connect(settings: Settings, logger: Logger) async throws -> PostgresConnection {
        var tls = PostgresConnection.Configuration.TLS.disable
        if let configuration = tlsConfiguration(settings.tls) { tls = .require(try NIOSSLContext(configuration: configuration)) }
        let configuration = PostgresConnection.Configuration(
            host: settings.host, port: settings.port, username: settings.user, password: settings.password,
            database: settings.database, tls: tls)
        return try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
    }

    /// Makes one connection directly and closes it. The pool retries a failing connection
    /// quietly for as long as it is asked to; start-up asks once, for PostgreSQL's own error.
    public static func checkConnection(settings: Settings, logger: Logger) async throws {
        try await connect(settings: settings, logger: logger).close()
    }

    /// A store whose schema is applied and checked (after one direct connection succeeded).
    public static func open(settings: Settings, logger: Logger = Logger(label: "berth.metadata.postgres")) async throws -> PostgresMetadataStore {
        try await checkConnection(settings: settings, logger: logger)
        let store = PostgresMetadataStore(settings: settings, logger: logger)
        do {
            try await store.migrate()
        } catch {
            await store.shutdown()
            throw error
        }
        return store
    }

    /// Stops the pool (open transactions fail); the store is unusable afterwards.
    public func shutdown() async {
        await locks.close()
        runner.cancel()
        await runner.value
    }

    deinit { runner.cancel() }

    /// Creates the schema or brings it to `PostgresSchema.version`, under an advisory lock so
    /// that nodes starting together do it once; throws `PostgresMetadataError.schemaTooNew`
    /// when the database was migrated by a newer berth.
    public func migrate() async throws {
        try await write { db in
            try await db.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.migrationLockKey))", logger: self.logger)
            try await db.query(PostgresQuery(unsafeSQL: PostgresSchema.migrationsTable), logger: self.logger)
            let current = try await self.first("SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations", db)?
                .decode(Int64.self) ?? 0
            guard current <= PostgresSchema.version else {
                throw PostgresMetadataError.schemaTooNew(found: Int(current), known: PostgresSchema.version)
            }
            for migration in PostgresSchema.migrations where migration.version > current {
                for statement in migration.statements {
                    try await db.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                }
                try await db.query("""
                    INSERT INTO schema_migrations (version, applied_at) VALUES (\(Int64(migration.version)), \(Self.now))
                    """, logger: self.logger)
            }
        }
    }

    /// The schema version the database is at (0 before the first migration) and the one this
    /// build knows.
    public func schemaVersion() async throws -> (applied: Int, known: Int) {
        let applied = try await write(commit: false) { db in
            try await db.query(PostgresQuery(unsafeSQL: PostgresSchema.migrationsTable), logger: self.logger)
            return try await self.first("SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations", db)?
                .decode(Int64.self) ?? 0
        }
        return (Int(applied), PostgresSchema.version)
    }

    // MARK: Connection handling

    /// One transaction on a pooled connection: committed when `body` returns (rolled back when
    /// `commit` is false), rolled back when it throws; run again on deadlock or serialisation failure.
    /// `durable: false` commits without waiting for the WAL flush (`synchronous_commit = off`), for
    /// the same records as SQLite's non-durable writes: the next durable commit flushes it too.
    func write<T: Sendable>(commit: Bool = true, durable: Bool = true,
                            _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await client.withConnection { db in
                    try await db.query("BEGIN", logger: self.logger)
                    if !durable { try await db.query("SET LOCAL synchronous_commit = off", logger: self.logger) }
                    let value: T
                    do {
                        value = try await body(db)
                    } catch {
                        _ = try? await db.query("ROLLBACK", logger: self.logger)
                        throw error
                    }
                    try await db.query(commit ? "COMMIT" : "ROLLBACK", logger: self.logger)
                    await self.retireIfOld(db)
                    return value
                }
            } catch let error as PSQLError where attempt < Self.maximumAttempts && Self.isTransient(error) {
                attempt += 1
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(10 * attempt))))
            }
        }
    }

    /// Statements outside a transaction (each sees what was committed when it started).
    func read<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await client.withConnection { db in
            let value = try await body(db)
            await self.retireIfOld(db)
            return value
        }
    }

    static func isTransient(_ error: PSQLError) -> Bool {
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40001" || state == "40P01" // serialization_failure, deadlock_detected
    }

    /// Closes a connection past `maxConnectionLifetime` (the pool opens another when needed).
    private func retireIfOld(_ db: PostgresConnection) async {
        guard let lifetime = settings.maxConnectionLifetime else { return }
        let now = ContinuousClock.now
        let born = connectionBirths.withLock { births in
            if let born = births[db.id] { return born }
            births[db.id] = now
            return now
        }
        guard now - born >= lifetime else { return }
        connectionBirths.withLock { _ = $0.removeValue(forKey: db.id) }
        try? await db.close()
    }

    func rows(_ query: PostgresQuery, _ db: PostgresConnection) async throws -> [PostgresRow] {
        try await db.query(query, logger: logger).collect()
    }

    func first(_ query: PostgresQuery, _ db: PostgresConnection) async throws -> PostgresRow? {
        try await rows(query, db).first
    }

    func exists(_ query: PostgresQuery, _ db: PostgresConnection) async throws -> Bool {
        try await first(query, db) != nil
    }

    func run(_ query: PostgresQuery, _ db: PostgresConnection) async throws {
        try await db.query(query, logger: logger)
    }

    func repositoryID(_ repository: RepositoryName, in db: PostgresConnection) async throws -> Int64? {
        try await first("SELECT id FROM repositories WHERE name = \(repository.value)", db)?.decode(Int64.self)
    }

    func ensureRepository(_ repository: RepositoryName, in db: PostgresConnection) async throws -> Int64 {
        if let id = try await repositoryID(repository, in: db) { return id }
        // Waits for a concurrent insert of the same name; then the next read sees its row.
        if let id = try await first("""
            INSERT INTO repositories (name) VALUES (\(repository.value)) ON CONFLICT (name) DO NOTHING RETURNING id
            """, db)?.decode(Int64.self) { return id }
        guard let id = try await repositoryID(repository, in: db) else {
            throw PostgresMetadataError.inconsistent("repository row vanished")
        }
        return id
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970) }

    static func bytes(_ value: [UInt8]?) -> ByteBuffer? { value.map { ByteBuffer(bytes: $0) } }
    static func bytes(_ buffer: ByteBuffer?) -> [UInt8]? { buffer.map { Array($0.readableBytesView) } }

    // MARK: Blobs

    public func claimBlob(_ digest: Digest, size: Int64, protectedUntil: Int64) async throws {
        // Not durable: the link that follows the file's placement is, and flushes this with it.
        try await write(durable: false) { db in
            // Upsert first, then look for a removal mark: the upsert waits for a sweep's
            // uncommitted delete of the row, after which the mark is visible (READ COMMITTED).
            try await self.run("""
                INSERT INTO blobs (digest, size, created_at, protected_until, stored)
                VALUES (\(digest.description), \(size), \(Self.now), \(protectedUntil), FALSE)
                ON CONFLICT (digest) DO UPDATE SET protected_until = GREATEST(blobs.protected_until, excluded.protected_until)
                """, db)
            if try await self.exists("SELECT 1 FROM blob_removals WHERE digest = \(digest.description)", db) {
                throw MetadataConflict.blobBeingRemoved(digest)
            }
        }
    }

    public func linkBlob(_ digest: Digest, size: Int64, to repository: RepositoryName, finishingUpload upload: String?,
                         events: [EventPayload]) async throws {
        try await write { db in
            // The caller placed the file: from now on the row vouches for it.
            guard try await self.exists("UPDATE blobs SET stored = TRUE WHERE digest = \(digest.description) RETURNING 1", db) else {
                throw MetadataConflict.blobBeingRemoved(digest)
            }
            let id = try await self.ensureRepository(repository, in: db)
            try await self.run("""
                INSERT INTO repository_blobs (repository_id, digest, size) VALUES (\(id), \(digest.description), \(size))
                ON CONFLICT DO NOTHING
                """, db)
            if let upload { try await self.run("DELETE FROM uploads WHERE id = \(upload)", db) }
            try await self.insertEvents(events, in: db)
        }
    }

    public func blobLink(_ digest: Digest, in repository: RepositoryName) async throws -> BlobLink? {
        try await read { db in
            try await self.first("""
                SELECT l.size, b.protected_until FROM repository_blobs l
                JOIN repositories r ON r.id = l.repository_id
                JOIN blobs b ON b.digest = l.digest
                WHERE r.name = \(repository.value) AND l.digest = \(digest.description)
                """, db).map { row in
                    let (size, until) = try row.decode((Int64, Int64).self)
                    return BlobLink(size: size, protectedUntil: until)
                }
        }
    }

    public func protectBlob(_ digest: Digest, until: Int64) async throws -> Bool {
        try await write(durable: false) { db in
            if try await self.exists("""
                UPDATE blobs SET protected_until = \(until) WHERE digest = \(digest.description) AND protected_until < \(until) RETURNING 1
                """, db) { return true }
            return try await self.exists("SELECT 1 FROM blobs WHERE digest = \(digest.description)", db)
        }
    }

    public func mountBlob(_ digest: Digest, from source: RepositoryName?, into target: RepositoryName,
                          protectedUntil: Int64, events: @escaping @Sendable (Int64) -> [EventPayload]) async throws -> Int64? {
        try await write { db in
            // FOR SHARE: an unlink or a sweep removing what is mounted waits for this to commit.
            let size: Int64?
            if let source {
                size = try await self.first("""
                    SELECT l.size FROM repository_blobs l JOIN repositories r ON r.id = l.repository_id
                    WHERE r.name = \(source.value) AND l.digest = \(digest.description) FOR SHARE OF l
                    """, db)?.decode(Int64.self)
            } else {
                size = try await self.first("SELECT size FROM blobs WHERE digest = \(digest.description) AND stored FOR SHARE", db)?
                    .decode(Int64.self)
            }
            guard let size else { return nil }
            try await self.run("""
                UPDATE blobs SET protected_until = \(protectedUntil) WHERE digest = \(digest.description) AND protected_until < \(protectedUntil)
                """, db)
            let id = try await self.ensureRepository(target, in: db)
            try await self.run("""
                INSERT INTO repository_blobs (repository_id, digest, size) VALUES (\(id), \(digest.description), \(size))
                ON CONFLICT DO NOTHING
                """, db)
            try await self.insertEvents(events(size), in: db)
            return size
        }
    }

    public func unlinkBlob(_ digest: Digest, from repository: RepositoryName, events: [EventPayload]) async throws -> Bool {
        try await write { db in
            guard let id = try await self.repositoryID(repository, in: db) else { return false }
            guard try await self.exists("""
                DELETE FROM repository_blobs WHERE repository_id = \(id) AND digest = \(digest.description) RETURNING 1
                """, db) else { return false }
            try await self.insertEvents(events, in: db)
            return true
        }
    }

    // MARK: Uploads

    public func createUpload(_ upload: UploadRecord) async throws {
        try await write { db in
            try await self.run("""
                INSERT INTO uploads (id, repository, size, created_at, digest_state)
                VALUES (\(upload.id), \(upload.repository.value), \(upload.size), \(upload.createdAt), \(Self.bytes(upload.digestState)))
                """, db)
        }
    }

    private static func uploadRecord(_ row: PostgresRow) throws -> UploadRecord {
        let (id, repository, size, createdAt, state) = try row.decode((String, String, Int64, Int64, ByteBuffer?).self)
        let bytes = Self.bytes(state)
        return UploadRecord(id: id, repository: try RepositoryName(repository), size: size, createdAt: createdAt,
                            digestState: bytes?.isEmpty == false ? bytes : nil)
    }

    public func upload(_ id: String) async throws -> UploadRecord? {
        try await read { db in
            try await self.first("SELECT id, repository, size, created_at, digest_state FROM uploads WHERE id = \(id)", db)
                .map(Self.uploadRecord)
        }
    }

    /// A compare-and-set: only the request that finds the session still at `old` moves it.
    public func setUploadSize(_ id: String, from old: Int64, to size: Int64, digestState: [UInt8]?) async throws -> Bool {
        try await write { db in
            try await self.exists("""
                UPDATE uploads SET size = \(size), digest_state = \(Self.bytes(digestState))
                WHERE id = \(id) AND size = \(old) RETURNING 1
                """, db)
        }
    }

    public func deleteUpload(_ id: String) async throws {
        try await write { db in try await self.run("DELETE FROM uploads WHERE id = \(id)", db) }
    }

    public func uploads(startedBefore: Int64) async throws -> [UploadRecord] {
        try await read { db in
            try await self.rows("""
                SELECT id, repository, size, created_at, digest_state FROM uploads WHERE created_at < \(startedBefore) ORDER BY id
                """, db).map(Self.uploadRecord)
        }
    }

    // MARK: Settings

    public func setting(_ key: String) async throws -> String? {
        try await read { db in try await self.first("SELECT value FROM settings WHERE key = \(key)", db)?.decode(String.self) }
    }

    public func setSetting(_ key: String, to value: String) async throws {
        try await write { db in try await self.setSetting(key, to: value, in: db) }
    }

    func setSetting(_ key: String, to value: String, in db: PostgresConnection) async throws {
        try await run("""
            INSERT INTO settings (key, value) VALUES (\(key), \(value)) ON CONFLICT (key) DO UPDATE SET value = excluded.value
            """, db)
    }
}
