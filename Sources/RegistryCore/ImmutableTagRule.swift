import OCI

/// One entry of `immutabletags`: tags matching `tags` in repositories matching `repositories`
/// cannot be overwritten with another manifest or deleted, by a client or by retention.
public struct ImmutableTagRule: Sendable {
    public var repositories: [GlobPattern]
    public var tags: [GlobPattern]
    /// Position in the configuration, to name the rule in refusals (`immutabletags[0]`).
    public var index: Int

    public init(repositories: [GlobPattern], tags: [GlobPattern], index: Int) {
        self.repositories = repositories
        self.tags = tags
        self.index = index
    }

    public func protects(_ tag: Tag, in repository: RepositoryName) -> Bool {
        repositories.contains { $0.matches(repository.value) } && tags.contains { $0.matches(tag.value) }
    }

    public var description: String {
        "immutabletags[\(index)] (repositories \(repositories.map(\.source)), tags \(tags.map(\.source)))"
    }
}

extension Array where Element == ImmutableTagRule {
    /// The first rule protecting the tag, described; nil when the tag may move.
    public func rule(protecting tag: Tag, in repository: RepositoryName) -> String? {
        first { $0.protects(tag, in: repository) }?.description
    }
}
