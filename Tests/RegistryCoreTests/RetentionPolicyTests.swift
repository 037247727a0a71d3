import OCI
import RegistryCore
import RegistryMetadata
import Testing

@Suite struct RetentionPolicyTests {
    let digest = DigestHasher.digest(of: Array("m".utf8))

    func tags(_ entries: [(String, Int64, Int64?)]) throws -> [TagRecord] {
        try entries.map { TagRecord(name: try Tag($0.0), digest: digest, pushedAt: $0.1, pulledAt: $0.2) }
    }

    func policy(_ rules: [RetentionPolicy.KeepRule]) throws -> RetentionPolicy {
        RetentionPolicy(repositories: [try GlobPattern("ci/*")], keepTags: rules, deleteUntagged: true)
    }

    @Test func aTagIsKeptWhenAnyRuleKeepsIt() throws {
        var patterns = RetentionPolicy.KeepRule()
        patterns.patterns = [try RegularExpression("^v[0-9]+\\."), try RegularExpression("^latest$")]
        var recent = RetentionPolicy.KeepRule()
        recent.mostRecentlyPushedCount = 1
        let all = try tags([("v1.0", 10, nil), ("latest", 20, nil), ("old1", 30, nil), ("old2", 40, nil), ("xv1.0", 5, nil)])
        let removed = try policy([patterns, recent]).tagsToRemove(all, now: 100).map(\.value)
        // Patterns match anywhere unless anchored: "xv1.0" does not start with v.
        #expect(Set(removed) == ["old1", "xv1.0"])
    }

    @Test func timeWindowsAndPullCounts() throws {
        var pushed = RetentionPolicy.KeepRule()
        pushed.pushedWithin = 50
        var pulled = RetentionPolicy.KeepRule()
        pulled.pulledWithin = 10
        let all = try tags([("a", 10, nil), ("b", 60, nil), ("c", 10, 95), ("d", 10, 80)])
        #expect(try policy([pushed, pulled]).tagsToRemove(all, now: 100).map(\.value) == ["a", "d"])
        var mostPulled = RetentionPolicy.KeepRule()
        mostPulled.mostRecentlyPulledCount = 1
        #expect(Set(try policy([mostPulled]).tagsToRemove(all, now: 100).map(\.value)) == ["a", "b", "d"])
    }

    @Test func criteriaApplyOnlyToTagsMatchingTheRulesPatterns() throws {
        var rule = RetentionPolicy.KeepRule()
        rule.patterns = [try RegularExpression("^release-")]
        rule.mostRecentlyPushedCount = 1
        let all = try tags([("release-1", 10, nil), ("release-2", 20, nil), ("dev", 30, nil)])
        #expect(Set(try policy([rule]).tagsToRemove(all, now: 100).map(\.value)) == ["release-1", "dev"])
    }

    @Test func policiesMatchRepositoriesByGlob() throws {
        let p = try policy([])
        #expect(p.applies(to: try RepositoryName("ci/app")))
        #expect(!p.applies(to: try RepositoryName("ci/app/sub")))
        #expect(!p.applies(to: try RepositoryName("prod/app")))
    }
}
