import AsyncHTTPClient
import NIOCore
import OCI

/// Copies an image between registries without touching the local store.
///
/// Each blob streams from the source's `GET` straight into the destination's `PUT`; a blob the
/// destination has is skipped (`HEAD`), and on the same registry it is mounted from the source
/// repository instead of transferred. Indexes are copied whole (children first) unless a
/// platform is asked for. Manifests keep their exact bytes, so digests are unchanged.
public struct ImageCopier: Sendable {
    public let source: RegistryClient
    public let destination: RegistryClient
    public let jobs: Int
    public let progress: any TransferProgress

    public init(source: RegistryClient, destination: RegistryClient, jobs: Int, progress: any TransferProgress) {
        self.source = source
        self.destination = destination
        self.jobs = jobs
        self.progress = progress
    }

    /// Whether both ends are the same registry, so blobs can be mounted.
    var sameRegistry: Bool { source.baseURL == destination.baseURL }

    /// Copies `from` to `to`; with `platform`, only that platform's manifest. Returns the digest.
    @discardableResult
    public func copy(_ from: ImageReference, to: ImageReference, platform: Platform? = nil) async throws -> Digest {
        var fetched = try await source.fetchManifest(from.manifestReference, from: from.repository)
        if let platform, case .index(let index) = try fetched.decoded() {
            guard let wanted = index.manifest(for: platform) else {
                throw ClientError.noMatchingPlatform(wanted: platform.description,
                                                     available: index.manifests.compactMap { $0.platform?.description })
            }
            fetched = try await source.fetchManifest(.digest(wanted.digest), from: from.repository)
        }
        let tag = to.digest == nil ? to.tag : nil
        let digest = try await copyManifest(fetched, from: from.repository, to: to.repository, tag: tag)
        progress.message("Digest: \(digest)")
        return digest
    }

    /// Copies one manifest or index and everything under it.
    func copyManifest(_ fetched: FetchedManifest, from: RepositoryName, to: RepositoryName, tag: Tag?) async throws -> Digest {
        switch try fetched.decoded() {
        case .index(let index):
            for child in index.manifests {
                if try await destination.manifestDescriptor(.digest(child.digest), in: to,
                                                            scopes: pushScopes(from: from, to: to)) != nil { continue }
                let childManifest = try await source.fetchManifest(.digest(child.digest), from: from)
                _ = try await copyManifest(childManifest, from: from, to: to, tag: nil)
            }
        case .image(let manifest):
            try await forEachConcurrently(uniqueByDigest(manifest.blobs), limit: jobs) { blob in
                try await copyBlob(blob, from: from, to: to)
            }
        }
        return try await destination.putManifest(fetched.bytes, mediaType: fetched.mediaType,
                                                 reference: tag.map { .tag($0) } ?? .digest(fetched.digest), in: to,
                                                 scopes: pushScopes(from: from, to: to))
    }

    func pushScopes(from: RepositoryName, to: RepositoryName) -> [String] {
        var scopes = [RegistryClient.scope(to, "pull,push")]
        if sameRegistry && from != to { scopes.append(RegistryClient.scope(from, "pull")) }
        return scopes
    }

    /// Copies one blob: skip, mount, or stream.
    func copyBlob(_ blob: Descriptor, from: RepositoryName, to: RepositoryName) async throws {
        let label = blob.digest.short
        if try await destination.blobExists(blob.digest, in: to, scopes: pushScopes(from: from, to: to)) {
            progress.started(blob.digest, total: blob.size, completed: blob.size, label: label)
            progress.finished(blob.digest, note: "exists")
            return
        }
        if sameRegistry && from != to, try await destination.mountBlob(blob.digest, into: to, from: from) {
            progress.started(blob.digest, total: blob.size, completed: blob.size, label: label)
            progress.finished(blob.digest, note: "mounted")
            return
        }
        progress.started(blob.digest, total: blob.size, completed: 0, label: label)
        let download = try await source.fetchBlob(blob.digest, from: from)
        let progress = self.progress
        let digest = blob.digest
        let body = download.body
        try await destination.uploadBlob(blob.digest, size: blob.size, to: to) {
            .stream(CountingSequence(body) { progress.advanced(digest, by: $0) }, length: .known(blob.size))
        }
        progress.finished(blob.digest, note: "copied")
    }
}
