import Foundation
import OCI

/// `MetadataStore` in one SQLite database (system libsqlite3, WAL mode, `synchronous=FULL`).
///
/// One writer connection behind a lock (SQLite allows one writer anyway) and a pool of reader
/// connections, so reads never wait for a write transaction in WAL mode.
///
/// `@unchecked Sendable`: the writer is only touched under `writerLock`, and each reader connection
/// is used by the one caller that took it out of `idleReaders` (under `readersLock`).
public final class SQLiteMetadataStore: MetadataStore, @unchecked Sendable {
    private let path: String
    private let writer: SQLiteConnection
    private let writerLock = NSLock()
    private var idleReaders: [SQLiteConnection] = []
    private let readersLock = NSLock()
    private static let maximumIdleReaders = 8

    /// Opens (creating if needed) the database at `path` and applies the schema.
    public init(path: String) throws {
        self.path = path
        let connection = try SQLiteConnection(path: path, readOnly: false)
        try connection.execute(SQLiteSchema.statements)
        try connection.execute("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        writer = connection
    }

    // MARK: Connection handling

    private func write<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try writerLock.withLock { try writer.transaction { try body(writer) } }
    }

    private func read<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        let connection = try readersLock.withLock { idleReaders.popLast() } ?? openReader()
        defer {
            readersLock.withLock {
                if idleReaders.count < Self.maximumIdleReaders { idleReaders.append(connection) }
            }
        }
        return try body(connection)
    }

    private func openReader() throws -> SQLiteConnection {
        let connection = try SQLiteConnection(path: path, readOnly: true)
        try connection.execute("PRAGMA query_only = ON;")
        return connection
    }

    private func repositoryID(_ repository: RepositoryName, in db: SQLiteConnection) throws -> Int64? {
        try db.statement("SELECT id FROM repositories WHERE name = ?").bind(repository.value).first { $0.int(0) }
    }

    private func ensureRepository(_ repository: RepositoryName, in db: SQLiteConnection) throws -> Int64 {
        if let id = try repositoryID(repository, in: db) { return id }
        try db.statement("INSERT INTO repositories (name) VALUES (?)").bind(repository.value).run()
        guard let id = try repositoryID(repository, in: db) else {
            throw SQLiteError(code: 0, message: "repository row vanished")
        }
        return id
    }

    private static var now: Int64 { Int64(Date().timeIntervalSince1970) }

    // MARK: Blobs

    public func linkBlob(_ digest: Digest, size: Int64, to repository: RepositoryName) throws {
        try write { db in
            let id = try ensureRepository(repository, in: db)
            try db.statement("INSERT OR IGNORE INTO repository_blobs (repository_id, digest, size) VALUES (?, ?, ?)")
                .bind(id, digest.description, size).run()
        }
    }

    public func isBlobLinked(_ digest: Digest, in repository: RepositoryName) throws -> Bool {
        try read { db in
            try db.statement("""
                SELECT 1 FROM repository_blobs b JOIN repositories r ON r.id = b.repository_id
                WHERE r.name = ? AND b.digest = ?
                """).bind(repository.value, digest.description).first { _ in true } ?? false
        }
    }

    public func unlinkBlob(_ digest: Digest, from repository: RepositoryName) throws -> Bool {
        try write { db in
            guard let id = try repositoryID(repository, in: db) else { return false }
            try db.statement("DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?")
                .bind(id, digest.description).run()
            return db.changes > 0
        }
    }

    // MARK: Manifests and tags

    public func putManifest(_ record: ManifestRecord, in repository: RepositoryName, blobs: [Digest],
                            children: [Digest], tag: Tag?) throws {
        try write { db in
            let id = try ensureRepository(repository, in: db)
            let digest = record.digest.description
            try db.statement("""
                INSERT INTO manifests (repository_id, digest, media_type, size, artifact_type, subject, annotations, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (repository_id, digest) DO UPDATE SET media_type = excluded.media_type
                """).bind(id, digest, record.mediaType, record.size, record.artifactType,
                          record.subject?.description, record.annotationsJSON, Self.now).run()
            // The manifest's own bytes are a blob of the repository too, as in Distribution.
            try db.statement("INSERT OR IGNORE INTO repository_blobs (repository_id, digest, size) VALUES (?, ?, ?)")
                .bind(id, digest, record.size).run()
            let reference = try db.statement("""
                INSERT OR IGNORE INTO manifest_references (repository_id, parent, child, is_manifest) VALUES (?, ?, ?, ?)
                """)
            for blob in blobs { try reference.bind(id, digest, blob.description, 0).run() }
            for child in children { try reference.bind(id, digest, child.description, 1).run() }
            if let tag {
                try db.statement("""
                    INSERT INTO tags (repository_id, name, digest, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (repository_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at
                    """).bind(id, tag.value, digest, Self.now).run()
            }
        }
    }

    private static let manifestColumns = "m.digest, m.media_type, m.size, m.artifact_type, m.subject, m.annotations"

    private static func manifestRecord(_ row: Statement) throws -> ManifestRecord {
        ManifestRecord(
            digest: try Digest(row.text(0) ?? ""),
            mediaType: row.text(1) ?? "",
            size: row.int(2),
            artifactType: row.text(3),
            subject: try row.text(4).map { try Digest($0) },
            annotationsJSON: row.text(5))
    }

    public func manifest(_ reference: ManifestReference, in repository: RepositoryName) throws -> ManifestRecord? {
        try read { db in
            switch reference {
            case .digest(let digest):
                return try db.statement("""
                    SELECT \(Self.manifestColumns) FROM manifests m JOIN repositories r ON r.id = m.repository_id
                    WHERE r.name = ? AND m.digest = ?
                    """).bind(repository.value, digest.description).first(Self.manifestRecord)
            case .tag(let tag):
                return try db.statement("""
                    SELECT \(Self.manifestColumns) FROM tags t
                    JOIN repositories r ON r.id = t.repository_id
                    JOIN manifests m ON m.repository_id = t.repository_id AND m.digest = t.digest
                    WHERE r.name = ? AND t.name = ?
                    """).bind(repository.value, tag.value).first(Self.manifestRecord)
            }
        }
    }

    public func existingManifests(_ candidates: [Digest], in repository: RepositoryName) throws -> Set<Digest> {
        try read { db in
            guard let id = try repositoryID(repository, in: db) else { return [] }
            let statement = try db.statement("SELECT 1 FROM manifests WHERE repository_id = ? AND digest = ?")
            var found = Set<Digest>()
            for candidate in candidates where try statement.bind(id, candidate.description).first({ _ in true }) ?? false {
                found.insert(candidate)
            }
            return found
        }
    }

    public func deleteManifest(_ digest: Digest, in repository: RepositoryName) throws -> Bool {
        try write { db in
            guard let id = try repositoryID(repository, in: db) else { return false }
            try db.statement("DELETE FROM manifests WHERE repository_id = ? AND digest = ?").bind(id, digest.description).run()
            guard db.changes > 0 else { return false }
            try db.statement("DELETE FROM tags WHERE repository_id = ? AND digest = ?").bind(id, digest.description).run()
            try db.statement("DELETE FROM manifest_references WHERE repository_id = ? AND parent = ?").bind(id, digest.description).run()
            try db.statement("DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?").bind(id, digest.description).run()
            return true
        }
    }

    public func deleteTag(_ tag: Tag, in repository: RepositoryName) throws -> Bool {
        try write { db in
            guard let id = try repositoryID(repository, in: db) else { return false }
            try db.statement("DELETE FROM tags WHERE repository_id = ? AND name = ?").bind(id, tag.value).run()
            return db.changes > 0
        }
    }

    public func repositoryExists(_ repository: RepositoryName) throws -> Bool {
        try read { db in try repositoryID(repository, in: db) != nil }
    }

    public func tags(in repository: RepositoryName, after last: String?, limit: Int?) throws -> [String] {
        try read { db in
            try db.statement("""
                SELECT t.name FROM tags t JOIN repositories r ON r.id = t.repository_id
                WHERE r.name = ? AND t.name > ? ORDER BY t.name LIMIT ?
                """).bind(repository.value, last ?? "", limit ?? -1).rows { $0.text(0) ?? "" }
        }
    }

    public func repositories(after last: String?, limit: Int?) throws -> [String] {
        try read { db in
            try db.statement("SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?")
                .bind(last ?? "", limit ?? -1).rows { $0.text(0) ?? "" }
        }
    }

    public func referrers(of subject: Digest, in repository: RepositoryName, artifactType: String?) throws -> [ManifestRecord] {
        try read { db in
            try db.statement("""
                SELECT \(Self.manifestColumns) FROM manifests m JOIN repositories r ON r.id = m.repository_id
                WHERE r.name = ? AND m.subject = ? AND (? IS NULL OR m.artifact_type = ?) ORDER BY m.digest
                """).bind(repository.value, subject.description, artifactType, artifactType).rows(Self.manifestRecord)
        }
    }

    // MARK: Uploads

    public func createUpload(_ upload: UploadRecord) throws {
        try write { db in
            try db.statement("INSERT INTO uploads (id, repository, size, created_at) VALUES (?, ?, ?, ?)")
                .bind(upload.id, upload.repository.value, upload.size, upload.createdAt).run()
        }
    }

    private static func uploadRecord(_ row: Statement) throws -> UploadRecord {
        UploadRecord(id: row.text(0) ?? "", repository: try RepositoryName(row.text(1) ?? ""),
                     size: row.int(2), createdAt: row.int(3))
    }

    public func upload(_ id: String) throws -> UploadRecord? {
        try read { db in
            try db.statement("SELECT id, repository, size, created_at FROM uploads WHERE id = ?").bind(id).first(Self.uploadRecord)
        }
    }

    public func setUploadSize(_ id: String, size: Int64) throws {
        try write { db in try db.statement("UPDATE uploads SET size = ? WHERE id = ?").bind(size, id).run() }
    }

    public func deleteUpload(_ id: String) throws {
        try write { db in try db.statement("DELETE FROM uploads WHERE id = ?").bind(id).run() }
    }

    public func uploads(startedBefore: Int64) throws -> [UploadRecord] {
        try read { db in
            try db.statement("SELECT id, repository, size, created_at FROM uploads WHERE created_at < ?")
                .bind(startedBefore).rows(Self.uploadRecord)
        }
    }
}
