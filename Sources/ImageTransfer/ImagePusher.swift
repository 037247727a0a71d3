import AsyncHTTPClient
import Foundation
import ImageStore
import NIOCore
import OCI
import RegistryClient

/// Pushes an image (or a whole index) from the local store to a registry.
///
/// Blobs the registry has are skipped after a `HEAD`; the rest upload in parallel, streamed from
/// their files: one `PUT` below `chunkSize`, `PATCH` chunks above it. Manifests go after their
/// blobs, index children before the index, so the registry never sees a dangling reference.
public struct ImagePusher: Sendable {
    public let client: RegistryClient
    public let store: ImageStore
    public let jobs: Int
    public let chunkSize: Int64
    public let progress: any TransferProgress

    public init(client: RegistryClient, store: ImageStore, jobs: Int, chunkSize: Int64, progress: any TransferProgress) {
        self.client = client
        self.store = store
        self.jobs = jobs
        self.chunkSize = chunkSize
        self.progress = progress
    }

    /// Pushes the stored image `source` as `destination`; returns the pushed top-level digest.
    @discardableResult
    public func push(_ source: ImageReference, as destination: ImageReference) async throws -> Digest {
        guard let descriptor = try store.resolve(source) else { throw StoreError.imageUnknown(source.description) }
        // Pulled from another repository of this registry: blobs can be mounted from there.
        var mountFrom: RepositoryName?
        if let origin = descriptor.annotations?[ImageStore.sourceAnnotation], let slash = origin.firstIndex(of: "/"),
           origin[..<slash] == destination.host,
           let repository = try? RepositoryName(origin[origin.index(after: slash)...]), repository != destination.repository {
            mountFrom = repository
        }
        let digest = try await pushManifest(descriptor, to: destination.repository,
                                            tag: destination.digest == nil ? destination.tag : nil, mountFrom: mountFrom)
        progress.message("Digest: \(digest)")
        return digest
    }

    /// Pushes a manifest or index and everything under it; tags it when `tag` is given.
    func pushManifest(_ descriptor: Descriptor, to repository: RepositoryName, tag: Tag?,
                      mountFrom: RepositoryName? = nil) async throws -> Digest {
        let bytes = try store.readBlob(descriptor.digest)
        switch try AnyManifest(decoding: bytes, contentType: descriptor.mediaType) {
        case .index(let index):
            for child in index.manifests where store.hasBlob(child.digest) {
                _ = try await pushManifest(child, to: repository, tag: nil, mountFrom: mountFrom)
            }
        case .image(let manifest):
            try await forEachConcurrently(uniqueByDigest(manifest.blobs), limit: jobs) { blob in
                try await pushBlob(blob, to: repository, mountFrom: mountFrom)
            }
        }
        return try await client.putManifest(bytes, mediaType: descriptor.mediaType,
                                            reference: tag.map { .tag($0) } ?? .digest(descriptor.digest), in: repository)
    }

    /// Uploads one blob unless the registry has it (or can mount it from `mountFrom`).
    func pushBlob(_ blob: Descriptor, to repository: RepositoryName, mountFrom: RepositoryName? = nil) async throws {
        let label = blob.digest.short
        let scopes = [RegistryClient.scope(repository, "pull,push")]
        if try await client.blobExists(blob.digest, in: repository, scopes: scopes) {
            progress.started(blob.digest, total: blob.size, completed: blob.size, label: label)
            progress.finished(blob.digest, note: "exists")
            return
        }
        if let mountFrom, try await client.mountBlob(blob.digest, into: repository, from: mountFrom) {
            progress.started(blob.digest, total: blob.size, completed: blob.size, label: label)
            progress.finished(blob.digest, note: "mounted")
            return
        }
        guard let size = store.blobSize(blob.digest) else { throw StoreError.blobMissing(blob.digest) }
        let path = store.blobPath(blob.digest)
        let progress = self.progress
        progress.started(blob.digest, total: size, completed: 0, label: label)
        let digest = blob.digest
        if size > chunkSize {
            try await client.uploadBlobInChunks(digest, size: size, chunkSize: chunkSize, to: repository) { offset, length in
                .stream(CountingSequence(FileByteStream(path: path, offset: offset, length: length)) {
                    progress.advanced(digest, by: $0)
                }, length: .known(length))
            }
        } else {
            try await client.uploadBlob(digest, size: size, to: repository) {
                .stream(CountingSequence(FileByteStream(path: path, length: size)) {
                    progress.advanced(digest, by: $0)
                }, length: .known(size))
            }
        }
        progress.finished(blob.digest, note: "pushed")
    }
}
