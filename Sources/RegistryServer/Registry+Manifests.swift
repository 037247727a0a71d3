import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import OCI
import RegistryMetadata

/// `GET`/`HEAD`/`PUT`/`DELETE /v2/<name>/manifests/<reference>`.
///
/// Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-manifests
extension Registry {
    func getManifest(_ reference: ManifestReference, in repository: RepositoryName, request: Request) throws -> Response {
        guard var record = try metadata.manifest(reference, in: repository) else {
            throw DistributionError(.manifestUnknown, "manifest \(reference) is unknown to repository \(repository)")
        }
        let accepted = Self.acceptedMediaTypes(request.headers[values: .accept])
        if let accepted, !accepted.contains(record.mediaType) {
            record = try acceptableSubstitute(for: record, accepted: accepted, in: repository)
        }
        var headers: HTTPFields = [
            .contentType: record.mediaType,
            .dockerContentDigest: record.digest.description,
            .contentLength: String(record.size),
            .eTag: "\"\(record.digest)\"",
        ]
        if let subject = record.subject { headers[.ociSubject] = subject.description }
        if request.headers[.ifNoneMatch] == "\"\(record.digest)\"" {
            return Response(status: .notModified, headers: headers)
        }
        if request.method == .head { return Response(status: .ok, headers: headers) }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: try manifestBytes(record.digest)))
    }

    /// Media types listed in `Accept`, or nil when the client accepts anything (no header, `*/*`).
    static func acceptedMediaTypes(_ values: [String]) -> Set<String>? {
        let types = values.flatMap { $0.split(separator: ",") }
            .map { $0.split(separator: ";")[0].trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        if types.isEmpty || types.contains("*/*") || types.contains("application/*") { return nil }
        return Set(types)
    }

    /// What Distribution serves a client that does not accept the stored type: for an index, its
    /// linux/amd64 image manifest when that is acceptable; an OCI manifest is not served to a
    /// client that accepts only Docker types (`MANIFEST_UNKNOWN`); a Docker schema 2 manifest is
    /// served anyway (schema 1 conversion is not supported).
    private func acceptableSubstitute(for record: ManifestRecord, accepted: Set<String>, in repository: RepositoryName) throws -> ManifestRecord {
        if MediaType.indexTypes.contains(record.mediaType) {
            let index = try Manifest(bytes: Array(buffer: try manifestBytes(record.digest)), contentType: record.mediaType)
            if let child = index.manifests.first(where: { $0.platform?.os == "linux" && $0.platform?.architecture == "amd64" }),
               accepted.contains(child.mediaType),
               let childRecord = try metadata.manifest(.digest(child.digest), in: repository) {
                return childRecord
            }
        } else if record.mediaType == MediaType.dockerManifest {
            return record
        }
        throw DistributionError(.manifestUnknown,
                                "manifest \(record.digest) is a \(record.mediaType), which the Accept header does not allow")
    }

    private func manifestBytes(_ digest: Digest) throws -> ByteBuffer {
        if let cached = manifestCache[digest] { return cached }
        guard let bytes = try blobs.readAll(digest) else {
            throw DistributionError(.manifestUnknown, "manifest \(digest) content is missing from storage", status: 404)
        }
        let buffer = ByteBuffer(bytes: bytes)
        manifestCache.insert(buffer, for: digest)
        return buffer
    }

    func putManifest(_ reference: ManifestReference, in repository: RepositoryName, request: Request) async throws -> Response {
        try ensureWritable()
        let bytes = try await Self.collect(request.body, limit: Manifest.maximumSize)
        let manifest = try Manifest(bytes: bytes, contentType: request.headers[.contentType])
        let digest: Digest
        if case .digest(let expected) = reference {
            digest = DigestHasher.digest(of: bytes, algorithm: expected.algorithm)
            guard digest == expected else {
                throw DistributionError(.digestInvalid, "manifest digest \(digest) does not match \(expected)")
            }
        } else {
            digest = DigestHasher.digest(of: bytes)
        }
        try checkReferences(of: manifest, in: repository)
        try blobs.store(bytes, as: digest)
        var annotationsJSON: String?
        if let annotations = manifest.annotations,
           let data = try? JSONSerialization.data(withJSONObject: annotations, options: [.sortedKeys]) {
            annotationsJSON = String(decoding: data, as: UTF8.self)
        }
        let record = ManifestRecord(digest: digest, mediaType: manifest.mediaType, size: Int64(bytes.count),
                                    artifactType: manifest.artifactType, subject: manifest.subject?.digest,
                                    annotationsJSON: annotationsJSON)
        var tag: Tag?
        if case .tag(let name) = reference { tag = name }
        try metadata.putManifest(record, in: repository, blobs: manifest.referencedBlobs.map(\.digest),
                                 children: manifest.manifests.map(\.digest), tag: tag)
        logger.info("manifest committed", metadata: [
            "repository": "\(repository)", "digest": "\(digest)", "tag": "\(tag?.value ?? "-")"])
        var headers: HTTPFields = [
            .location: location("/v2/\(repository)/manifests/\(digest)"),
            .dockerContentDigest: digest.description,
            .contentLength: "0",
        ]
        if let subject = manifest.subject { headers[.ociSubject] = subject.digest.description }
        return Response(status: .created, headers: headers)
    }

    /// Refuses a manifest whose blobs (`MANIFEST_BLOB_UNKNOWN`) or child manifests
    /// (`MANIFEST_UNKNOWN`) are not in the repository. The empty JSON config is created on demand.
    private func checkReferences(of manifest: Manifest, in repository: RepositoryName) throws {
        for blob in manifest.referencedBlobs {
            if blob.digest == EmptyJSON.digest, !blobs.contains(blob.digest) {
                try blobs.store(EmptyJSON.bytes, as: blob.digest)
            }
            if blob.digest == EmptyJSON.digest, !(try metadata.isBlobLinked(blob.digest, in: repository)) {
                try metadata.linkBlob(blob.digest, size: Int64(EmptyJSON.bytes.count), to: repository)
            }
            guard try metadata.isBlobLinked(blob.digest, in: repository), blobs.contains(blob.digest) else {
                throw DistributionError(.manifestBlobUnknown, "blob \(blob.digest) is unknown to repository \(repository)",
                                        detail: blob.digest.description)
            }
        }
        if !manifest.manifests.isEmpty {
            let children = manifest.manifests.map(\.digest)
            let present = try metadata.existingManifests(children, in: repository)
            if let missing = children.first(where: { !present.contains($0) }) {
                throw DistributionError(.manifestUnknown, "manifest \(missing) is unknown to repository \(repository)",
                                        status: 400, detail: missing.description)
            }
        }
    }

    func deleteManifest(_ reference: ManifestReference, in repository: RepositoryName) throws -> Response {
        try ensureDeleteEnabled()
        let deleted: Bool
        switch reference {
        case .tag(let tag): deleted = try metadata.deleteTag(tag, in: repository)
        case .digest(let digest): deleted = try metadata.deleteManifest(digest, in: repository)
        }
        guard deleted else {
            throw DistributionError(.manifestUnknown, "manifest \(reference) is unknown to repository \(repository)")
        }
        logger.info("manifest deleted", metadata: ["repository": "\(repository)", "reference": "\(reference)"])
        return Response(status: .accepted, headers: [.contentLength: "0"])
    }

    /// Collects a small body, refusing it with 413 once it grows past `limit`.
    static func collect(_ body: RequestBody, limit: Int) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for try await buffer in body {
            guard bytes.count + buffer.readableBytes <= limit else {
                throw DistributionError(.sizeInvalid, "manifest is larger than \(limit) bytes", status: 413)
            }
            bytes.append(contentsOf: buffer.readableBytesView)
        }
        return bytes
    }
}
