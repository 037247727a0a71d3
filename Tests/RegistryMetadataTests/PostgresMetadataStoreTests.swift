import Foundation
import OCI
import PostgresNIO
import RegistryMetadata
import Testing

/// What matters once writers are not serialised: compare-and-set of upload sizes, and manifest
/// puts and deletes racing on different connections (in PostgreSQL: two stores, as two nodes).
@Suite struct ConcurrentMetadataTests {
    static func digest(_ text: String) -> Digest { DigestHasher.digest(of: Array(text.utf8)) }

    @Test(arguments: Backend.allCases) func uploadSizeIsACompareAndSet(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let repo = try RepositoryName("team/app")
            try await store.createUpload(UploadRecord(id: "u1", repository: repo, size: 0, createdAt: 100))
            // Eight requests move the session from 0 at once: exactly one wins.
            let winners = try await withThrowingTaskGroup(of: Int64?.self) { group in
                for size in Int64(1)...8 {
                    group.addTask {
                        try await store.setUploadSize("u1", from: 0, to: size * 10, digestState: [UInt8(size)]) ? size * 10 : nil
                    }
                }
                return try await group.reduce(into: [Int64]()) { if let size = $1 { $0.append(size) } }
            }
            #expect(winners.count == 1)
            let upload = try #require(try await store.upload("u1"))
            #expect(upload.size == winners.first)
            #expect(upload.digestState == [UInt8(upload.size / 10)], "the winner's digest state, not a loser's")
            #expect(try await store.setUploadSize("u1", from: 0, to: 99, digestState: nil) == false)
            #expect(try await store.setUploadSize("u1", from: upload.size, to: 99, digestState: nil))
            #expect(try await store.upload("u1")?.size == 99)
            #expect(try await store.upload("u1")?.digestState == nil)
        }
    }

    @Test(arguments: Backend.allCases) func anExclusiveLockHasOneHolder(_ backend: Backend) async throws {
        try await withTwoStores(backend) { one, two, stopTwo in
            // Eight callers on each of two nodes ask for a lock nobody held before: one gets it.
            let locks = try await withThrowingTaskGroup(of: (any ExclusiveLock)?.self) { group in
                for caller in 0..<16 {
                    let store = caller % 2 == 0 ? one : two
                    group.addTask { try await store.tryLock(ExclusiveWork.garbageCollection) }
                }
                return try await group.reduce(into: [any ExclusiveLock]()) { if let lock = $1 { $0.append(lock) } }
            }
            #expect(locks.count == 1)
            let first = try #require(locks.first)
            #expect(await first.isHeld())
            #expect(try await one.tryLock(ExclusiveWork.garbageCollection) == nil)
            #expect(try await two.tryLock(ExclusiveWork.garbageCollection) == nil)
            // Other names are independent; endpoint names of any form are safe as file names.
            let other = try #require(try await one.tryLock(ExclusiveWork.notifications(to: "../ci/é")))
            #expect(try await two.tryLock(ExclusiveWork.notifications(to: "../ci/é")) == nil)
            await other.release()

            await first.release()
            #expect(await first.isHeld() == false)
            await first.release() // twice: nothing happens
            let second = try #require(try await two.tryLock(ExclusiveWork.garbageCollection))
            #expect(try await one.tryLock(ExclusiveWork.garbageCollection) == nil)
            if backend == .postgres {
                // The node holding it goes away: its connection closes and the lock is free.
                await stopTwo()
                #expect(await second.isHeld() == false)
                // (PostgreSQL frees it when the closed session's backend has exited, just after.)
                var third = try await one.tryLock(ExclusiveWork.garbageCollection)
                for _ in 0..<50 where third == nil {
                    try await Task.sleep(for: .milliseconds(100))
                    third = try await one.tryLock(ExclusiveWork.garbageCollection)
                }
                let freed = try #require(third)
                await freed.release()
            } else {
                await second.release()
            }
        }
    }

    @Test func concurrentPutsAndDeletesKeepTheReferencesOnSQLite() async throws {
        try await withStore(.sqlite) { store in try await Self.raceManifests(store, store) }
    }

    @Test func concurrentPutsAndDeletesKeepTheReferencesOnPostgres() async throws {
        let server = try TestPostgres.fromEnvironment()
        try await server.withDatabase { database in
            let one = try await PostgresMetadataStore.open(settings: server.settings(database: database))
            let two = try await PostgresMetadataStore.open(settings: server.settings(database: database))
            do {
                try await Self.raceManifests(one, two)
                await one.shutdown()
                await two.shutdown()
            } catch {
                await one.shutdown()
                await two.shutdown()
                throw error
            }
            // No row points at a manifest that is gone, and every manifest is a blob of its repository.
            try await server.withConnection(to: database) { db in
                let logger = Logger(label: "berth.tests.postgres")
                for (what, sql) in [
                    ("tags without their manifest", """
                        SELECT COUNT(*) FROM tags t WHERE NOT EXISTS
                        (SELECT 1 FROM manifests m WHERE m.repository_id = t.repository_id AND m.digest = t.digest)
                        """),
                    ("references of a manifest that is gone", """
                        SELECT COUNT(*) FROM manifest_references r WHERE NOT EXISTS
                        (SELECT 1 FROM manifests m WHERE m.repository_id = r.repository_id AND m.digest = r.parent)
                        """),
                    ("manifests not linked to their repository", """
                        SELECT COUNT(*) FROM manifests m WHERE NOT EXISTS
                        (SELECT 1 FROM repository_blobs l WHERE l.repository_id = m.repository_id AND l.digest = m.digest)
                        """),
                ] {
                    let count = try await db.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect().first?.decode(Int64.self)
                    #expect(count == 0, "\(what)")
                }
            }
        }
    }

    static func outcome<T: Sendable>(_ body: @Sendable () async throws -> T) async -> Result<T, any Error> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    /// Per round, on a manifest that exists untagged: `one` tags it with an immutable tag while
    /// `two` deletes it, and `one` pushes a second manifest again while `two` deletes that. In
    /// either order the tagged manifest ends up present (the delete either came first, or found
    /// the immutable tag and was refused), and a deleted manifest leaves nothing behind.
    static func raceManifests(_ one: any MetadataStore, _ two: any MetadataStore) async throws {
        let repo = try RepositoryName("team/app")
        let immutable: TagGuard = { _, tag in tag.value.hasPrefix("v") ? "v* is immutable" : nil }
        try await one.claimBlob(digest("layer"), size: 1, protectedUntil: 0)
        try await one.linkBlob(digest("layer"), size: 1, to: repo, finishingUpload: nil)
        let references = ManifestReferences(blobs: [digest("layer")])
        func record(_ name: String) -> ManifestRecord {
            ManifestRecord(digest: digest(name), mediaType: MediaType.ociManifest, size: 1)
        }
        for round in 0..<20 {
            let tagged = "tagged-\(round)", pushed = "pushed-\(round)", tag = try Tag("v\(round)")
            for name in [tagged, pushed] {
                try await one.claimBlob(digest(name), size: 1, protectedUntil: 0)
                try await one.putManifest(record(name), in: repo, references: references, tags: [], contentPlaced: true,
                                          guard: immutable)
            }
            async let tagging = one.putManifest(record(tagged), in: repo, references: references, tags: [tag],
                                                      contentPlaced: false, guard: immutable)
            async let deleting = outcome { try await two.deleteManifest(digest(tagged), in: repo, guard: immutable) }
            async let repushing = one.putManifest(record(pushed), in: repo, references: references, tags: [],
                                                        contentPlaced: false, guard: immutable)
            async let deletingPushed: Bool = two.deleteManifest(digest(pushed), in: repo, guard: immutable)
            _ = try await tagging
            _ = try await repushing
            _ = try await deletingPushed
            switch await deleting {
            case .success(let deleted):
                #expect(deleted, "round \(round): the manifest existed")
            case .failure(let error):
                #expect(error as? MetadataConflict == .tagImmutable(tag, rule: "v* is immutable"), "round \(round): \(error)")
            }
            #expect(try await two.manifest(.tag(tag), in: repo)?.digest == digest(tagged), "round \(round): the tag lost its manifest")
            #expect(try await one.manifest(.digest(digest(tagged)), in: repo) != nil, "round \(round)")
        }
        // Every listed tag resolves.
        for name in try await two.tags(in: repo, after: nil, limit: nil) {
            #expect(try await two.manifest(.tag(try Tag(name)), in: repo) != nil, "tag \(name) points at nothing")
        }
    }
}

/// PostgreSQL only: the schema version, the pool's settings.
@Suite struct PostgresSchemaTests {
    @Test func aNewerSchemaIsRefused() async throws {
        let server = try TestPostgres.fromEnvironment()
        try await server.withDatabase { database in
            let settings = server.settings(database: database)
            // Created, then opened again: migrating is idempotent.
            await (try await PostgresMetadataStore.open(settings: settings)).shutdown()
            let again = try await PostgresMetadataStore.open(settings: settings)
            try await again.setSetting("k", to: "v")
            await again.shutdown()
            try await server.withConnection(to: database) { db in
                let logger = Logger(label: "berth.tests.postgres")
                let versions = try await db.query("SELECT version FROM schema_migrations ORDER BY version", logger: logger).collect()
                #expect(try versions.map { try $0.decode(Int.self) } == [4])
                try await db.query("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)", logger: logger)
            }
            await #expect(throws: PostgresMetadataError.schemaTooNew(found: 99, known: 4)) {
                _ = try await PostgresMetadataStore.open(settings: settings)
            }
            #expect(PostgresMetadataError.schemaTooNew(found: 99, known: 4).description.contains("schema version 99"))
        }
    }

    @Test func connectionsPastTheirLifetimeAreReplaced() async throws {
        let server = try TestPostgres.fromEnvironment()
        try await server.withDatabase { database in
            let store = try await PostgresMetadataStore.open(settings: server.settings(database: database, maxConnectionLifetime: .zero))
            do {
                for round in 0..<10 {
                    try await store.setSetting("round", to: "\(round)")
                    #expect(try await store.setting("round") == "\(round)")
                }
                await store.shutdown()
            } catch {
                await store.shutdown()
                throw error
            }
        }
    }
}
