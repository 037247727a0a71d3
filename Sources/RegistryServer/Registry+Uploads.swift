import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import OCI
import RegistryMetadata
import RegistryStorage

/// Blob uploads: monolithic, chunked and resumable sessions, and cross-repository mounts.
///
/// Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-blobs
/// A session's acknowledged size lives in the metadata store and its bytes in a file; a chunk
/// counts only once it arrived whole, so a cut-off request leaves the session as it was.
extension Registry {
    func startUpload(in repository: RepositoryName, request: Request, mountSource: RepositoryName?) async throws -> Response {
        try ensureWritable()
        let query = request.uri.queryParameters
        if let mount = query["mount"] {
            let digest = try RegistryRoute.digest(mount)
            if try canMount(digest, from: mountSource, hasFromParameter: query["from"] != nil) {
                try metadata.linkBlob(digest, size: blobs.size(of: digest) ?? 0, to: repository)
                logger.info("blob mounted", metadata: ["repository": "\(repository)", "digest": "\(digest)",
                                                       "from": "\(mountSource?.value ?? "-")"])
                return Self.blobCreated(digest, location: location("/v2/\(repository)/blobs/\(digest)"))
            }
            // Not mountable: fall back to a normal upload session, as the spec says.
        } else if let digestText = query["digest"] {
            let digest = try RegistryRoute.digest(digestText)
            return try await monolithicUpload(of: digest, into: repository, request: request)
        }
        let id = UploadID.random()
        try uploads.create(id)
        do {
            try metadata.createUpload(UploadRecord(id: id.value, repository: repository, size: 0,
                                                   createdAt: Int64(Date().timeIntervalSince1970)))
        } catch {
            uploads.remove(id)
            throw error
        }
        return Self.uploadAccepted(id, size: 0, location: uploadLocation(repository, id), status: .accepted)
    }

    /// A blob can be mounted from `source` when it is linked there; without `from`, when the
    /// registry already holds it anywhere (the spec's automatic content discovery).
    private func canMount(_ digest: Digest, from source: RepositoryName?, hasFromParameter: Bool) throws -> Bool {
        guard blobs.contains(digest) else { return false }
        if let source { return try metadata.isBlobLinked(digest, in: source) }
        return !hasFromParameter
    }

    private func monolithicUpload(of digest: Digest, into repository: RepositoryName, request: Request) async throws -> Response {
        let writer = try blobs.makeTemporaryWriter(algorithm: digest.algorithm)
        do {
            try await receive(request, into: writer, expectedLength: Self.contentLength(request))
            let actual = writer.hasher.finalize()
            guard actual == digest else {
                throw DistributionError(.digestInvalid, "content digest \(actual) does not match \(digest)")
            }
            try blobs.commit(writer, as: digest)
        } catch {
            blobs.discard(writer)
            throw error
        }
        try metadata.linkBlob(digest, size: writer.size, to: repository)
        logger.info("blob committed", metadata: ["repository": "\(repository)", "digest": "\(digest)", "bytes": "\(writer.size)"])
        return Self.blobCreated(digest, location: location("/v2/\(repository)/blobs/\(digest)"))
    }

    func appendUpload(_ id: UploadID, in repository: RepositoryName, request: Request) async throws -> Response {
        try ensureWritable()
        let record = try session(id, in: repository)
        let expected = try Self.checkContentRange(request, uploadSize: record.size)
        let writer = try openSession(id, record: record, algorithm: .sha256)
        let start = writer.checkpoint
        do {
            try await receive(request, into: writer, expectedLength: expected)
            try metadata.setUploadSize(id.value, size: writer.size)
        } catch {
            try? writer.rollback(to: start)
            uploads.finish(id, writer, keep: true)
            writer.close()
            throw error
        }
        uploads.finish(id, writer, keep: true)
        writer.close()
        return Self.uploadAccepted(id, size: writer.size, location: uploadLocation(repository, id), status: .accepted)
    }

    func finishUpload(_ id: UploadID, in repository: RepositoryName, request: Request) async throws -> Response {
        try ensureWritable()
        guard let digestText = request.uri.queryParameters["digest"] else {
            throw DistributionError(.digestInvalid, "the digest query parameter is required to finish an upload")
        }
        let digest = try RegistryRoute.digest(digestText)
        let record = try session(id, in: repository)
        let expected = try Self.checkContentRange(request, uploadSize: record.size)
        let writer = try openSession(id, record: record, algorithm: digest.algorithm)
        let start = writer.checkpoint
        do {
            try await receive(request, into: writer, expectedLength: expected)
        } catch {
            try? writer.rollback(to: start)
            uploads.finish(id, writer, keep: true)
            writer.close()
            throw error
        }
        let actual = writer.hasher.finalize()
        guard actual == digest else {
            // As Distribution: a mismatching upload is cancelled, nothing is stored.
            writer.close()
            uploads.remove(id)
            try metadata.deleteUpload(id.value)
            throw DistributionError(.digestInvalid, "content digest \(actual) does not match \(digest)")
        }
        do {
            try blobs.commit(writer, as: digest)
        } catch {
            uploads.finish(id, writer, keep: false)
            throw error
        }
        uploads.forget(id)
        try metadata.linkBlob(digest, size: writer.size, to: repository)
        try metadata.deleteUpload(id.value)
        logger.info("blob committed", metadata: ["repository": "\(repository)", "digest": "\(digest)", "bytes": "\(writer.size)"])
        return Self.blobCreated(digest, location: location("/v2/\(repository)/blobs/\(digest)"))
    }

    func uploadStatus(_ id: UploadID, in repository: RepositoryName) throws -> Response {
        let record = try session(id, in: repository)
        return Self.uploadAccepted(id, size: record.size, location: uploadLocation(repository, id), status: .noContent)
    }

    func cancelUpload(_ id: UploadID, in repository: RepositoryName) throws -> Response {
        _ = try session(id, in: repository)
        try metadata.deleteUpload(id.value)
        uploads.remove(id)
        return Response(status: .noContent, headers: [.contentLength: "0"])
    }

    // MARK: Helpers

    private func session(_ id: UploadID, in repository: RepositoryName) throws -> UploadRecord {
        guard let record = try metadata.upload(id.value), record.repository == repository else {
            throw DistributionError(.blobUploadUnknown, "upload \(id) is unknown to repository \(repository)")
        }
        return record
    }

    private func openSession(_ id: UploadID, record: UploadRecord, algorithm: Digest.Algorithm) throws -> BlobWriter {
        do {
            return try uploads.beginAppend(id, at: record.size, algorithm: algorithm)
        } catch UploadStore.UploadError.dataLost {
            try? metadata.deleteUpload(id.value)
            throw DistributionError(.blobUploadUnknown, "upload \(id) lost its data; start a new upload")
        }
    }

    /// Streams the request body into `writer`, checking it against the announced length.
    private func receive(_ request: Request, into writer: BlobWriter, expectedLength: Int64?) async throws {
        let start = writer.size
        for try await buffer in request.body {
            try buffer.withUnsafeReadableBytes { try writer.write($0) }
            if let expectedLength, writer.size - start > expectedLength {
                throw DistributionError(.sizeInvalid, "body is longer than its Content-Length")
            }
        }
        if let expectedLength, writer.size - start != expectedLength {
            throw DistributionError(.sizeInvalid, "received \(writer.size - start) bytes, expected \(expectedLength)")
        }
    }

    static func contentLength(_ request: Request) -> Int64? {
        request.headers[.contentLength].flatMap { Int64($0) }
    }

    /// Checks `Content-Range: <start>-<end>` against the session; returns the chunk's expected length.
    /// A chunk must start exactly where the session ends (416 otherwise: out of order or overlapping).
    static func checkContentRange(_ request: Request, uploadSize: Int64) throws -> Int64? {
        let length = contentLength(request)
        guard let header = request.headers[.contentRange] else { return length }
        var text = Substring(header)
        if text.hasPrefix("bytes=") || text.hasPrefix("bytes ") { text = text.dropFirst(6) }
        if let slash = text.firstIndex(of: "/") { text = text[..<slash] }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let first = Int64(String(parts[0]).trimmingCharacters(in: .whitespaces)),
              let last = Int64(String(parts[1]).trimmingCharacters(in: .whitespaces)), first >= 0, last >= first else {
            throw DistributionError(.blobUploadInvalid, "malformed Content-Range \"\(text.prefix(100))\"", status: 416)
        }
        guard first == uploadSize else {
            throw DistributionError(.blobUploadInvalid, "chunk starts at \(first) but the upload has \(uploadSize) bytes", status: 416)
        }
        let rangeLength: Int64 = last - first + 1
        if let length, length != rangeLength {
            throw DistributionError(.blobUploadInvalid, "Content-Range covers \(rangeLength) bytes but Content-Length is \(length)", status: 416)
        }
        return rangeLength
    }

    private func uploadLocation(_ repository: RepositoryName, _ id: UploadID) -> String {
        location("/v2/\(repository)/blobs/uploads/\(id)")
    }

    static func uploadAccepted(_ id: UploadID, size: Int64, location: String, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [
            .location: location,
            .range: "0-\(max(0, size - 1))",
            .dockerUploadUUID: id.value,
            .contentLength: "0",
        ])
    }

    static func blobCreated(_ digest: Digest, location: String) -> Response {
        Response(status: .created, headers: [
            .location: location,
            .dockerContentDigest: digest.description,
            .contentLength: "0",
        ])
    }
}
