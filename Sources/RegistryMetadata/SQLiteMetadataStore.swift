import Foundation
import NIOPosix
import OCI

/// `MetadataStore` in one SQLite database (system libsqlite3, WAL mode, `synchronous=FULL`).
///
/// Writes run on one thread of their own (SQLite allows one writer anyway), reads on a small pool
/// of reader connections, so reads never wait for a write transaction in WAL mode and no SQLite
/// call ever runs on an event loop or the concurrency pool.
///
/// `@unchecked Sendable`: the writer connection is only used on the writer thread (under
/// `writerLock` as well), and each reader connection by the one call that took it out of
/// `idleReaders` (under `readersLock`).
public final class SQLiteMetadataStore: MetadataStore, @unchecked Sendable {
    let path: String
    private let writer: SQLiteConnection
    private let writerLock = NSLock()
    private let groupCommit: SQLiteGroupCommit
    private var idleReaders: [SQLiteConnection] = []
    private let readersLock = NSLock()
    private static let maximumIdleReaders = 8

    private static let writerThread: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()
    static let readerThreads: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        return pool
    }()

    /// Opens (creating if needed) the database at `path`, applying the schema and its migrations.
    /// Blocking: call it at start-up, before serving.
    public init(path: String) throws {
        self.path = path
        let connection = try SQLiteConnection(path: path, readOnly: false)
        try connection.execute(SQLiteSchema.version1)
        try connection.execute("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        let version = try connection.statement("PRAGMA user_version").first { $0.int(0) } ?? 0
        if version < 2 {
            try connection.transaction { try connection.execute(SQLiteSchema.migrationTo2) }
        }
        if version < 3 {
            try connection.transaction { try connection.execute(SQLiteSchema.migrationTo3) }
        }
        if version < 4 {
            try connection.transaction { try connection.execute(SQLiteSchema.migrationTo4) }
        }
        writer = connection
        groupCommit = SQLiteGroupCommit(connection: connection, lock: writerLock, thread: Self.writerThread)
    }

    // MARK: Connection handling

    /// One write transaction on the writer thread, committed with the others that arrived
    /// meanwhile (`SQLiteGroupCommit`), answered once that commit is durable. `durable: false`
    /// commits without syncing the WAL (`synchronous = NORMAL`) when no write of the group needs
    /// it: still safe from a process crash, and made durable by the next durable commit; for
    /// records whose loss on power failure harms nothing (a claim made just before a file is
    /// placed, a protection, a pull time). `commit: false` (a dry run) runs alone, rolled back.
    func write<T: Sendable>(commit: Bool = true, durable: Bool = true,
                            _ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        if commit {
            let outcome = SQLiteWriteOutcome<T>()
            return try await withCheckedThrowingContinuation { continuation in
                groupCommit.submit(SQLiteGroupCommit.Job(durable: durable, run: { db in
                    do {
                        outcome.result = .success(try body(db))
                        return false
                    } catch {
                        outcome.result = .failure(error)
                        return true
                    }
                }, answer: { failure in
                    switch (outcome.result, failure) {
                    case (.failure(let error)?, _): continuation.resume(throwing: error)
                    case (_, let failure?): continuation.resume(throwing: failure)
                    case (.success(let value)?, nil): continuation.resume(returning: value)
                    case (nil, nil): continuation.resume(throwing: CancellationError())
                    }
                }))
            }
        }
        return try await Self.writerThread.runIfActive { [self] in
            try writerLock.withLock { try writer.transaction(commit: false) { try body(writer) } }
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await Self.readerThreads.runIfActive { [self] in
            let connection = try readersLock.withLock { idleReaders.popLast() } ?? openReader()
            defer {
                readersLock.withLock {
                    if idleReaders.count < Self.maximumIdleReaders { idleReaders.append(connection) }
                }
            }
            return try body(connection)
        }
    }

    private func openReader() throws -> SQLiteConnection {
        let connection = try SQLiteConnection(path: path, readOnly: true)
        try connection.execute("PRAGMA query_only = ON;")
        return connection
    }

    func repositoryID(_ repository: RepositoryName, in db: SQLiteConnection) throws -> Int64? {
        try db.statement("SELECT id FROM repositories WHERE name = ?").bind(repository.value).first { $0.int(0) }
    }

    func ensureRepository(_ repository: RepositoryName, in db: SQLiteConnection) throws -> Int64 {
        if let id = try repositoryID(repository, in: db) { return id }
        try db.statement("INSERT INTO repositories (name) VALUES (?)").bind(repository.value).run()
        guard let id = try repositoryID(repository, in: db) else {
            throw SQLiteError(code: 0, message: "repository row vanished")
        }
        return id
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970) }

    // MARK: Blobs

    public func claimBlob(_ digest: Digest, size: Int64, protectedUntil: Int64) async throws {
        // Not durable: the link that follows the file's placement is, and commits this with it.
        try await write(durable: false) { db in
            // Upsert first, then look for a removal mark: in PostgreSQL the upsert waits for a
            // sweep's uncommitted delete of the row, after which the mark is visible.
            try db.statement("""
                INSERT INTO blobs (digest, size, created_at, protected_until, stored) VALUES (?, ?, ?, ?, 0)
                ON CONFLICT (digest) DO UPDATE SET protected_until = MAX(blobs.protected_until, excluded.protected_until)
                """).bind(digest.description, size, Self.now, protectedUntil).run()
            if try db.statement("SELECT 1 FROM blob_removals WHERE digest = ?").bind(digest.description).first({ _ in true }) ?? false {
                throw MetadataConflict.blobBeingRemoved(digest)
            }
        }
    }

    public func linkBlob(_ digest: Digest, size: Int64, to repository: RepositoryName, finishingUpload upload: String?,
                         events: [EventPayload]) async throws {
        try await write { db in
            try Self.insertEvents(events, in: db)
            // The caller placed the file: from now on the row vouches for it.
            try db.statement("UPDATE blobs SET stored = 1 WHERE digest = ?").bind(digest.description).run()
            guard db.changes > 0 else { throw MetadataConflict.blobBeingRemoved(digest) }
            let id = try self.ensureRepository(repository, in: db)
            try db.statement("INSERT OR IGNORE INTO repository_blobs (repository_id, digest, size) VALUES (?, ?, ?)")
                .bind(id, digest.description, size).run()
            if let upload { try db.statement("DELETE FROM uploads WHERE id = ?").bind(upload).run() }
        }
    }

    public func blobLink(_ digest: Digest, in repository: RepositoryName) async throws -> BlobLink? {
        try await read { db in
            try db.statement("""
                SELECT l.size, b.protected_until FROM repository_blobs l
                JOIN repositories r ON r.id = l.repository_id
                JOIN blobs b ON b.digest = l.digest
                WHERE r.name = ? AND l.digest = ?
                """).bind(repository.value, digest.description).first { BlobLink(size: $0.int(0), protectedUntil: $0.int(1)) }
        }
    }

    public func protectBlob(_ digest: Digest, until: Int64) async throws -> Bool {
        try await write(durable: false) { db in
            try db.statement("UPDATE blobs SET protected_until = ? WHERE digest = ? AND protected_until < ?")
                .bind(until, digest.description, until).run()
            if db.changes > 0 { return true }
            return try db.statement("SELECT 1 FROM blobs WHERE digest = ?").bind(digest.description).first { _ in true } ?? false
        }
    }

    public func mountBlob(_ digest: Digest, from source: RepositoryName?, into target: RepositoryName,
                          protectedUntil: Int64, events: @escaping @Sendable (Int64) -> [EventPayload]) async throws -> Int64? {
        try await write { db in
            let size: Int64?
            if let source {
                size = try db.statement("""
                    SELECT l.size FROM repository_blobs l JOIN repositories r ON r.id = l.repository_id
                    WHERE r.name = ? AND l.digest = ?
                    """).bind(source.value, digest.description).first { $0.int(0) }
            } else {
                size = try db.statement("SELECT size FROM blobs WHERE digest = ? AND stored = 1").bind(digest.description).first { $0.int(0) }
            }
            guard let size else { return nil }
            try db.statement("UPDATE blobs SET protected_until = ? WHERE digest = ? AND protected_until < ?")
                .bind(protectedUntil, digest.description, protectedUntil).run()
            let id = try self.ensureRepository(target, in: db)
            try db.statement("INSERT OR IGNORE INTO repository_blobs (repository_id, digest, size) VALUES (?, ?, ?)")
                .bind(id, digest.description, size).run()
            try Self.insertEvents(events(size), in: db)
            return size
        }
    }

    public func unlinkBlob(_ digest: Digest, from repository: RepositoryName, events: [EventPayload]) async throws -> Bool {
        try await write { db in
            guard let id = try self.repositoryID(repository, in: db) else { return false }
            try db.statement("DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?")
                .bind(id, digest.description).run()
            guard db.changes > 0 else { return false }
            try Self.insertEvents(events, in: db)
            return true
        }
    }

    // MARK: Uploads

    public func createUpload(_ upload: UploadRecord) async throws {
        try await write { db in
            try db.statement("INSERT INTO uploads (id, repository, size, created_at, digest_state) VALUES (?, ?, ?, ?, ?)")
                .bind(upload.id, upload.repository.value, upload.size, upload.createdAt, upload.digestState).run()
        }
    }

    private static func uploadRecord(_ row: Statement) throws -> UploadRecord {
        let state = row.blob(4)
        return UploadRecord(id: row.text(0) ?? "", repository: try RepositoryName(row.text(1) ?? ""),
                            size: row.int(2), createdAt: row.int(3), digestState: state.isEmpty ? nil : state)
    }

    public func upload(_ id: String) async throws -> UploadRecord? {
        try await read { db in
            try db.statement("SELECT id, repository, size, created_at, digest_state FROM uploads WHERE id = ?").bind(id).first(Self.uploadRecord)
        }
    }

    public func setUploadSize(_ id: String, from old: Int64, to size: Int64, digestState: [UInt8]?) async throws -> Bool {
        try await write { db in
            try db.statement("UPDATE uploads SET size = ?, digest_state = ? WHERE id = ? AND size = ?")
                .bind(size, digestState, id, old).run()
            return db.changes > 0
        }
    }

    public func deleteUpload(_ id: String) async throws {
        try await write { db in try db.statement("DELETE FROM uploads WHERE id = ?").bind(id).run() }
    }

    public func uploads(startedBefore: Int64) async throws -> [UploadRecord] {
        try await read { db in
            try db.statement("SELECT id, repository, size, created_at, digest_state FROM uploads WHERE created_at < ?")
                .bind(startedBefore).rows(Self.uploadRecord)
        }
    }

    // MARK: Settings

    public func setting(_ key: String) async throws -> String? {
        try await read { db in try db.statement("SELECT value FROM settings WHERE key = ?").bind(key).first { $0.text(0) } ?? nil }
    }

    public func setSetting(_ key: String, to value: String) async throws {
        try await write { db in try Self.setSetting(key, to: value, in: db) }
    }

    static func setSetting(_ key: String, to value: String, in db: SQLiteConnection) throws {
        try db.statement("""
            INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value
            """).bind(key, value).run()
    }
}
