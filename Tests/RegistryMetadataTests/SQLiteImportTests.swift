import Foundation
import OCI
import RegistryMetadata
import Testing

/// `migrate import-sqlite`: what an embedded registry knows arrives in PostgreSQL whole, and a
/// database that already holds a registry is refused untouched.
@Suite struct SQLiteImportTests {
    static let noGuard: TagGuard = { _, _ in nil }
    static func digest(_ text: String) -> Digest { DigestHasher.digest(of: Array(text.utf8)) }

    @Test func everythingArrivesAndTheSequencesGoOnAfterIt() async throws {
        try await withStore(.sqlite) { source in
            let app = try RepositoryName("team/app")
            let cursors = try await source.prepareEventCursors(["ci"])
            #expect(cursors == ["ci": 0])
            try await source.claimBlob(Self.digest("layer"), size: 5, protectedUntil: 0)
            try await source.linkBlob(Self.digest("layer"), size: 5, to: app, finishingUpload: nil, events: [Array("push layer".utf8)])
            try await source.claimBlob(Self.digest("m"), size: 7, protectedUntil: 0)
            try await source.putManifest(ManifestRecord(digest: Self.digest("m"), mediaType: MediaType.ociManifest, size: 7), in: app,
                                         references: ManifestReferences(blobs: [Self.digest("layer")]), tags: [try Tag("v1"), try Tag("latest")],
                                         contentPlaced: true, guard: Self.noGuard, events: [Array("push m".utf8)])
            _ = try await source.mountBlob(Self.digest("layer"), from: app, into: try RepositoryName("other"), protectedUntil: 0,
                                           events: { _ in [] })
            try await source.createUpload(UploadRecord(id: "u1", repository: app, size: 3, createdAt: 100, digestState: [1, 2, 3]))
            let sourceEvents = try await source.events(after: 0, limit: 100)
            try await source.setEventCursor("ci", to: sourceEvents[0].sequence)
            guard let sqlite = source as? SQLiteMetadataStore else { throw TestPostgres.Missing(description: "not SQLite") }

            try await withStore(.postgres) { target in
                guard let target = target as? PostgresMetadataStore else { throw TestPostgres.Missing(description: "not PostgreSQL") }
                let report = try await target.importSQLite(from: sqlite)
                #expect(report.count("repositories") == 2)
                #expect(report.count("tags") == 2)
                #expect(report.count("events") == 2)

                #expect(try await target.repositories(after: nil, limit: nil) == ["other", "team/app"])
                #expect(try await target.tags(in: app, after: nil, limit: nil) == ["latest", "v1"])
                let manifest = try #require(try await target.manifest(.tag(try Tag("v1")), in: app))
                #expect(manifest.digest == Self.digest("m") && manifest.size == 7)
                #expect(try await target.upload("u1")?.digestState == [1, 2, 3])
                #expect(try await target.events(after: 0, limit: 100) == sourceEvents)
                #expect(try await target.eventCursor("ci") == sourceEvents[0].sequence)
                // New rows continue the copied numbering: a new repository and a new event.
                try await target.claimBlob(Self.digest("layer2"), size: 1, protectedUntil: 0)
                try await target.linkBlob(Self.digest("layer2"), size: 1, to: try RepositoryName("new"), finishingUpload: nil,
                                          events: [Array("push layer2".utf8)])
                let events = try await target.events(after: 0, limit: 100)
                #expect(events.count == 3 && events[2].sequence > sourceEvents[1].sequence)
                #expect(try await target.repositories(after: nil, limit: nil) == ["new", "other", "team/app"])

                // A second import would mix two registries: refused, nothing changed.
                await #expect(throws: PostgresMetadataError.notEmpty) { _ = try await target.importSQLite(from: sqlite) }
                #expect(try await target.events(after: 0, limit: 100).count == 3)
            }
        }
    }
}
