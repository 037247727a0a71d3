import Foundation
import NIOCore
import OCI
import RegistryMetadata
import RegistryStorage

/// Manifests and tags: reads with content negotiation, pushes, deletes.
extension Registry {
    /// A manifest as served: its record and, unless only the headers were asked for, its bytes.
    public struct ServedManifest: Sendable {
        public var record: ManifestRecord
        public var bytes: ByteBuffer?
    }

    /// The manifest `reference` names, or what Distribution serves instead to a client that does
    /// not accept its type (`accepted` nil: anything). Records the pull of a tag.
    public func manifest(_ reference: ManifestReference, in repository: RepositoryName, accepted: Set<String>?,
                         includeBytes: Bool) async throws -> ServedManifest {
        guard var record = try await record(of: reference, in: repository) else {
            throw DistributionError(.manifestUnknown, "manifest \(reference) is unknown to repository \(repository)")
        }
        if let accepted, !accepted.contains(record.mediaType) {
            record = try await acceptableSubstitute(for: record, accepted: accepted, in: repository)
        }
        guard includeBytes else { return ServedManifest(record: record, bytes: nil) }
        let bytes = try await manifestBytes(record.digest)
        var tag: Tag?
        if case .tag(let name) = reference {
            tag = name
            let now = Self.now
            // Best effort: a pull never fails because its time could not be written.
            if pulls.shouldRecord(name, in: repository, now: now) {
                do {
                    try await metadata.recordPull(of: name, in: repository, at: now)
                } catch {
                    logger.warning("pull time not recorded", metadata: ["repository": "\(repository)", "error": "\(error)"])
                }
            }
        }
        publishPull(RegistryEvent(.pull, repository: repository,
                                  target: .manifest(record.digest, mediaType: record.mediaType, size: record.size), tag: tag))
        return ServedManifest(record: record, bytes: bytes)
    }

    /// The manifest a reference names; tags through the tag cache.
    private func record(of reference: ManifestReference, in repository: RepositoryName) async throws -> ManifestRecord? {
        guard case .tag(let tag) = reference else { return try await metadata.manifest(reference, in: repository) }
        if let cached = tagCache[tag, in: repository] { return cached }
        let generation = tagCache.currentGeneration
        let record = try await metadata.manifest(reference, in: repository)
        if let record { tagCache.insert(record, for: tag, in: repository, readAt: generation) }
        return record
    }

    /// What Distribution serves a client that does not accept the stored type: for an index, its
    /// linux/amd64 image manifest when that is acceptable; an OCI manifest is not served to a
    /// client that accepts only Docker types (`MANIFEST_UNKNOWN`); a Docker schema 2 manifest is
    /// served anyway (schema 1 conversion is not supported).
    private func acceptableSubstitute(for record: ManifestRecord, accepted: Set<String>,
                                      in repository: RepositoryName) async throws -> ManifestRecord {
        if MediaType.indexTypes.contains(record.mediaType) {
            let index = try Manifest(bytes: Array(buffer: try await manifestBytes(record.digest)), contentType: record.mediaType)
            if let child = index.manifests.first(where: { $0.platform?.os == "linux" && $0.platform?.architecture == "amd64" }),
               accepted.contains(child.mediaType),
               let childRecord = try await metadata.manifest(.digest(child.digest), in: repository) {
                return childRecord
            }
        } else if record.mediaType == MediaType.dockerManifest {
            return record
        }
        throw DistributionError(.manifestUnknown,
                                "manifest \(record.digest) is a \(record.mediaType), which the Accept header does not allow")
    }

    private func manifestBytes(_ digest: Digest) async throws -> ByteBuffer {
        if let cached = manifestCache[digest] { return cached }
        guard let bytes = try await storage.readAll(StorageLayout.blobData(digest), limit: Manifest.maximumSize) else {
            throw DistributionError(.manifestUnknown, "manifest \(digest) content is missing from storage", status: 404)
        }
        let buffer = ByteBuffer(bytes: bytes)
        manifestCache.insert(buffer, for: digest)
        return buffer
    }

    /// Stores a pushed manifest and its tags: the reference's, if it is a tag, and `tags` (the
    /// spec's `?tag=` on a push by digest), all in one transaction that also checks its
    /// references: `MANIFEST_BLOB_UNKNOWN` for a missing blob, `MANIFEST_UNKNOWN` for a missing
    /// child, `DENIED` when an immutable tag would move (then no tag is recorded at all).
    public func putManifest(_ reference: ManifestReference, in repository: RepositoryName, bytes: [UInt8],
                            contentType: String?, tags extraTags: [Tag] = []) async throws -> (ManifestRecord, Manifest) {
        try ensureWritable()
        let manifest = try Manifest(bytes: bytes, contentType: contentType)
        let digest: Digest
        var tags: [Tag] = []
        switch reference {
        case .digest(let expected):
            digest = DigestHasher.digest(of: bytes, algorithm: expected.algorithm)
            guard digest == expected else {
                throw DistributionError(.digestInvalid, "manifest digest \(digest) does not match \(expected)")
            }
        case .tag(let tag):
            digest = DigestHasher.digest(of: bytes)
            tags = [tag]
        }
        for tag in extraTags where !tags.contains(tag) { tags.append(tag) }
        guard tags.count <= settings.maximumTagsPerPush else {
            throw DistributionError(.tagInvalid, "at most \(settings.maximumTagsPerPush) tags per push", status: 414)
        }
        let references = try self.references(of: manifest)
        // Refuse early, before anything is stored; the transaction checks again.
        for tag in tags {
            if let rule = tagGuard(repository, tag), let current = try await metadata.manifest(.tag(tag), in: repository),
               current.digest != digest {
                throw DistributionError(.tagImmutable(tag, rule: rule), in: repository)
            }
        }
        if references.requiredBlobs.contains(EmptyJSON.digest),
           try await metadata.blobLink(EmptyJSON.digest, in: repository) == nil {
            // The empty JSON config of artifacts is created on demand.
            try await storeSmallBlob(EmptyJSON.bytes, as: EmptyJSON.digest)
            try await metadata.linkBlob(EmptyJSON.digest, size: Int64(EmptyJSON.bytes.count), to: repository, finishingUpload: nil)
        }
        var annotationsJSON: String?
        if let annotations = manifest.annotations,
           let data = try? JSONSerialization.data(withJSONObject: annotations, options: [.sortedKeys]) {
            annotationsJSON = String(decoding: data, as: UTF8.self)
        }
        let record = ManifestRecord(digest: digest, mediaType: manifest.mediaType, size: Int64(bytes.count),
                                    artifactType: manifest.artifactType, subject: manifest.subject?.digest,
                                    annotationsJSON: annotationsJSON)
        let pushed = RegistryEvent(.push, repository: repository,
                                   target: .manifest(digest, mediaType: record.mediaType, size: record.size), tag: tags.first,
                                   references: (manifest.config.map { [$0] } ?? []) + manifest.layers + manifest.manifests)
        let outboxEvents = outboxPayloads(pushed)
        let previous: [Tag: Digest]
        for tag in tags { tagCache.remove(tag, in: repository) }
        defer { for tag in tags { tagCache.remove(tag, in: repository) } }
        do {
            do {
                previous = try await metadata.putManifest(record, in: repository, references: references, tags: tags,
                                                          contentPlaced: false, guard: tagGuard, events: outboxEvents)
            } catch MetadataConflict.contentNotStored {
                try await storeSmallBlob(bytes, as: digest)
                previous = try await metadata.putManifest(record, in: repository, references: references, tags: tags,
                                                          contentPlaced: true, guard: tagGuard, events: outboxEvents)
            }
        } catch let conflict as MetadataConflict {
            throw DistributionError(conflict, in: repository)
        }
        logger.info("manifest committed", metadata: [
            "repository": "\(repository)", "digest": "\(digest)", "tags": "\(tags.map(\.value).joined(separator: ","))"])
        events.publish(pushed)
        for tag in tags where previous[tag] != digest {
            events.publish(RegistryEvent(.tagMoved, repository: repository, target: .tag(tag, digest: digest, previous: previous[tag])))
        }
        return (record, manifest)
    }

    /// What a manifest references, and what of it the validation rules require to be present.
    func references(of manifest: Manifest) throws(DistributionError) -> ManifestReferences {
        let validation = settings.validation
        let blobs = (manifest.config.map { [$0] } ?? []) + manifest.layers
        return ManifestReferences(blobs: blobs.map(\.digest), requiredBlobs: try validation.requiredBlobs(of: manifest),
                                  children: manifest.manifests.map(\.digest),
                                  requiredChildren: validation.requiredChildren(of: manifest))
    }

    /// Deletes a tag, or a manifest with every tag pointing at it; immutable tags refuse both.
    public func deleteManifest(_ reference: ManifestReference, in repository: RepositoryName) async throws {
        try ensureDeleteEnabled()
        do {
            switch reference {
            case .tag(let tag):
                tagCache.remove(tag, in: repository)
                defer { tagCache.remove(tag, in: repository) }
                let request = EventRequest.current
                let deleted = { @Sendable (digest: Digest) in
                    RegistryEvent(.delete, repository: repository, target: .tag(tag, digest: digest, previous: digest),
                                  request: request)
                }
                guard let digest = try await metadata.deleteTag(tag, in: repository, guard: tagGuard,
                                                                events: { [self] digest in outboxPayloads(deleted(digest)) }) else {
                    throw DistributionError(.manifestUnknown, "manifest \(reference) is unknown to repository \(repository)")
                }
                events.publish(deleted(digest))
            case .digest(let digest):
                defer { tagCache.remove(pointingAt: digest, in: repository) }
                let deleted = RegistryEvent(.delete, repository: repository, target: .manifest(digest, mediaType: "", size: 0))
                guard try await metadata.deleteManifest(digest, in: repository, guard: tagGuard,
                                                        events: outboxPayloads(deleted)) else {
                    throw DistributionError(.manifestUnknown, "manifest \(reference) is unknown to repository \(repository)")
                }
                events.publish(deleted)
            }
        } catch let conflict as MetadataConflict {
            throw DistributionError(conflict, in: repository)
        }
        logger.info("manifest deleted", metadata: ["repository": "\(repository)", "reference": "\(reference)"])
    }
}
