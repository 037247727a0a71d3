import Foundation
import ImageStore
import NIOCore
import OCI
import RegistryClient
import SystemSupport

/// Pulls an image from a registry into the local store.
///
/// Resolves an index to the wanted platform's manifest, downloads config and layers in parallel
/// (skipping blobs the store has), each through a `BlobWriter` (verified, atomic, resumable),
/// then writes the manifest and finally the name. A pull interrupted at any point leaves only
/// `ingest/*.partial` files, which the next pull resumes from.
public struct ImagePuller: Sendable {
    public let client: RegistryClient
    public let store: ImageStore
    public let jobs: Int
    public let progress: any TransferProgress

    public init(client: RegistryClient, store: ImageStore, jobs: Int, progress: any TransferProgress) {
        self.client = client
        self.store = store
        self.jobs = jobs
        self.progress = progress
    }

    /// Pulls `reference` for `platform`; returns the stored manifest's descriptor.
    @discardableResult
    public func pull(_ reference: ImageReference, platform: Platform) async throws -> Descriptor {
        let lease = try store.writerLease()
        defer { withExtendedLifetime(lease) {} }
        let repository = reference.repository
        var fetched = try await client.fetchManifest(reference.manifestReference, from: repository)
        if case .index(let index) = try fetched.decoded() {
            guard let wanted = index.manifest(for: platform) else {
                throw ClientError.noMatchingPlatform(wanted: platform.description,
                                                     available: index.manifests.compactMap { $0.platform?.description })
            }
            fetched = try await client.fetchManifest(.digest(wanted.digest), from: repository)
        }
        guard case .image(let manifest) = try fetched.decoded() else {
            throw ClientError.protocolViolation("index inside an index is not supported for pull")
        }
        try await forEachConcurrently(uniqueByDigest(manifest.blobs), limit: jobs) { blob in
            try await fetchBlob(blob, from: repository)
        }
        var descriptor = try store.writeBlob(fetched.bytes, mediaType: fetched.mediaType)
        descriptor.annotations = [ImageStore.sourceAnnotation: reference.name]
        try store.setReference(reference, to: descriptor)
        progress.message("Digest: \(descriptor.digest)")
        return descriptor
    }

    /// Downloads one blob into the store unless it is there; resumes a partial download.
    /// Retries once from where it stopped when the connection breaks mid-body.
    public func fetchBlob(_ blob: Descriptor, from repository: RepositoryName) async throws {
        let label = blob.digest.short
        if store.hasBlob(blob.digest) {
            progress.started(blob.digest, total: blob.size, completed: blob.size, label: label)
            progress.finished(blob.digest, note: "exists")
            return
        }
        let writer = try BlobWriter(store: store, descriptor: blob)
        if writer.alreadyPresent {
            progress.started(blob.digest, total: blob.size, completed: blob.size, label: label)
            progress.finished(blob.digest, note: "exists")
            return
        }
        progress.started(blob.digest, total: blob.size, completed: writer.offset, label: label)
        var attempts = 0
        while true {
            attempts += 1
            do {
                if writer.offset < blob.size || blob.size <= 0 {
                    let download = try await client.fetchBlob(blob.digest, from: repository, offset: writer.offset)
                    if download.offset == 0 && writer.offset > 0 {
                        progress.advanced(blob.digest, by: -writer.offset)
                        try writer.restart()
                    }
                    for try await buffer in download.body {
                        try writer.write(buffer)
                        progress.advanced(blob.digest, by: Int64(buffer.readableBytes))
                    }
                }
                try writer.commit()
                break
            } catch let error where error is ClientError || error is ContentMismatch {
                throw error  // an answer, not a broken connection: trying again would get the same
            } catch where attempts < 3 && !(error is CancellationError) && !(error is SystemError) {
                continue  // connection broke mid-body: resume from writer.offset
            }
        }
        progress.finished(blob.digest, note: "done")
    }
}
