import OCI
@testable import RegistryCore
import RegistryMetadata
import Testing

@Suite struct TagCacheTests {
    let repository = try! RepositoryName("app")
    let tag = try! Tag("latest")

    func record(_ text: String) -> ManifestRecord {
        ManifestRecord(digest: DigestHasher.digest(of: Array(text.utf8)), mediaType: MediaType.ociManifest, size: 1)
    }

    @Test func aReadThatRacedAChangeIsNotRemembered() {
        let cache = TagCache()
        let before = cache.currentGeneration
        cache.remove(tag, in: repository)           // a PUT moved the tag meanwhile
        cache.insert(record("old"), for: tag, in: repository, readAt: before)
        #expect(cache[tag, in: repository] == nil)
        cache.insert(record("new"), for: tag, in: repository, readAt: cache.currentGeneration)
        #expect(cache[tag, in: repository] == record("new"))
    }

    @Test func deletingAManifestDropsTheTagsPointingAtIt() {
        let cache = TagCache()
        cache.insert(record("m"), for: tag, in: repository, readAt: cache.currentGeneration)
        cache.remove(pointingAt: record("m").digest, in: repository)
        #expect(cache[tag, in: repository] == nil)
    }

    @Test func entriesExpire() async throws {
        let cache = TagCache(lifetime: .milliseconds(20))
        cache.insert(record("m"), for: tag, in: repository, readAt: cache.currentGeneration)
        #expect(cache[tag, in: repository] != nil)
        try await Task.sleep(for: .milliseconds(40))
        #expect(cache[tag, in: repository] == nil)
    }
}
