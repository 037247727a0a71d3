import Foundation
import OCI
import RegistryMetadata
import Testing

@Suite struct SQLiteMetadataStoreTests {
    let store: SQLiteMetadataStore
    let repo: RepositoryName

    init() throws {
        store = try SQLiteMetadataStore(path: NSTemporaryDirectory() + "berth-meta-\(UUID().uuidString).sqlite")
        repo = try RepositoryName("team/app")
    }

    func digest(_ text: String) -> Digest { DigestHasher.digest(of: Array(text.utf8)) }

    @Test func tagsPointAtManifestsAndPaginate() throws {
        let manifest = ManifestRecord(digest: digest("m1"), mediaType: MediaType.ociManifest, size: 10)
        for name in ["b", "a", "c", "d"] {
            try store.putManifest(manifest, in: repo, blobs: [], children: [], tag: try Tag(name))
        }
        #expect(try store.tags(in: repo, after: nil, limit: nil) == ["a", "b", "c", "d"])
        #expect(try store.tags(in: repo, after: "b", limit: 1) == ["c"])
        #expect(try store.manifest(.tag(try Tag("c")), in: repo)?.digest == digest("m1"))
        #expect(try store.repositories(after: nil, limit: 10) == ["team/app"])
    }

    @Test func deletingAManifestDeletesItsTagsButDeletingATagKeepsTheManifest() throws {
        let first = ManifestRecord(digest: digest("m1"), mediaType: MediaType.ociManifest, size: 10)
        try store.putManifest(first, in: repo, blobs: [digest("l1")], children: [], tag: try Tag("one"))
        try store.putManifest(first, in: repo, blobs: [], children: [], tag: try Tag("two"))
        #expect(try store.deleteTag(try Tag("one"), in: repo))
        #expect(!(try store.deleteTag(try Tag("one"), in: repo)))
        #expect(try store.manifest(.digest(first.digest), in: repo) != nil)
        #expect(try store.deleteManifest(first.digest, in: repo))
        #expect(try store.tags(in: repo, after: nil, limit: nil).isEmpty)
        #expect(try store.manifest(.digest(first.digest), in: repo) == nil)
    }

    @Test func referrersFilterByArtifactType() throws {
        let subject = digest("subject")
        try store.putManifest(ManifestRecord(digest: digest("sig"), mediaType: MediaType.ociManifest, size: 1,
                                             artifactType: "application/x-sig", subject: subject),
                              in: repo, blobs: [], children: [], tag: nil)
        try store.putManifest(ManifestRecord(digest: digest("sbom"), mediaType: MediaType.ociManifest, size: 1,
                                             artifactType: "application/x-sbom", subject: subject, annotationsJSON: "{\"k\":\"v\"}"),
                              in: repo, blobs: [], children: [], tag: nil)
        #expect(try store.referrers(of: subject, in: repo, artifactType: nil).count == 2)
        let sboms = try store.referrers(of: subject, in: repo, artifactType: "application/x-sbom")
        #expect(sboms.map(\.digest) == [digest("sbom")])
        #expect(sboms.first?.annotationsJSON == "{\"k\":\"v\"}")
    }

    @Test func blobLinksArePerRepository() throws {
        let other = try RepositoryName("other")
        try store.linkBlob(digest("b"), size: 1, to: repo)
        #expect(try store.isBlobLinked(digest("b"), in: repo))
        #expect(!(try store.isBlobLinked(digest("b"), in: other)))
        #expect(try store.unlinkBlob(digest("b"), from: repo))
        #expect(!(try store.isBlobLinked(digest("b"), in: repo)))
    }

    @Test func uploadSessionsPersist() throws {
        try store.createUpload(UploadRecord(id: "u1", repository: repo, size: 0, createdAt: 100))
        try store.setUploadSize("u1", size: 42)
        #expect(try store.upload("u1")?.size == 42)
        #expect(try store.uploads(startedBefore: 101).map(\.id) == ["u1"])
        #expect(try store.uploads(startedBefore: 100).isEmpty)
        try store.deleteUpload("u1")
        #expect(try store.upload("u1") == nil)
    }
}
