import Foundation
import OCI
import RegistryMetadata

/// One entry of `storage.maintenance.retention.policies`: which repositories it governs, which
/// tags it keeps, and whether the manifests it leaves untagged go.
///
/// The rules mean what zot's `keepTags` mean: a tag is kept when any rule keeps it; a rule keeps
/// the tags matching its patterns (all tags when it has none) that meet any of its criteria, or
/// all of them when it has no criteria.
public struct RetentionPolicy: Sendable {
    public struct KeepRule: Sendable {
        public var patterns: [RegularExpression] = []
        public var mostRecentlyPushedCount: Int?
        public var mostRecentlyPulledCount: Int?
        /// Seconds.
        public var pushedWithin: TimeInterval?
        public var pulledWithin: TimeInterval?

        public init() {}

        var hasCriteria: Bool {
            mostRecentlyPushedCount != nil || mostRecentlyPulledCount != nil || pushedWithin != nil || pulledWithin != nil
        }
    }

    public var repositories: [GlobPattern]
    public var keepTags: [KeepRule]
    public var deleteUntagged: Bool

    public init(repositories: [GlobPattern], keepTags: [KeepRule], deleteUntagged: Bool) {
        self.repositories = repositories
        self.keepTags = keepTags
        self.deleteUntagged = deleteUntagged
    }

    public func applies(to repository: RepositoryName) -> Bool {
        repositories.contains { $0.matches(repository.value) }
    }

    /// The tags of one repository that no rule keeps, as of `now` (seconds since 1970).
    public func tagsToRemove(_ tags: [TagRecord], now: Int64) -> [Tag] {
        var kept = Set<Tag>()
        for rule in keepTags {
            let candidates = tags.filter { tag in rule.patterns.isEmpty || rule.patterns.contains { $0.matches(tag.name.value) } }
            guard rule.hasCriteria else {
                kept.formUnion(candidates.map(\.name))
                continue
            }
            if let count = rule.mostRecentlyPushedCount {
                let newest = candidates.sorted { ($0.pushedAt, $0.name.value) > ($1.pushedAt, $1.name.value) }.prefix(count)
                kept.formUnion(newest.map(\.name))
            }
            if let count = rule.mostRecentlyPulledCount {
                let newest = candidates.filter { $0.pulledAt != nil }
                    .sorted { ($0.pulledAt ?? 0, $0.name.value) > ($1.pulledAt ?? 0, $1.name.value) }.prefix(count)
                kept.formUnion(newest.map(\.name))
            }
            if let within = rule.pushedWithin {
                kept.formUnion(candidates.filter { Double(now - $0.pushedAt) <= within }.map(\.name))
            }
            if let within = rule.pulledWithin {
                kept.formUnion(candidates.filter { $0.pulledAt.map { Double(now - $0) <= within } ?? false }.map(\.name))
            }
        }
        return tags.map(\.name).filter { !kept.contains($0) }
    }
}
