import OCI
import PostgresNIO

/// Manifests, tags and listings. Lock order, to keep deadlocks rare (a victim is run again):
/// the manifest's own row, then what it depends on (`FOR SHARE`), then its tags (`FOR UPDATE`),
/// then the rows it writes, then the outbox.
extension PostgresMetadataStore {
    @discardableResult
    public func putManifest(_ record: ManifestRecord, in repository: RepositoryName, references: ManifestReferences,
                            tags: [Tag], contentPlaced: Bool, guard tagGuard: @escaping TagGuard,
                            events: [EventPayload]) async throws -> [Tag: Digest] {
        try await write { db in
            let digest = record.digest.description
            let id = try await self.ensureRepository(repository, in: db)
            // A delete of this manifest running now finishes (or waits) before the tags are read.
            try await self.run("SELECT 1 FROM manifests WHERE repository_id = \(id) AND digest = \(digest) FOR UPDATE", db)
            // The reference check belongs to the transaction that records the manifest: the rows
            // it relies on are share-locked, so an unlink, a delete or a sweep removing them
            // commits either before (the check fails) or after this (and sees the reference).
            for blob in references.requiredBlobs {
                guard try await self.exists("""
                    SELECT 1 FROM repository_blobs WHERE repository_id = \(id) AND digest = \(blob.description) FOR SHARE
                    """, db) else { throw MetadataConflict.blobUnknown(blob) }
            }
            for child in references.requiredChildren {
                guard try await self.exists("""
                    SELECT 1 FROM manifests WHERE repository_id = \(id) AND digest = \(child.description) FOR SHARE
                    """, db) else { throw MetadataConflict.manifestUnknown(child) }
            }
            var previous: [Tag: Digest] = [:]
            for tag in tags {
                guard let current = try await self.first("""
                    SELECT digest FROM tags WHERE repository_id = \(id) AND name = \(tag.value) FOR UPDATE
                    """, db) else { continue }
                let pointed = try Digest(try current.decode(String.self))
                if pointed != record.digest, let rule = tagGuard(repository, tag) {
                    throw MetadataConflict.tagImmutable(tag, rule: rule)
                }
                previous[tag] = pointed
            }
            // Checked after the references and tags, so a manifest refused for them stores nothing at all.
            if contentPlaced {
                guard try await self.exists("UPDATE blobs SET stored = TRUE WHERE digest = \(digest) RETURNING 1", db) else {
                    throw MetadataConflict.blobBeingRemoved(record.digest)
                }
            } else {
                // A stored row has its file: rows are removed (and marked) before files are.
                let stored = try await self.first("SELECT stored FROM blobs WHERE digest = \(digest) FOR SHARE", db)?.decode(Bool.self)
                guard stored == true else { throw MetadataConflict.contentNotStored(record.digest) }
            }
            let now = Self.now
            try await self.run("""
                INSERT INTO manifests (repository_id, digest, media_type, size, artifact_type, subject, annotations, created_at)
                VALUES (\(id), \(digest), \(record.mediaType), \(record.size), \(record.artifactType),
                        \(record.subject?.description), \(record.annotationsJSON), \(now))
                ON CONFLICT (repository_id, digest) DO UPDATE SET media_type = excluded.media_type, created_at = excluded.created_at
                """, db)
            // The manifest's own bytes are a blob of the repository too, as in Distribution.
            try await self.run("""
                INSERT INTO repository_blobs (repository_id, digest, size) VALUES (\(id), \(digest), \(record.size))
                ON CONFLICT DO NOTHING
                """, db)
            let children = references.blobs.map { ($0, false) } + references.children.map { ($0, true) }
            for (child, isManifest) in children {
                try await self.run("""
                    INSERT INTO manifest_references (repository_id, parent, child, is_manifest)
                    VALUES (\(id), \(digest), \(child.description), \(isManifest)) ON CONFLICT DO NOTHING
                    """, db)
            }
            for tag in tags {
                try await self.run("""
                    INSERT INTO tags (repository_id, name, digest, pushed_at) VALUES (\(id), \(tag.value), \(digest), \(now))
                    ON CONFLICT (repository_id, name) DO UPDATE SET digest = excluded.digest, pushed_at = excluded.pushed_at
                    """, db)
            }
            try await self.insertEvents(events, in: db)
            return previous
        }
    }

    static let manifestColumns = "m.digest, m.media_type, m.size, m.artifact_type, m.subject, m.annotations"

    static func manifestRecord(_ row: PostgresRow) throws -> ManifestRecord {
        let (digest, mediaType, size, artifactType, subject, annotations) =
            try row.decode((String, String, Int64, String?, String?, String?).self)
        return ManifestRecord(digest: try Digest(digest), mediaType: mediaType, size: size, artifactType: artifactType,
                              subject: try subject.map { try Digest($0) }, annotationsJSON: annotations)
    }

    public func manifest(_ reference: ManifestReference, in repository: RepositoryName) async throws -> ManifestRecord? {
        try await read { db in
            switch reference {
            case .digest(let digest):
                return try await self.first("""
                    SELECT \(unescaped: Self.manifestColumns) FROM manifests m JOIN repositories r ON r.id = m.repository_id
                    WHERE r.name = \(repository.value) AND m.digest = \(digest.description)
                    """, db).map(Self.manifestRecord)
            case .tag(let tag):
                return try await self.first("""
                    SELECT \(unescaped: Self.manifestColumns) FROM tags t
                    JOIN repositories r ON r.id = t.repository_id
                    JOIN manifests m ON m.repository_id = t.repository_id AND m.digest = t.digest
                    WHERE r.name = \(repository.value) AND t.name = \(tag.value)
                    """, db).map(Self.manifestRecord)
            }
        }
    }

    public func deleteManifest(_ digest: Digest, in repository: RepositoryName, guard tagGuard: @escaping TagGuard,
                               events: [EventPayload]) async throws -> Bool {
        try await write { db in
            guard let id = try await self.repositoryID(repository, in: db) else { return false }
            // Locked first: a put of it that committed meanwhile has its tags visible below.
            guard try await self.exists("""
                SELECT 1 FROM manifests WHERE repository_id = \(id) AND digest = \(digest.description) FOR UPDATE
                """, db) else { return false }
            let rows = try await self.rows("""
                SELECT name FROM tags WHERE repository_id = \(id) AND digest = \(digest.description) FOR UPDATE
                """, db)
            // A plain function, not closures inside this async one: Swift 6.3.1's optimizer
            // crashes splitting this coroutine when the throwing tag checks are inlined here.
            try Self.checkTagsMayGo(rows, of: repository, guard: tagGuard)
            try await self.run("DELETE FROM manifests WHERE repository_id = \(id) AND digest = \(digest.description)", db)
            try await self.run("DELETE FROM tags WHERE repository_id = \(id) AND digest = \(digest.description)", db)
            try await self.run("DELETE FROM manifest_references WHERE repository_id = \(id) AND parent = \(digest.description)", db)
            try await self.run("DELETE FROM repository_blobs WHERE repository_id = \(id) AND digest = \(digest.description)", db)
            try await self.insertEvents(events, in: db)
            return true
        }
    }

    /// Throws `tagImmutable` for the first tag in `rows` (names) the guard protects.
    private static func checkTagsMayGo(_ rows: [PostgresRow], of repository: RepositoryName, guard tagGuard: TagGuard) throws {
        for row in rows {
            let tag = try Tag(try row.decode(String.self))
            if let rule = tagGuard(repository, tag) { throw MetadataConflict.tagImmutable(tag, rule: rule) }
        }
    }

    public func deleteTag(_ tag: Tag, in repository: RepositoryName, guard tagGuard: @escaping TagGuard,
                          events: @escaping @Sendable (Digest) -> [EventPayload]) async throws -> Digest? {
        try await write { db in
            guard let id = try await self.repositoryID(repository, in: db),
                  let row = try await self.first("""
                    SELECT digest FROM tags WHERE repository_id = \(id) AND name = \(tag.value) FOR UPDATE
                    """, db) else { return nil }
            let digest = try Digest(try row.decode(String.self))
            if let rule = tagGuard(repository, tag) { throw MetadataConflict.tagImmutable(tag, rule: rule) }
            try await self.run("DELETE FROM tags WHERE repository_id = \(id) AND name = \(tag.value)", db)
            try await self.insertEvents(events(digest), in: db)
            return digest
        }
    }

    public func recordPull(of tag: Tag, in repository: RepositoryName, at time: Int64) async throws {
        try await write(durable: false) { db in
            try await self.run("""
                UPDATE tags SET pulled_at = \(time)
                WHERE name = \(tag.value) AND repository_id = (SELECT id FROM repositories WHERE name = \(repository.value))
                """, db)
        }
    }

    public func repositoryExists(_ repository: RepositoryName) async throws -> Bool {
        try await read { db in try await self.repositoryID(repository, in: db) != nil }
    }

    public func tags(in repository: RepositoryName, after last: String?, limit: Int?) async throws -> [String] {
        try await read { db in
            // LIMIT NULL is no limit.
            try await self.rows("""
                SELECT t.name FROM tags t JOIN repositories r ON r.id = t.repository_id
                WHERE r.name = \(repository.value) AND t.name > \(last ?? "") ORDER BY t.name LIMIT \(limit.map(Int64.init))
                """, db).map { try $0.decode(String.self) }
        }
    }

    public func repositories(after last: String?, limit: Int?) async throws -> [String] {
        try await read { db in
            try await self.rows("""
                SELECT name FROM repositories WHERE name > \(last ?? "") ORDER BY name LIMIT \(limit.map(Int64.init))
                """, db).map { try $0.decode(String.self) }
        }
    }

    public func referrers(of subject: Digest, in repository: RepositoryName, artifactType: String?) async throws -> [ManifestRecord] {
        try await read { db in
            if let artifactType {
                return try await self.rows("""
                    SELECT \(unescaped: Self.manifestColumns) FROM manifests m JOIN repositories r ON r.id = m.repository_id
                    WHERE r.name = \(repository.value) AND m.subject = \(subject.description) AND m.artifact_type = \(artifactType)
                    ORDER BY m.digest
                    """, db).map(Self.manifestRecord)
            }
            return try await self.rows("""
                SELECT \(unescaped: Self.manifestColumns) FROM manifests m JOIN repositories r ON r.id = m.repository_id
                WHERE r.name = \(repository.value) AND m.subject = \(subject.description) ORDER BY m.digest
                """, db).map(Self.manifestRecord)
        }
    }
}
