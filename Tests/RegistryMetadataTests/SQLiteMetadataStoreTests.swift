import Foundation
import OCI
import RegistryMetadata
import Testing

/// The metadata store's behaviour, the same on every backend: each test runs once per
/// `Backend` on a fresh store (a new SQLite file, a new PostgreSQL database).
@Suite struct MetadataStoreTests {
    @Test(arguments: Backend.allCases) func tagsPointAtManifestsAndPaginate(_ backend: Backend) async throws {
        try await withStore(backend) { try await MetadataStoreCases(store: $0).tagsPointAtManifestsAndPaginate() }
    }

    @Test(arguments: Backend.allCases) func manifestReferencesAreCheckedInItsTransaction(_ backend: Backend) async throws {
        try await withStore(backend) { try await MetadataStoreCases(store: $0).manifestReferencesAreCheckedInItsTransaction() }
    }

    @Test(arguments: Backend.allCases) func immutableTagsDoNotMoveOrGo(_ backend: Backend) async throws {
        try await withStore(backend) { try await MetadataStoreCases(store: $0).immutableTagsDoNotMoveOrGo() }
    }

    @Test(arguments: Backend.allCases) func deletingAManifestDeletesItsTagsButDeletingATagKeepsTheManifest(_ backend: Backend) async throws {
        try await withStore(backend) { try await MetadataStoreCases(store: $0).deletingAManifestDeletesItsTagsButDeletingATagKeepsTheManifest() }
    }

    @Test(arguments: Backend.allCases) func referrersFilterByArtifactType(_ backend: Backend) async throws {
        try await withStore(backend) { try await MetadataStoreCases(store: $0).referrersFilterByArtifactType() }
    }

    @Test(arguments: Backend.allCases) func blobLinksArePerRepositoryAndMountable(_ backend: Backend) async throws {
        try await withStore(backend) { try await MetadataStoreCases(store: $0).blobLinksArePerRepositoryAndMountable() }
    }

    @Test(arguments: Backend.allCases) func uploadSessionsPersist(_ backend: Backend) async throws {
        try await withStore(backend) { try await MetadataStoreCases(store: $0).uploadSessionsPersist() }
    }

    @Test(arguments: Backend.allCases) func sweepKeepsWhatIsReachableAndMarksTheRest(_ backend: Backend) async throws {
        try await withStore(backend) { try await MetadataStoreCases(store: $0).sweepKeepsWhatIsReachableAndMarksTheRest() }
    }

    @Test(arguments: Backend.allCases) func sweepWithoutUntaggedRemovalKeepsManifestsAndProtectedBlobs(_ backend: Backend) async throws {
        try await withStore(backend) { try await MetadataStoreCases(store: $0).sweepWithoutUntaggedRemovalKeepsManifestsAndProtectedBlobs() }
    }

    @Test(arguments: Backend.allCases) func aManifestWhoseContentIsNotStoredIsRefusedUntilPlaced(_ backend: Backend) async throws {
        try await withStore(backend) { try await MetadataStoreCases(store: $0).aManifestWhoseContentIsNotStoredIsRefusedUntilPlaced() }
    }

    @Test(arguments: Backend.allCases) func orphansAreMarkedOnlyWithoutARow(_ backend: Backend) async throws {
        try await withStore(backend) { try await MetadataStoreCases(store: $0).orphansAreMarkedOnlyWithoutARow() }
    }
}

/// The bodies of `MetadataStoreTests`, on one store.
struct MetadataStoreCases {
    let store: any MetadataStore
    let repo: RepositoryName
    static let noGuard: TagGuard = { _, _ in nil }

    init(store: any MetadataStore) throws {
        self.store = store
        repo = try RepositoryName("team/app")
    }

    func digest(_ text: String) -> Digest { DigestHasher.digest(of: Array(text.utf8)) }

    /// A blob as an upload leaves it: claimed, then linked.
    func storeBlob(_ name: String, in repository: RepositoryName? = nil, protectedUntil: Int64 = 0) async throws {
        try await store.claimBlob(digest(name), size: 1, protectedUntil: protectedUntil)
        try await store.linkBlob(digest(name), size: 1, to: repository ?? repo, finishingUpload: nil)
    }

    func manifest(_ name: String, subject: Digest? = nil) -> ManifestRecord {
        ManifestRecord(digest: digest(name), mediaType: MediaType.ociManifest, size: 1, subject: subject)
    }

    func put(_ name: String, blobs: [String] = [], children: [String] = [], tag: String? = nil,
             subject: Digest? = nil) async throws {
        try await store.claimBlob(digest(name), size: 1, protectedUntil: 0)
        try await store.putManifest(manifest(name, subject: subject), in: repo,
                                    references: ManifestReferences(blobs: blobs.map(digest), children: children.map(digest)),
                                    tags: try tag.map { [try Tag($0)] } ?? [], contentPlaced: true, guard: Self.noGuard)
    }

    func sweep(untagged: Bool, now: Int64 = Int64(Date().timeIntervalSince1970) + 10, dryRun: Bool = false) async throws -> SweepPlan {
        try await store.sweep(SweepRequest(now: now, cutoff: now, removesUntagged: { _ in untagged }, retention: nil, dryRun: dryRun))
    }

    func tagsPointAtManifestsAndPaginate() async throws {
        for name in ["c", "a", "d", "b"] { try await put("m1", tag: name) }
        #expect(try await store.tags(in: repo, after: nil, limit: nil) == ["a", "b", "c", "d"])
        #expect(try await store.tags(in: repo, after: "b", limit: 1) == ["c"])
        #expect(try await store.manifest(.tag(try Tag("c")), in: repo)?.digest == digest("m1"))
        #expect(try await store.repositories(after: nil, limit: 10) == ["team/app"])
    }

    func manifestReferencesAreCheckedInItsTransaction() async throws {
        await #expect(throws: MetadataConflict.blobUnknown(digest("l1"))) { try await put("m1", blobs: ["l1"]) }
        try await storeBlob("l1")
        try await put("m1", blobs: ["l1"])
        await #expect(throws: MetadataConflict.manifestUnknown(digest("child"))) { try await put("index", children: ["child"]) }
        #expect(try await store.manifest(.digest(digest("index")), in: repo) == nil)
    }

    func immutableTagsDoNotMoveOrGo() async throws {
        let guarded: TagGuard = { _, tag in tag.value.hasPrefix("v") ? "rule" : nil }
        try await put("m1", tag: "v1")
        try await store.claimBlob(digest("m2"), size: 1, protectedUntil: 0)
        await #expect(throws: MetadataConflict.tagImmutable(try Tag("v1"), rule: "rule")) {
            try await store.putManifest(manifest("m2"), in: repo, references: ManifestReferences(), tags: [try Tag("v1")], contentPlaced: true, guard: guarded)
        }
        // The same manifest again is no move.
        try await store.putManifest(manifest("m1"), in: repo, references: ManifestReferences(), tags: [try Tag("v1")], contentPlaced: true, guard: guarded)
        await #expect(throws: MetadataConflict.self) { _ = try await store.deleteTag(try Tag("v1"), in: repo, guard: guarded) }
        await #expect(throws: MetadataConflict.self) { _ = try await store.deleteManifest(digest("m1"), in: repo, guard: guarded) }
        #expect(try await store.manifest(.tag(try Tag("v1")), in: repo)?.digest == digest("m1"))
    }

    func deletingAManifestDeletesItsTagsButDeletingATagKeepsTheManifest() async throws {
        try await storeBlob("l1")
        try await put("m1", blobs: ["l1"], tag: "one")
        try await put("m1", tag: "two")
        #expect(try await store.deleteTag(try Tag("one"), in: repo, guard: Self.noGuard) == digest("m1"))
        #expect(try await store.deleteTag(try Tag("one"), in: repo, guard: Self.noGuard) == nil)
        #expect(try await store.manifest(.digest(digest("m1")), in: repo) != nil)
        #expect(try await store.deleteManifest(digest("m1"), in: repo, guard: Self.noGuard))
        #expect(try await store.tags(in: repo, after: nil, limit: nil).isEmpty)
        #expect(try await store.manifest(.digest(digest("m1")), in: repo) == nil)
    }

    func referrersFilterByArtifactType() async throws {
        let subject = digest("subject")
        for (name, type) in [("sig", "application/x-signature"), ("sbom", "application/x-sbom")] {
            try await store.claimBlob(digest(name), size: 1, protectedUntil: 0)
            try await store.putManifest(ManifestRecord(digest: digest(name), mediaType: MediaType.ociManifest, size: 1,
                                                       artifactType: type, subject: subject),
                                        in: repo, references: ManifestReferences(), tags: [], contentPlaced: true, guard: Self.noGuard)
        }
        #expect(try await store.referrers(of: subject, in: repo, artifactType: nil).count == 2)
        let sboms = try await store.referrers(of: subject, in: repo, artifactType: "application/x-sbom")
        #expect(sboms.map(\.digest) == [digest("sbom")])
    }

    func blobLinksArePerRepositoryAndMountable() async throws {
        let other = try RepositoryName("other")
        try await storeBlob("b")
        #expect(try await store.blobLink(digest("b"), in: repo)?.size == 1)
        #expect(try await store.blobLink(digest("b"), in: other) == nil)
        #expect(try await store.mountBlob(digest("b"), from: other, into: repo, protectedUntil: 5) == nil)
        #expect(try await store.mountBlob(digest("b"), from: repo, into: other, protectedUntil: 5) == 1)
        #expect(try await store.blobLink(digest("b"), in: other)?.protectedUntil == 5)
        #expect(try await store.unlinkBlob(digest("b"), from: repo))
        #expect(try await store.blobLink(digest("b"), in: repo) == nil)
    }

    func uploadSessionsPersist() async throws {
        try await store.createUpload(UploadRecord(id: "u1", repository: repo, size: 0, createdAt: 100))
        #expect(try await store.setUploadSize("u1", from: 0, to: 42, digestState: [1, 2, 3]))
        #expect(try await store.upload("u1")?.size == 42)
        #expect(try await store.upload("u1")?.digestState == [1, 2, 3])
        #expect(try await store.setUploadSize("u1", from: 0, to: 50, digestState: nil) == false, "moved from 0 before")
        #expect(try await store.setUploadSize("gone", from: 0, to: 1, digestState: nil) == false)
        #expect(try await store.upload("u1")?.size == 42)
        #expect(try await store.uploads(startedBefore: 101).map(\.id) == ["u1"])
        #expect(try await store.uploads(startedBefore: 100).isEmpty)
        try await store.deleteUpload("u1")
        #expect(try await store.upload("u1") == nil)
    }

    func sweepKeepsWhatIsReachableAndMarksTheRest() async throws {
        for layer in ["shared", "only-old", "child-layer", "sig-layer", "unused"] { try await storeBlob(layer) }
        try await put("kept", blobs: ["shared"], tag: "latest")
        try await put("old", blobs: ["shared", "only-old"])
        try await put("child", blobs: ["child-layer"])
        try await put("index", children: ["child"], tag: "multi")
        try await put("sig", blobs: ["sig-layer"], subject: digest("index"))

        let dry = try await sweep(untagged: true, dryRun: true)
        #expect(dry.manifests.map(\.digest) == [digest("old")])
        #expect(Set(dry.blobs.map(\.digest)) == [digest("only-old"), digest("unused"), digest("old")])
        #expect(try await store.manifest(.digest(digest("old")), in: repo) != nil)
        #expect(try await store.pendingBlobRemovals().isEmpty)

        let plan = try await sweep(untagged: true)
        #expect(plan == dry)
        #expect(try await store.manifest(.digest(digest("old")), in: repo) == nil)
        #expect(try await store.manifest(.digest(digest("child")), in: repo) != nil)
        #expect(try await store.manifest(.digest(digest("sig")), in: repo) != nil)
        #expect(Set(try await store.pendingBlobRemovals()) == Set(plan.blobs.map(\.digest)))
        // A blob being removed cannot be claimed until its file is gone.
        await #expect(throws: MetadataConflict.blobBeingRemoved(digest("unused"))) {
            try await store.claimBlob(digest("unused"), size: 1, protectedUntil: 0)
        }
        try await store.finishBlobRemovals(plan.blobs.map(\.digest))
        try await store.claimBlob(digest("unused"), size: 1, protectedUntil: 0)

        // Untagging the index lets it, its child and its referrer go.
        _ = try await store.deleteTag(try Tag("multi"), in: repo, guard: Self.noGuard)
        let second = try await sweep(untagged: true)
        #expect(Set(second.manifests.map(\.digest)) == [digest("index"), digest("child"), digest("sig")])
        #expect(Set(second.blobs.map(\.digest)).isSuperset(of: [digest("child-layer"), digest("sig-layer")]))
    }

    func sweepWithoutUntaggedRemovalKeepsManifestsAndProtectedBlobs() async throws {
        let now = Int64(Date().timeIntervalSince1970)
        try await storeBlob("fresh", protectedUntil: now + 3600)
        try await storeBlob("stale")
        try await put("untagged", blobs: ["stale"])
        let plan = try await sweep(untagged: false, now: now + 10)
        #expect(plan.manifests.isEmpty)
        #expect(plan.blobs.isEmpty)
        _ = try await store.deleteManifest(digest("untagged"), in: repo, guard: Self.noGuard)
        let after = try await sweep(untagged: false, now: now + 10)
        #expect(Set(after.blobs.map(\.digest)) == [digest("stale"), digest("untagged")])
    }

    func aManifestWhoseContentIsNotStoredIsRefusedUntilPlaced() async throws {
        await #expect(throws: MetadataConflict.contentNotStored(digest("new"))) {
            try await store.putManifest(manifest("new"), in: repo, references: ManifestReferences(), tags: [],
                                        contentPlaced: false, guard: Self.noGuard)
        }
        // A claim alone does not vouch for a file: the claimer may have died before placing it.
        try await store.claimBlob(digest("new"), size: 1, protectedUntil: 0)
        await #expect(throws: MetadataConflict.contentNotStored(digest("new"))) {
            try await store.putManifest(manifest("new"), in: repo, references: ManifestReferences(), tags: [],
                                        contentPlaced: false, guard: Self.noGuard)
        }
        try await store.putManifest(manifest("new"), in: repo, references: ManifestReferences(), tags: [],
                                    contentPlaced: true, guard: Self.noGuard)
        try await store.putManifest(manifest("new"), in: repo, references: ManifestReferences(), tags: [try Tag("again")],
                                    contentPlaced: false, guard: Self.noGuard)
        #expect(try await store.manifest(.tag(try Tag("again")), in: repo)?.digest == digest("new"))
    }

    func orphansAreMarkedOnlyWithoutARow() async throws {
        try await storeBlob("known")
        #expect(try await store.markOrphans([digest("known"), digest("orphan")]) == [digest("orphan")])
        #expect(try await store.knownBlobs(among: [digest("known"), digest("orphan"), digest("other")])
                == [digest("known"), digest("orphan")])
    }
}
