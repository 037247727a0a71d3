import OCI

/// The metadata side of garbage collection: one transaction per sweep (a single writer in SQLite;
/// PostgreSQL would take `SHARE ROW EXCLUSIVE` locks on tags, manifests and blobs for it), so a
/// tag moved, a manifest pushed or a blob claimed during a sweep is seen whole or not at all.
extension SQLiteMetadataStore {
    public func sweep(_ request: SweepRequest) async throws -> SweepPlan {
        try await write(commit: !request.dryRun) { db in
            var plan = SweepPlan()
            let repositories = try db.statement("SELECT id, name FROM repositories ORDER BY name")
                .rows { ($0.int(0), try RepositoryName($0.text(1) ?? "")) }
            if let retention = request.retention {
                try Self.applyRetention(retention, repositories: repositories, db: db, plan: &plan)
            }
            try Self.removeUnreachableManifests(request, repositories: repositories, db: db, plan: &plan)
            try Self.markUnreferencedBlobs(request, db: db, plan: &plan)
            return plan
        }
    }

    private static func applyRetention(_ retention: (RepositoryName, [TagRecord]) -> [Tag],
                                       repositories: [(Int64, RepositoryName)], db: SQLiteConnection,
                                       plan: inout SweepPlan) throws {
        let list = try db.statement("SELECT name, digest, pushed_at, pulled_at FROM tags WHERE repository_id = ?")
        let delete = try db.statement("DELETE FROM tags WHERE repository_id = ? AND name = ?")
        for (id, name) in repositories {
            let tags = try list.bind(id).rows { row in
                TagRecord(name: try Tag(row.text(0) ?? ""), digest: try Digest(row.text(1) ?? ""),
                          pushedAt: row.int(2), pulledAt: row.text(3) == nil ? nil : row.int(3))
            }
            guard !tags.isEmpty else { continue }
            let byName = Dictionary(tags.map { ($0.name, $0.digest) }, uniquingKeysWith: { first, _ in first })
            for tag in retention(name, tags) {
                guard let digest = byName[tag] else { continue }
                try delete.bind(id, tag.value).run()
                plan.tags.append(.init(repository: name, tag: tag, digest: digest))
            }
        }
    }

    /// Reachable: every tagged manifest, every manifest pushed after the cutoff, every child of a
    /// reachable index and every manifest whose subject is reachable, per repository.
    private static func removeUnreachableManifests(_ request: SweepRequest, repositories: [(Int64, RepositoryName)],
                                                   db: SQLiteConnection, plan: inout SweepPlan) throws {
        let inScope = repositories.filter { request.removesUntagged($0.1) }
        guard !inScope.isEmpty else { return }
        let names = Dictionary(repositories.map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
        let scope = Set(inScope.map(\.0))
        try db.execute("""
            CREATE TEMP TABLE IF NOT EXISTS gc_reachable (
                repository_id INTEGER NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (repository_id, digest)
            ) WITHOUT ROWID;
            DELETE FROM gc_reachable;
            """)
        try db.statement("""
            INSERT OR IGNORE INTO gc_reachable (repository_id, digest)
            WITH RECURSIVE reachable (repository_id, digest) AS (
                SELECT repository_id, digest FROM tags
                UNION
                SELECT repository_id, digest FROM manifests WHERE created_at >= ?
                UNION
                SELECT r.repository_id, r.child FROM manifest_references r
                    JOIN reachable x ON r.repository_id = x.repository_id AND r.parent = x.digest
                    WHERE r.is_manifest = 1
                UNION
                SELECT m.repository_id, m.digest FROM manifests m
                    JOIN reachable x ON m.repository_id = x.repository_id AND m.subject = x.digest
            )
            SELECT repository_id, digest FROM reachable
            """).bind(request.cutoff).run()
        let unreachable = try db.statement("""
            SELECT m.repository_id, m.digest FROM manifests m
            WHERE NOT EXISTS (SELECT 1 FROM gc_reachable x WHERE x.repository_id = m.repository_id AND x.digest = m.digest)
            ORDER BY m.repository_id, m.digest
            """).rows { ($0.int(0), try Digest($0.text(1) ?? "")) }
        let deleteManifest = try db.statement("DELETE FROM manifests WHERE repository_id = ? AND digest = ?")
        let deleteReferences = try db.statement("DELETE FROM manifest_references WHERE repository_id = ? AND parent = ?")
        let deleteLink = try db.statement("DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?")
        for (id, digest) in unreachable where scope.contains(id) {
            try deleteManifest.bind(id, digest.description).run()
            try deleteReferences.bind(id, digest.description).run()
            try deleteLink.bind(id, digest.description).run()
            if let name = names[id] { plan.manifests.append(.init(repository: name, digest: digest)) }
        }
        try db.execute("DELETE FROM gc_reachable")
    }

    /// Every blob no manifest references (as config, layer or child) and that is no manifest
    /// itself, stored before the cutoff and no longer protected: its rows go, a removal mark stays.
    private static func markUnreferencedBlobs(_ request: SweepRequest, db: SQLiteConnection, plan: inout SweepPlan) throws {
        let doomed = try db.statement("""
            SELECT b.digest, b.size FROM blobs b
            WHERE b.protected_until < ? AND b.created_at < ?
              AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.child = b.digest)
              AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = b.digest)
            ORDER BY b.digest
            """).bind(request.now, request.cutoff).rows { SweepPlan.RemovedBlob(digest: try Digest($0.text(0) ?? ""), size: $0.int(1)) }
        let deleteLinks = try db.statement("DELETE FROM repository_blobs WHERE digest = ?")
        let deleteBlob = try db.statement("DELETE FROM blobs WHERE digest = ?")
        let mark = try db.statement("INSERT OR IGNORE INTO blob_removals (digest, started_at) VALUES (?, ?)")
        for blob in doomed {
            try deleteLinks.bind(blob.digest.description).run()
            try deleteBlob.bind(blob.digest.description).run()
            try mark.bind(blob.digest.description, request.now).run()
        }
        plan.blobs = doomed
    }

    /// Lock files live in `<database>.locks/`.
    public func tryLock(_ name: String) async throws -> (any ExclusiveLock)? {
        let directory = path + ".locks"
        return try await Self.readerThreads.runIfActive { try FileExclusiveLock.tryLock(name, in: directory) }
    }

    public func pendingBlobRemovals() async throws -> [Digest] {
        try await read { db in
            try db.statement("SELECT digest FROM blob_removals ORDER BY digest").rows { try Digest($0.text(0) ?? "") }
        }
    }

    public func markOrphans(_ digests: [Digest]) async throws -> [Digest] {
        try await write { db in
            let known = try db.statement("SELECT 1 FROM blobs WHERE digest = ?")
            let mark = try db.statement("INSERT OR IGNORE INTO blob_removals (digest, started_at) VALUES (?, ?)")
            var marked: [Digest] = []
            for digest in digests where !(try known.bind(digest.description).first { _ in true } ?? false) {
                try mark.bind(digest.description, Self.now).run()
                marked.append(digest)
            }
            return marked
        }
    }

    public func finishBlobRemovals(_ digests: [Digest]) async throws {
        guard !digests.isEmpty else { return }
        try await write { db in
            let clear = try db.statement("DELETE FROM blob_removals WHERE digest = ?")
            for digest in digests { try clear.bind(digest.description).run() }
        }
    }

    public func knownBlobs(among candidates: [Digest]) async throws -> Set<Digest> {
        try await read { db in
            let known = try db.statement("""
                SELECT 1 WHERE EXISTS (SELECT 1 FROM blobs WHERE digest = ?1) OR EXISTS (SELECT 1 FROM blob_removals WHERE digest = ?1)
                """)
            var found = Set<Digest>()
            for digest in candidates where try known.bind(digest.description).first({ _ in true }) ?? false {
                found.insert(digest)
            }
            return found
        }
    }
}
