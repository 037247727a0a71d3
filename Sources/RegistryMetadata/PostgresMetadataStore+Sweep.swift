import OCI
import PostgresNIO

/// The metadata side of garbage collection: one transaction per sweep that first takes
/// `SHARE ROW EXCLUSIVE` locks on the tables it reads to decide and then changes, so a tag moved,
/// a manifest pushed, a blob claimed or linked during a sweep (on any node) waits for it and is
/// seen whole or not at all, and two sweeps never interleave. Reads go on meanwhile.
extension PostgresMetadataStore {
    public func sweep(_ request: SweepRequest) async throws -> SweepPlan {
        try await write(commit: !request.dryRun) { db in
            try await self.run("""
                LOCK TABLE tags, manifests, manifest_references, repository_blobs, blobs, blob_removals
                IN SHARE ROW EXCLUSIVE MODE
                """, db)
            var plan = SweepPlan()
            let repositories = try await self.rows("SELECT id, name FROM repositories ORDER BY name", db).map { row in
                let (id, name) = try row.decode((Int64, String).self)
                return (id, try RepositoryName(name))
            }
            if let retention = request.retention {
                try await self.applyRetention(retention, repositories: repositories, db: db, plan: &plan)
            }
            try await self.removeUnreachableManifests(request, repositories: repositories, db: db, plan: &plan)
            try await self.markUnreferencedBlobs(request, db: db, plan: &plan)
            return plan
        }
    }

    private func applyRetention(_ retention: (RepositoryName, [TagRecord]) -> [Tag],
                                repositories: [(Int64, RepositoryName)], db: PostgresConnection,
                                plan: inout SweepPlan) async throws {
        for (id, name) in repositories {
            let tags = try await rows("SELECT name, digest, pushed_at, pulled_at FROM tags WHERE repository_id = \(id)", db).map { row in
                let (tag, digest, pushedAt, pulledAt) = try row.decode((String, String, Int64, Int64?).self)
                return TagRecord(name: try Tag(tag), digest: try Digest(digest), pushedAt: pushedAt, pulledAt: pulledAt)
            }
            guard !tags.isEmpty else { continue }
            let byName = Dictionary(tags.map { ($0.name, $0.digest) }, uniquingKeysWith: { first, _ in first })
            for tag in retention(name, tags) {
                guard let digest = byName[tag] else { continue }
                try await run("DELETE FROM tags WHERE repository_id = \(id) AND name = \(tag.value)", db)
                plan.tags.append(.init(repository: name, tag: tag, digest: digest))
            }
        }
    }

    /// Reachable: every tagged manifest, every manifest pushed after the cutoff, every child of a
    /// reachable index and every manifest whose subject is reachable, per repository. (PostgreSQL
    /// allows one recursive reference, so both kinds of edge are one joined relation.)
    private func removeUnreachableManifests(_ request: SweepRequest, repositories: [(Int64, RepositoryName)],
                                            db: PostgresConnection, plan: inout SweepPlan) async throws {
        let inScope = repositories.filter { request.removesUntagged($0.1) }
        guard !inScope.isEmpty else { return }
        let names = Dictionary(repositories.map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
        let scope = Set(inScope.map(\.0))
        let unreachable = try await rows("""
            WITH RECURSIVE reachable (repository_id, digest) AS (
                SELECT repository_id, digest FROM tags
                UNION
                SELECT repository_id, digest FROM manifests WHERE created_at >= \(request.cutoff)
                UNION
                SELECT e.repository_id, e.target FROM reachable x JOIN (
                    SELECT repository_id, parent AS source, child AS target FROM manifest_references WHERE is_manifest
                    UNION ALL
                    SELECT repository_id, subject AS source, digest AS target FROM manifests WHERE subject IS NOT NULL
                ) e ON e.repository_id = x.repository_id AND e.source = x.digest
            )
            SELECT m.repository_id, m.digest FROM manifests m
            WHERE NOT EXISTS (SELECT 1 FROM reachable x WHERE x.repository_id = m.repository_id AND x.digest = m.digest)
            ORDER BY m.repository_id, m.digest
            """, db).map { row in
                let (id, digest) = try row.decode((Int64, String).self)
                return (id, try Digest(digest))
            }
        for (id, digest) in unreachable where scope.contains(id) {
            try await run("DELETE FROM manifests WHERE repository_id = \(id) AND digest = \(digest.description)", db)
            try await run("DELETE FROM manifest_references WHERE repository_id = \(id) AND parent = \(digest.description)", db)
            try await run("DELETE FROM repository_blobs WHERE repository_id = \(id) AND digest = \(digest.description)", db)
            if let name = names[id] { plan.manifests.append(.init(repository: name, digest: digest)) }
        }
    }

    /// Every blob no manifest references (as config, layer or child) and that is no manifest
    /// itself, stored before the cutoff and no longer protected: its rows go, a removal mark stays.
    private func markUnreferencedBlobs(_ request: SweepRequest, db: PostgresConnection, plan: inout SweepPlan) async throws {
        let doomed = try await rows("""
            SELECT b.digest, b.size FROM blobs b
            WHERE b.protected_until < \(request.now) AND b.created_at < \(request.cutoff)
              AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.child = b.digest)
              AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = b.digest)
            ORDER BY b.digest
            """, db).map { row in
                let (digest, size) = try row.decode((String, Int64).self)
                return SweepPlan.RemovedBlob(digest: try Digest(digest), size: size)
            }
        for blob in doomed {
            let digest = blob.digest.description
            try await run("DELETE FROM repository_blobs WHERE digest = \(digest)", db)
            try await run("DELETE FROM blobs WHERE digest = \(digest)", db)
            try await run("""
                INSERT INTO blob_removals (digest, started_at) VALUES (\(digest), \(request.now)) ON CONFLICT DO NOTHING
                """, db)
        }
        plan.blobs = doomed
    }

    public func tryLock(_ name: String) async throws -> (any ExclusiveLock)? {
        try await locks.tryLock(name)
    }

    public func pendingBlobRemovals() async throws -> [Digest] {
        try await read { db in
            try await self.rows("SELECT digest FROM blob_removals ORDER BY digest", db).map { try Digest(try $0.decode(String.self)) }
        }
    }

    public func markOrphans(_ digests: [Digest]) async throws -> [Digest] {
        try await write { db in
            // A claim in flight (whose new row no read here would see) commits first; one that
            // comes later waits for the marks and then finds them.
            try await self.run("LOCK TABLE blobs IN SHARE ROW EXCLUSIVE MODE", db)
            var marked: [Digest] = []
            for digest in digests {
                if try await self.exists("SELECT 1 FROM blobs WHERE digest = \(digest.description)", db) { continue }
                try await self.run("""
                    INSERT INTO blob_removals (digest, started_at) VALUES (\(digest.description), \(Self.now)) ON CONFLICT DO NOTHING
                    """, db)
                marked.append(digest)
            }
            return marked
        }
    }

    public func finishBlobRemovals(_ digests: [Digest]) async throws {
        guard !digests.isEmpty else { return }
        try await write { db in
            try await self.run("DELETE FROM blob_removals WHERE digest = ANY(\(digests.map(\.description)))", db)
        }
    }

    public func knownBlobs(among candidates: [Digest]) async throws -> Set<Digest> {
        guard !candidates.isEmpty else { return [] }
        return try await read { db in
            let texts = candidates.map(\.description)
            let found = try await self.rows("""
                SELECT digest FROM blobs WHERE digest = ANY(\(texts))
                UNION SELECT digest FROM blob_removals WHERE digest = ANY(\(texts))
                """, db).map { try Digest(try $0.decode(String.self)) }
            return Set(found)
        }
    }
}
