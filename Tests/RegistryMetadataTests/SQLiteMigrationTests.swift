import Foundation
import OCI
@testable import RegistryMetadata
import Testing

/// A database written by berth 0.1 (schema version 1) opens with its content intact and usable
/// by garbage collection, retention and the event outbox.
@Suite struct SQLiteMigrationTests {
    @Test func version1DatabasesAreMigratedInPlace() async throws {
        let path = NSTemporaryDirectory() + "berth-v1-\(UUID().uuidString).sqlite"
        let layer = DigestHasher.digest(of: Array("layer".utf8))
        let manifest = DigestHasher.digest(of: Array("manifest".utf8))
        do {
            let old = try SQLiteConnection(path: path, readOnly: false)
            try old.execute(SQLiteSchema.version1)
            try old.execute("""
                INSERT INTO repositories (id, name) VALUES (1, 'team/app');
                INSERT INTO repository_blobs VALUES (1, '\(layer)', 5), (1, '\(manifest)', 8);
                INSERT INTO manifests VALUES (1, '\(manifest)', '\(MediaType.ociManifest)', 8, NULL, NULL, NULL, 100);
                INSERT INTO manifest_references VALUES (1, '\(manifest)', '\(layer)', 0);
                INSERT INTO tags VALUES (1, 'v1', '\(manifest)', 123);
                """)
        }
        let store = try SQLiteMetadataStore(path: path)
        let repository = try RepositoryName("team/app")
        #expect(try await store.blobLink(layer, in: repository) == BlobLink(size: 5, protectedUntil: 0))
        #expect(try await store.manifest(.tag(try Tag("v1")), in: repository)?.digest == manifest)
        // The manifest is stored already: a new tag needs no new content.
        try await store.putManifest(ManifestRecord(digest: manifest, mediaType: MediaType.ociManifest, size: 8), in: repository,
                                    references: ManifestReferences(blobs: [layer]), tags: [try Tag("v2")],
                                    contentPlaced: false, guard: { _, _ in nil })
        let now = Int64(Date().timeIntervalSince1970) + 10
        let plan = try await store.sweep(SweepRequest(now: now, cutoff: now, removesUntagged: { _ in true }, retention: { _, tags in
            #expect(tags.first { $0.name.value == "v1" }?.pushedAt == 123, "updated_at became pushed_at")
            return []
        }, dryRun: true))
        #expect(plan.manifests.isEmpty && plan.blobs.isEmpty, "everything is still reachable")
        // Version 3's outbox is there too.
        try await store.appendEvents([Array("event".utf8)])
        #expect(try await store.events(after: 0, limit: 10).count == 1)
        // Opening again leaves the migrated schema as it is.
        _ = try SQLiteMetadataStore(path: path)
    }
}
