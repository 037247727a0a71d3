import NIOCore
import OCI
import RegistryMetadata
import RegistryStorage

/// Blob uploads: monolithic, chunked and resumable sessions.
///
/// A session's acknowledged size lives in the metadata store and its bytes in a storage file; a
/// chunk counts only once it arrived whole, so a cut-off request leaves the session as it was.
extension Registry {
    /// Bytes collected from a request body before one storage write.
    static let writeSize = 1 << 20

    /// Opens a session: a row only; its file comes with its first bytes.
    public func startUpload(in repository: RepositoryName) async throws -> UploadSession {
        try ensureWritable()
        let session = UploadSession(id: UploadID.random(), repository: repository, startedAt: Self.now)
        try await metadata.createUpload(session.record)
        hashers.end(session.id, keeping: .init(size: 0, hasher: DigestHasher(.sha256)))
        return session
    }

    /// The open session `id` of `repository`.
    public func upload(_ id: UploadID, in repository: RepositoryName) async throws -> UploadSession {
        guard let record = try await metadata.upload(id.value), record.repository == repository,
              let session = UploadSession(record) else {
            throw DistributionError(.blobUploadUnknown, "upload \(id) is unknown to repository \(repository)")
        }
        return session
    }

    /// Appends one chunk (`PATCH`); returns the session with its new size.
    public func appendUpload<Body: AsyncSequence>(_ id: UploadID, in repository: RepositoryName, range: UploadSession.ChunkRange?,
                                                  contentLength: Int64?, body: Body) async throws -> UploadSession
    where Body.Element == ByteBuffer {
        try ensureWritable()
        var session = try await upload(id, in: repository)
        let expected = try session.expectChunk(range: range, contentLength: contentLength)
        let cached = try hashers.begin(id)
        var checkpoint = cached
        do {
            let (writer, start) = try await openSession(session, cached: cached, algorithm: .sha256)
            var hasher = start
            do {
                let received = try await receive(body, into: writer, hasher: &hasher, expectedLength: expected)
                try await writer.commit()
                let state = hasher.savedState
                guard try await metadata.setUploadSize(id.value, from: session.size, to: session.size + received,
                                                       digestState: state) else {
                    throw DistributionError(.blobUploadInvalid, "upload \(id) was changed by another request", status: 416)
                }
                session.acknowledge(received, digestState: state)
                checkpoint = .init(size: session.size, hasher: hasher)
            } catch {
                await writer.cancel()
                checkpoint = .init(size: session.size, hasher: start)
                throw error
            }
        } catch {
            hashers.end(id, keeping: checkpoint)
            throw error
        }
        hashers.end(id, keeping: checkpoint)
        return session
    }

    /// Receives the last chunk (`PUT ?digest=`), verifies the digest and stores the blob.
    public func finishUpload<Body: AsyncSequence>(_ id: UploadID, in repository: RepositoryName, digest: Digest,
                                                  range: UploadSession.ChunkRange?, contentLength: Int64?,
                                                  body: Body) async throws where Body.Element == ByteBuffer {
        try ensureWritable()
        var session = try await upload(id, in: repository)
        let expected = try session.expectChunk(range: range, contentLength: contentLength)
        let cached = try hashers.begin(id)
        var keep = cached
        do {
            let (writer, start) = try await openSession(session, cached: cached, algorithm: digest.algorithm)
            var hasher = start
            do {
                let received = try await receive(body, into: writer, hasher: &hasher, expectedLength: expected)
                session.acknowledge(received)
            } catch {
                await writer.cancel()
                throw error
            }
            let actual = hasher.finalize()
            guard actual == digest else {
                // As Distribution: a mismatching upload is cancelled, nothing is stored.
                await writer.cancel()
                try await discard(session)
                keep = nil
                throw DistributionError(.digestInvalid, "content digest \(actual) does not match \(digest)")
            }
            try await writer.commit()
            try await storeBlob(from: StorageLayout.uploadData(id), as: digest, size: session.size)
            keep = nil
            try await metadata.linkBlob(digest, size: session.size, to: repository, finishingUpload: id.value,
                                        events: outboxPayloads(pushed(digest, size: session.size, in: repository)))
        } catch {
            hashers.end(id, keeping: keep)
            if case MetadataConflict.blobBeingRemoved = error { throw DistributionError(.blobBeingRemoved(digest), in: repository) }
            throw error
        }
        hashers.end(id, keeping: nil)
        session.complete(as: digest)
        published(digest, size: session.size, in: repository)
    }

    /// A whole blob in one request (`POST ?digest=`).
    public func monolithicUpload<Body: AsyncSequence>(of digest: Digest, into repository: RepositoryName,
                                                      contentLength: Int64?, body: Body) async throws
    where Body.Element == ByteBuffer {
        try ensureWritable()
        let path = StorageLayout.temporaryFile(UploadID.random())
        let writer = try await storage.writer(path, appendingAt: nil)
        var hasher = DigestHasher(digest.algorithm)
        let size: Int64
        do {
            size = try await receive(body, into: writer, hasher: &hasher, expectedLength: contentLength)
            let actual = hasher.finalize()
            guard actual == digest else {
                throw DistributionError(.digestInvalid, "content digest \(actual) does not match \(digest)")
            }
            try await writer.commit()
        } catch {
            await writer.cancel()
            throw error
        }
        do {
            try await storeBlob(from: path, as: digest, size: size)
        } catch {
            try? await storage.delete(path)
            throw error
        }
        do {
            try await metadata.linkBlob(digest, size: size, to: repository, finishingUpload: nil,
                                        events: outboxPayloads(pushed(digest, size: size, in: repository)))
        } catch MetadataConflict.blobBeingRemoved {
            throw DistributionError(.blobBeingRemoved(digest), in: repository)
        }
        published(digest, size: size, in: repository)
    }

    public func cancelUpload(_ id: UploadID, in repository: RepositoryName) async throws {
        let session = try await upload(id, in: repository)
        try await discard(session)
    }

    /// Removes sessions started before `cutoff` and temp files older than it (crash leftovers),
    /// and what the storage keeps of writes cut off before it (an object store's multipart uploads).
    /// Returns the sessions removed (or that would be, in a dry run).
    public func purgeUploads(startedBefore cutoff: Int64, dryRun: Bool) async throws -> [UploadRecord] {
        let stale = try await metadata.uploads(startedBefore: cutoff)
        guard !dryRun else { return stale }
        for record in stale {
            guard let session = UploadSession(record) else { continue }
            try await discard(session)
        }
        for name in try await storage.list(StorageLayout.uploadsDirectory) where name.hasPrefix("tmp-") {
            let path = "\(StorageLayout.uploadsDirectory)/\(name)"
            if let info = try await storage.stat(path), info.modified < cutoff { try await storage.delete(path) }
        }
        try await storage.purgeAbandonedWrites(startedBefore: cutoff)
        return stale
    }

    // MARK: Helpers

    private func discard(_ session: UploadSession) async throws {
        try await metadata.deleteUpload(session.id.value)
        try await storage.delete(StorageLayout.uploadData(session.id))
    }

    private func pushed(_ digest: Digest, size: Int64, in repository: RepositoryName) -> RegistryEvent {
        RegistryEvent(.push, repository: repository, target: .blob(digest, size: size))
    }

    private func published(_ digest: Digest, size: Int64, in repository: RepositoryName) {
        logger.info("blob committed", metadata: ["repository": "\(repository)", "digest": "\(digest)", "bytes": "\(size)"])
        events.publish(pushed(digest, size: size, in: repository))
    }

    /// Opens the session's file at its acknowledged size, with the hash state at that size:
    /// cached in this process, else as saved with the session, else rebuilt by reading the file
    /// once (a session saved before digest states were, or finishing with another algorithm).
    private func openSession(_ session: UploadSession, cached: UploadHashers.Checkpoint?,
                             algorithm: Digest.Algorithm) async throws -> (any StorageWriter, DigestHasher) {
        let path = StorageLayout.uploadData(session.id)
        let writer: any StorageWriter
        do {
            writer = try await storage.writer(path, appendingAt: session.size)
        } catch StorageError.notFound {
            try? await metadata.deleteUpload(session.id.value)
            throw DistributionError(.blobUploadUnknown, "upload \(session.id) lost its data; start a new upload")
        }
        if let cached, cached.size == session.size, cached.hasher.algorithm == algorithm {
            return (writer, cached.hasher)
        }
        if let state = session.digestState, let saved = DigestHasher(savedState: state), saved.algorithm == algorithm {
            return (writer, saved)
        }
        do {
            return (writer, try await rehash(path, size: session.size, algorithm: algorithm))
        } catch {
            await writer.cancel()
            throw error
        }
    }

    private func rehash(_ path: String, size: Int64, algorithm: Digest.Algorithm) async throws -> DigestHasher {
        var hasher = DigestHasher(algorithm)
        guard size > 0 else { return hasher }
        guard let reader = try await storage.open(path), reader.size >= size else {
            throw DistributionError(.blobUploadUnknown, "upload data is gone; start a new upload")
        }
        reader.limit(to: 0..<size)
        while let chunk = try await reader.next() {
            chunk.withUnsafeReadableBytes { hasher.update($0) }
        }
        await reader.close()
        return hasher
    }

    /// Streams a request body into `writer`, hashing the same bytes and checking the announced
    /// length; returns the number of bytes received. Small network buffers are gathered into
    /// large writes.
    /// Hashes the body as it arrives and writes it in `writeSize` pieces, one write in flight
    /// while the next piece is received and hashed: the slower of SHA-256 and the disk sets the
    /// pace, not their sum. Two buffers alternate, so memory stays at two pieces.
    private func receive<Body: AsyncSequence>(_ body: Body, into writer: any StorageWriter, hasher: inout DigestHasher,
                                              expectedLength: Int64?) async throws -> Int64 where Body.Element == ByteBuffer {
        var received: Int64 = 0
        var pending = ByteBuffer()
        var spare = ByteBuffer()
        var writing: Task<Void, any Error>?
        do {
            for try await var buffer in body {
                received += Int64(buffer.readableBytes)
                if let expectedLength, received > expectedLength {
                    throw DistributionError(.sizeInvalid, "body is longer than its Content-Length")
                }
                buffer.withUnsafeReadableBytes { hasher.update($0) }
                if pending.readableBytes == 0 && buffer.readableBytes >= Self.writeSize {
                    try await writing?.value
                    writing = Self.startWrite(buffer, to: writer)
                    continue
                }
                if pending.capacity < Self.writeSize { pending.reserveCapacity(Self.writeSize) }
                pending.writeBuffer(&buffer)
                if pending.readableBytes >= Self.writeSize {
                    // The write before has finished with `spare`: it is reused, not copied.
                    try await writing?.value
                    writing = Self.startWrite(pending, to: writer)
                    swap(&pending, &spare)
                    pending.clear()
                }
            }
            try await writing?.value
            writing = nil
            if pending.readableBytes > 0 { try await writer.write(pending) }
        } catch {
            // No write may outlive the caller's cancel of the writer.
            _ = try? await writing?.value
            throw error
        }
        if let expectedLength, received != expectedLength {
            throw DistributionError(.sizeInvalid, "received \(received) bytes, expected \(expectedLength)")
        }
        return received
    }

    private static func startWrite(_ buffer: ByteBuffer, to writer: any StorageWriter) -> Task<Void, any Error> {
        Task { try await writer.write(buffer) }
    }
}
