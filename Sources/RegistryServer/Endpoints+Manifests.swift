import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import OCI
import RegistryCore

/// `GET`/`HEAD`/`PUT`/`DELETE /v2/<name>/manifests/<reference>`.
///
/// Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-manifests
extension Endpoints {
    func getManifest(_ reference: ManifestReference, in repository: RepositoryName, request: Request) async throws -> Response {
        let isHead = request.method == .head
        let served = try await core.manifest(reference, in: repository, accepted: Self.acceptedMediaTypes(request.headers[values: .accept]),
                                             includeBytes: !isHead)
        let record = served.record
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
        guard let bytes = served.bytes else { return Response(status: .ok, headers: headers) }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: bytes))
    }

    /// Media types listed in `Accept`, or nil when the client accepts anything (no header, `*/*`).
    static func acceptedMediaTypes(_ values: [String]) -> Set<String>? {
        let types = values.flatMap { $0.split(separator: ",") }
            .map { $0.split(separator: ";")[0].trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        if types.isEmpty || types.contains("*/*") || types.contains("application/*") { return nil }
        return Set(types)
    }

    func putManifest(_ reference: ManifestReference, in repository: RepositoryName, request: Request) async throws -> Response {
        let bytes = try await Self.collect(request.body, limit: Manifest.maximumSize)
        let (record, manifest) = try await core.putManifest(reference, in: repository, bytes: bytes,
                                                            contentType: request.headers[.contentType])
        var headers: HTTPFields = [
            .location: location("/v2/\(repository)/manifests/\(record.digest)"),
            .dockerContentDigest: record.digest.description,
            .contentLength: "0",
        ]
        if let subject = manifest.subject { headers[.ociSubject] = subject.digest.description }
        return Response(status: .created, headers: headers)
    }

    func deleteManifest(_ reference: ManifestReference, in repository: RepositoryName) async throws -> Response {
        try await core.deleteManifest(reference, in: repository)
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
