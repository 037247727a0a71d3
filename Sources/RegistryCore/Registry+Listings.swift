import OCI
import RegistryMetadata

/// Tag list, catalog and referrers: indexed queries, paged by the caller.
extension Registry {
    /// One page of a repository's tags after `last`, at most `limit`; `NAME_UNKNOWN` for a
    /// repository that does not exist.
    public func tags(of repository: RepositoryName, after last: String?, limit: Int?) async throws -> [String] {
        let page = try await metadata.tags(in: repository, after: last, limit: limit)
        if page.isEmpty && last == nil, !(try await metadata.repositoryExists(repository)) {
            throw DistributionError(.nameUnknown, "repository \(repository) is unknown")
        }
        return page
    }

    public func repositories(after last: String?, limit: Int?) async throws -> [String] {
        try await metadata.repositories(after: last, limit: limit)
    }

    public func referrers(of subject: Digest, in repository: RepositoryName, artifactType: String?) async throws -> [ManifestRecord] {
        try await metadata.referrers(of: subject, in: repository, artifactType: artifactType)
    }
}
