import NIOCore
import OCI
import RegistryMetadata
import RegistryStorage

/// Blobs: existence checks (which protect what they report), reads, mounts, deletes, and the
/// commit every stored blob goes through.
extension Registry {
    /// The size of a blob linked to the repository. Telling a client a blob exists protects it
    /// from sweeps for the grace period from now on (the client may skip its upload and push the
    /// manifest later); the protection is written only when the previous one is running out.
    public func checkBlob(_ digest: Digest, in repository: RepositoryName) async throws -> Int64 {
        // A link is written only once the file is placed, and goes before the file does.
        guard let link = try await metadata.blobLink(digest, in: repository) else {
            throw Self.blobUnknown(digest, in: repository)
        }
        let now = Self.now
        // A read-only registry takes no pushes to protect a blob for (and may not write).
        if !settings.readOnly, link.protectedUntil < now + protectionWindow {
            guard try await metadata.protectBlob(digest, until: now + 2 * protectionWindow) else {
                throw Self.blobUnknown(digest, in: repository)
            }
        }
        return link.size
    }

    /// Opens a blob linked to the repository for reading.
    public func openBlob(_ digest: Digest, in repository: RepositoryName) async throws -> any StorageReader {
        guard try await metadata.blobLink(digest, in: repository) != nil,
              let reader = try await storage.open(StorageLayout.blobData(digest)) else {
            throw Self.blobUnknown(digest, in: repository)
        }
        publishPull(RegistryEvent(.pull, repository: repository, target: .blob(digest, size: reader.size)))
        return reader
    }

    /// Where a client may fetch a blob linked to the repository directly (an object store's
    /// presigned URL); nil when the storage streams through the registry.
    public func blobRedirect(_ digest: Digest, in repository: RepositoryName) async throws -> String? {
        guard let link = try await metadata.blobLink(digest, in: repository) else {
            throw Self.blobUnknown(digest, in: repository)
        }
        guard let url = try await storage.redirectURL(StorageLayout.blobData(digest)) else { return nil }
        publishPull(RegistryEvent(.pull, repository: repository, target: .blob(digest, size: link.size)))
        return url
    }

    /// Links a blob into `repository` from `source` (from anywhere when `source` is nil and no
    /// `from` was given: the spec's automatic content discovery). False when it cannot be mounted.
    public func mountBlob(_ digest: Digest, from source: RepositoryName?, hasFromParameter: Bool,
                          into repository: RepositoryName) async throws -> Bool {
        try ensureWritable()
        if source == nil && hasFromParameter { return false }
        let request = EventRequest.current
        let mounted = { @Sendable (size: Int64) in
            RegistryEvent(.mount, repository: repository, target: .blob(digest, size: size), source: source, request: request)
        }
        guard let size = try await metadata.mountBlob(digest, from: source, into: repository,
                                                      protectedUntil: Self.now + 2 * protectionWindow,
                                                      events: { [self] size in outboxPayloads(mounted(size)) }) else {
            return false
        }
        logger.info("blob mounted", metadata: ["repository": "\(repository)", "digest": "\(digest)",
                                               "from": "\(source?.value ?? "-")"])
        events.publish(mounted(size))
        return true
    }

    public func deleteBlob(_ digest: Digest, in repository: RepositoryName) async throws {
        try ensureDeleteEnabled()
        let event = RegistryEvent(.delete, repository: repository, target: .blob(digest, size: 0))
        guard try await metadata.unlinkBlob(digest, from: repository, events: outboxPayloads(event)) else {
            throw Self.blobUnknown(digest, in: repository)
        }
        logger.info("blob unlinked", metadata: ["repository": "\(repository)", "digest": "\(digest)"])
        events.publish(event)
    }

    /// Makes the committed file at `path` the blob `digest` (the caller verified the digest).
    func storeBlob(from path: String, as digest: Digest, size: Int64) async throws {
        try await claim(digest, size: size)
        try await storage.move(path, to: StorageLayout.blobData(digest))
    }

    /// Stores small content (a manifest, the empty JSON config) as a blob, unless it is stored.
    func storeSmallBlob(_ bytes: [UInt8], as digest: Digest) async throws {
        try await claim(digest, size: Int64(bytes.count))
        // Looked at only after the claim: from then on no sweep removes the file.
        if try await storage.stat(StorageLayout.blobData(digest)) != nil { return }
        let path = StorageLayout.temporaryFile(UploadID.random())
        let writer = try await storage.writer(path, appendingAt: nil)
        do {
            try await writer.write(ByteBuffer(bytes: bytes))
            try await writer.commit()
            try await storage.move(path, to: StorageLayout.blobData(digest))
        } catch {
            await writer.cancel()
            try? await storage.delete(path)
            throw error
        }
    }

    /// Records that `digest` is being stored, before its file is placed, so a sweep never deletes
    /// a file a commit is placing: while a sweep is removing the same digest, this waits for it.
    private func claim(_ digest: Digest, size: Int64) async throws {
        var attempts = 0
        while true {
            do {
                try await metadata.claimBlob(digest, size: size, protectedUntil: Self.now + protectionWindow)
                return
            } catch MetadataConflict.blobBeingRemoved {
                attempts += 1
                guard attempts < 200 else {
                    throw DistributionError(.unsupported, "blob \(digest) is being removed; retry the upload", status: 503)
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    static func blobUnknown(_ digest: Digest, in repository: RepositoryName) -> DistributionError {
        DistributionError(.blobUnknown, "blob \(digest) is unknown to repository \(repository)")
    }
}
