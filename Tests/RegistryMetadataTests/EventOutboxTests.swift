import Foundation
import OCI
import RegistryMetadata
import Testing

/// The outbox: events land in the transactions of their changes (and not when the change does
/// not happen), cursors deliver in order from where they were, and delivered events are pruned.
@Suite struct EventOutboxTests {
    @Test(arguments: Backend.allCases) func changesWriteTheirEventsAndRefusedChangesWriteNone(_ backend: Backend) async throws {
        try await withStore(backend) { try await EventOutboxCases(store: $0).changesWriteTheirEventsAndRefusedChangesWriteNone() }
    }

    @Test(arguments: Backend.allCases) func cursorsResumeAndPruneOnlyWhatEveryEndpointHas(_ backend: Backend) async throws {
        try await withStore(backend) { try await EventOutboxCases(store: $0).cursorsResumeAndPruneOnlyWhatEveryEndpointHas() }
    }
}

/// The bodies of `EventOutboxTests`, on one store of each backend.
struct EventOutboxCases {
    let store: any MetadataStore
    let repo: RepositoryName
    static let noGuard: TagGuard = { _, _ in nil }

    init(store: any MetadataStore) throws {
        self.store = store
        repo = try RepositoryName("team/app")
    }

    func digest(_ text: String) -> Digest { DigestHasher.digest(of: Array(text.utf8)) }
    func payload(_ text: String) -> EventPayload { Array(text.utf8) }
    func texts(_ events: [OutboxEvent]) -> [String] { events.map { String(decoding: $0.payload, as: UTF8.self) } }

    func changesWriteTheirEventsAndRefusedChangesWriteNone() async throws {
        let cursors = try await store.prepareEventCursors(["ci"])
        #expect(cursors == ["ci": 0])
        try await store.claimBlob(digest("layer"), size: 1, protectedUntil: 0)
        try await store.linkBlob(digest("layer"), size: 1, to: repo, finishingUpload: nil, events: [payload("push layer")])
        // A manifest whose blob is missing is refused: its event must not be written either.
        try await store.claimBlob(digest("m"), size: 1, protectedUntil: 0)
        await #expect(throws: MetadataConflict.self) {
            try await store.putManifest(ManifestRecord(digest: digest("m"), mediaType: MediaType.ociManifest, size: 1), in: repo,
                                        references: ManifestReferences(blobs: [digest("missing")]), tags: [],
                                        contentPlaced: true, guard: Self.noGuard, events: [payload("push refused")])
        }
        try await store.putManifest(ManifestRecord(digest: digest("m"), mediaType: MediaType.ociManifest, size: 1), in: repo,
                                    references: ManifestReferences(blobs: [digest("layer")]), tags: [try Tag("v1")],
                                    contentPlaced: true, guard: Self.noGuard, events: [payload("push m")])
        #expect(try await store.unlinkBlob(digest("nothing"), from: repo, events: [payload("delete nothing")]) == false)
        #expect(try await store.deleteTag(try Tag("v1"), in: repo, guard: Self.noGuard, events: { ["delete v1 \($0.hex.prefix(4))"].map(payload) }) == digest("m"))
        #expect(try await store.mountBlob(digest("layer"), from: repo, into: try RepositoryName("other"), protectedUntil: 0,
                                          events: { ["mount \($0)"].map(payload) }) == 1)
        try await store.appendEvents([payload("pull m")])
        let events = try await store.events(after: 0, limit: 100)
        #expect(texts(events) == ["push layer", "push m", "delete v1 \(digest("m").hex.prefix(4))", "mount 1", "pull m"])
        #expect(events.map(\.sequence) == events.map(\.sequence).sorted())
    }

    func cursorsResumeAndPruneOnlyWhatEveryEndpointHas() async throws {
        _ = try await store.prepareEventCursors(["a", "b"])
        try await store.appendEvents((1...5).map { payload("e\($0)") })
        let all = try await store.events(after: 0, limit: 100)
        #expect(try await store.events(after: all[1].sequence, limit: 2).map(\.sequence) == [all[2].sequence, all[3].sequence])
        #expect(try await store.eventCount(after: all[1].sequence) == 3)
        try await store.setEventCursor("a", to: all[4].sequence)
        try await store.setEventCursor("b", to: all[1].sequence)
        try await store.setEventCursor("b", to: all[0].sequence)  // never backwards
        try await store.pruneEvents()
        #expect(texts(try await store.events(after: 0, limit: 100)) == ["e3", "e4", "e5"])
        // A restart finds the cursors where they were; a new endpoint starts at the end.
        let cursors = try await store.prepareEventCursors(["a", "b", "c"])
        #expect(cursors["a"] == all[4].sequence && cursors["b"] == all[1].sequence && cursors["c"] == all[4].sequence)
        // An endpoint removed from the configuration no longer holds events back.
        _ = try await store.prepareEventCursors(["a"])
        try await store.pruneEvents()
        #expect(try await store.events(after: 0, limit: 100).isEmpty)
        // Notifications switched off: what was left waits for no one.
        try await store.appendEvents([payload("left")])
        #expect(try await store.prepareEventCursors([]).isEmpty)
        #expect(try await store.events(after: 0, limit: 100).isEmpty)
    }
}
