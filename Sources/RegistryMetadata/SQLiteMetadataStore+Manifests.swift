import OCI

extension SQLiteMetadataStore {
    @discardableResult
    public func putManifest(_ record: ManifestRecord, in repository: RepositoryName, references: ManifestReferences,
                            tags: [Tag], contentPlaced: Bool, guard tagGuard: @escaping TagGuard,
                            events: [EventPayload]) async throws -> [Tag: Digest] {
        try await write { db in
            try Self.insertEvents(events, in: db)
            let digest = record.digest.description
            let id = try self.ensureRepository(repository, in: db)
            // The reference check belongs to the transaction that records the manifest: a sweep
            // removing a blob commits either before (the check fails) or after (it sees the
            // reference). PostgreSQL: `FOR SHARE` on the rows read here.
            let linked = try db.statement("SELECT 1 FROM repository_blobs WHERE repository_id = ? AND digest = ?")
            for blob in references.requiredBlobs where !(try linked.bind(id, blob.description).first { _ in true } ?? false) {
                throw MetadataConflict.blobUnknown(blob)
            }
            let present = try db.statement("SELECT 1 FROM manifests WHERE repository_id = ? AND digest = ?")
            for child in references.requiredChildren where !(try present.bind(id, child.description).first { _ in true } ?? false) {
                throw MetadataConflict.manifestUnknown(child)
            }
            var previous: [Tag: Digest] = [:]
            let current = try db.statement("SELECT digest FROM tags WHERE repository_id = ? AND name = ?")
            for tag in tags {
                guard let digest = try current.bind(id, tag.value).first({ try Digest($0.text(0) ?? "") }) else { continue }
                if digest != record.digest, let rule = tagGuard(repository, tag) {
                    throw MetadataConflict.tagImmutable(tag, rule: rule)
                }
                previous[tag] = digest
            }
            // Checked after the references and tags, so a manifest refused for them stores nothing at all.
            if contentPlaced {
                try db.statement("UPDATE blobs SET stored = 1 WHERE digest = ?").bind(digest).run()
                guard db.changes > 0 else { throw MetadataConflict.blobBeingRemoved(record.digest) }
            } else {
                // A stored row has its file: rows are removed (and marked) before files are.
                let stored = try db.statement("SELECT stored FROM blobs WHERE digest = ?").bind(digest).first { $0.int(0) }
                guard stored == 1 else { throw MetadataConflict.contentNotStored(record.digest) }
            }
            try db.statement("""
                INSERT INTO manifests (repository_id, digest, media_type, size, artifact_type, subject, annotations, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (repository_id, digest) DO UPDATE SET media_type = excluded.media_type, created_at = excluded.created_at
                """).bind(id, digest, record.mediaType, record.size, record.artifactType,
                          record.subject?.description, record.annotationsJSON, Self.now).run()
            // The manifest's own bytes are a blob of the repository too, as in Distribution.
            try db.statement("INSERT OR IGNORE INTO repository_blobs (repository_id, digest, size) VALUES (?, ?, ?)")
                .bind(id, digest, record.size).run()
            let reference = try db.statement("""
                INSERT OR IGNORE INTO manifest_references (repository_id, parent, child, is_manifest) VALUES (?, ?, ?, ?)
                """)
            for blob in references.blobs { try reference.bind(id, digest, blob.description, 0).run() }
            for child in references.children { try reference.bind(id, digest, child.description, 1).run() }
            let upsertTag = try db.statement("""
                INSERT INTO tags (repository_id, name, digest, pushed_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (repository_id, name) DO UPDATE SET digest = excluded.digest, pushed_at = excluded.pushed_at
                """)
            for tag in tags { try upsertTag.bind(id, tag.value, digest, Self.now).run() }
            return previous
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

    public func manifest(_ reference: ManifestReference, in repository: RepositoryName) async throws -> ManifestRecord? {
        try await read { db in
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

    public func deleteManifest(_ digest: Digest, in repository: RepositoryName, guard tagGuard: @escaping TagGuard,
                               events: [EventPayload]) async throws -> Bool {
        try await write { db in
            guard let id = try self.repositoryID(repository, in: db) else { return false }
            let tags = try db.statement("SELECT name FROM tags WHERE repository_id = ? AND digest = ?")
                .bind(id, digest.description).rows { try Tag($0.text(0) ?? "") }
            for tag in tags {
                if let rule = tagGuard(repository, tag) { throw MetadataConflict.tagImmutable(tag, rule: rule) }
            }
            try db.statement("DELETE FROM manifests WHERE repository_id = ? AND digest = ?").bind(id, digest.description).run()
            guard db.changes > 0 else { return false }
            try Self.insertEvents(events, in: db)
            try db.statement("DELETE FROM tags WHERE repository_id = ? AND digest = ?").bind(id, digest.description).run()
            try db.statement("DELETE FROM manifest_references WHERE repository_id = ? AND parent = ?").bind(id, digest.description).run()
            try db.statement("DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?").bind(id, digest.description).run()
            return true
        }
    }

    public func deleteTag(_ tag: Tag, in repository: RepositoryName, guard tagGuard: @escaping TagGuard,
                          events: @escaping @Sendable (Digest) -> [EventPayload]) async throws -> Digest? {
        try await write { db in
            guard let id = try self.repositoryID(repository, in: db),
                  let digest = try db.statement("SELECT digest FROM tags WHERE repository_id = ? AND name = ?")
                    .bind(id, tag.value).first({ try Digest($0.text(0) ?? "") }) else { return nil }
            if let rule = tagGuard(repository, tag) { throw MetadataConflict.tagImmutable(tag, rule: rule) }
            try Self.insertEvents(events(digest), in: db)
            try db.statement("DELETE FROM tags WHERE repository_id = ? AND name = ?").bind(id, tag.value).run()
            return digest
        }
    }

    public func recordPull(of tag: Tag, in repository: RepositoryName, at time: Int64) async throws {
        try await write(durable: false) { db in
            try db.statement("""
                UPDATE tags SET pulled_at = ? WHERE name = ? AND repository_id = (SELECT id FROM repositories WHERE name = ?)
                """).bind(time, tag.value, repository.value).run()
        }
    }

    public func repositoryExists(_ repository: RepositoryName) async throws -> Bool {
        try await read { db in try self.repositoryID(repository, in: db) != nil }
    }

    public func tags(in repository: RepositoryName, after last: String?, limit: Int?) async throws -> [String] {
        try await read { db in
            try db.statement("""
                SELECT t.name FROM tags t JOIN repositories r ON r.id = t.repository_id
                WHERE r.name = ? AND t.name > ? ORDER BY t.name LIMIT ?
                """).bind(repository.value, last ?? "", limit ?? -1).rows { $0.text(0) ?? "" }
        }
    }

    public func repositories(after last: String?, limit: Int?) async throws -> [String] {
        try await read { db in
            try db.statement("SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?")
                .bind(last ?? "", limit ?? -1).rows { $0.text(0) ?? "" }
        }
    }

    public func referrers(of subject: Digest, in repository: RepositoryName, artifactType: String?) async throws -> [ManifestRecord] {
        try await read { db in
            try db.statement("""
                SELECT \(Self.manifestColumns) FROM manifests m JOIN repositories r ON r.id = m.repository_id
                WHERE r.name = ? AND m.subject = ? AND (? IS NULL OR m.artifact_type = ?) ORDER BY m.digest
                """).bind(repository.value, subject.description, artifactType, artifactType).rows(Self.manifestRecord)
        }
    }
}
