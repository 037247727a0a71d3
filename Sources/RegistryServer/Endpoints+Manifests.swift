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
        // One pass over each value, making a String only for each type kept: splitting into
        // arrays and trimming through Foundation were a measurable part of a manifest GET.
        var types = Set<String>()
        for value in values {
            var rest = value[...]
            while !rest.isEmpty {
                let comma = rest.firstIndex(of: ",") ?? rest.endIndex
                let item = rest[..<comma]
                let type = item[..<(item.firstIndex(of: ";") ?? item.endIndex)].trimmingSpaces
                if type == "*/*" || type == "application/*" { return nil }
                if !type.isEmpty { types.insert(String(type)) }
                rest = comma == rest.endIndex ? rest[rest.endIndex...] : rest[rest.index(after: comma)...]
            }
        }
        return types.isEmpty ? nil : types
    }

    /// `PUT`, also by digest with `?tag=A&tag=B` (every accepted tag echoed in an `OCI-Tag` header).
    func putManifest(_ reference: ManifestReference, in repository: RepositoryName, request: Request) async throws -> Response {
        let tags = try Self.queryTags(request, limit: core.settings.maximumTagsPerPush)
        let bytes = try await Self.collect(request.body, limit: Manifest.maximumSize)
        let (record, manifest) = try await core.putManifest(reference, in: repository, bytes: bytes,
                                                            contentType: request.headers[.contentType], tags: tags)
        var headers: HTTPFields = [
            .location: location("/v2/\(repository)/manifests/\(record.digest)"),
            .dockerContentDigest: record.digest.description,
            .contentLength: "0",
        ]
        if let subject = manifest.subject { headers[.ociSubject] = subject.digest.description }
        for tag in tags { headers.append(HTTPField(name: .ociTag, value: tag.value)) }
        return Response(status: .created, headers: headers)
    }

    /// The `tag` query parameters: all valid (`400 TAG_INVALID` otherwise) and at most `limit`
    /// (`414`), so a refused request records nothing.
    static func queryTags(_ request: Request, limit: Int) throws -> [Tag] {
        let values = request.uri.queryParameters[values: "tag"]
        guard values.count <= limit else {
            throw DistributionError(.tagInvalid, "at most \(limit) tags per push, got \(values.count)", status: 414)
        }
        var tags: [Tag] = []
        for value in values {
            guard let tag = try? Tag(value) else {
                throw DistributionError(.tagInvalid, "invalid tag \"\(value.prefix(200))\"", detail: String(value.prefix(200)))
            }
            if !tags.contains(tag) { tags.append(tag) }
        }
        return tags
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

extension Substring {
    /// Without the spaces and tabs at either end (HTTP's optional whitespace).
    var trimmingSpaces: Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}
