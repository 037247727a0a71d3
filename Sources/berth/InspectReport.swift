import Foundation
import ImageStore
import OCI
import RegistryClient

/// Where `inspect` reads manifests and configs from.
protocol ContentSource: Sendable {
    /// A manifest by tag or digest.
    func manifest(_ reference: ManifestReference) async throws -> FetchedManifest
    /// A small blob (config) by digest.
    func blob(_ digest: Digest) async throws -> [UInt8]
}

/// Reads from a registry.
struct RemoteSource: ContentSource {
    let client: RegistryClient
    let repository: RepositoryName

    func manifest(_ reference: ManifestReference) async throws -> FetchedManifest {
        try await client.fetchManifest(reference, from: repository)
    }

    func blob(_ digest: Digest) async throws -> [UInt8] {
        let download = try await client.fetchBlob(digest, from: repository)
        var bytes: [UInt8] = []
        for try await buffer in download.body {
            bytes += buffer.readableBytesView
            if bytes.count > 16 << 20 { throw ClientError.protocolViolation("config blob larger than 16 MiB") }
        }
        let actual = DigestHasher.digest(of: bytes, algorithm: digest.algorithm)
        guard actual == digest else { throw ContentMismatch.digest(expected: digest, actual: actual) }
        return bytes
    }
}

/// Reads from the local store.
struct LocalSource: ContentSource {
    let store: ImageStore
    let reference: ImageReference

    func manifest(_ ref: ManifestReference) async throws -> FetchedManifest {
        let descriptor: Descriptor
        if case .digest(let digest) = ref, let d = try store.resolve(reference.withDigest(digest)) {
            descriptor = d
        } else if let d = try store.resolve(reference) {
            descriptor = d
        } else {
            throw StoreError.imageUnknown(reference.description)
        }
        return FetchedManifest(bytes: try store.readBlob(descriptor.digest), mediaType: descriptor.mediaType,
                               digest: descriptor.digest)
    }

    func blob(_ digest: Digest) async throws -> [UInt8] { try store.readBlob(digest) }
}

/// Builds the JSON `inspect` prints: name, digest, media type, the raw manifest (and index) and
/// the raw config, each embedded as parsed JSON so the output is one document.
enum InspectReport {
    static func build(reference: ImageReference, platform: Platform, source: any ContentSource) async throws -> String {
        var top = try await source.manifest(reference.manifestReference)
        var report: [String: Any] = [
            "name": reference.description,
            "digest": top.digest.description,
            "mediaType": top.mediaType,
        ]
        if case .index(let index) = try top.decoded() {
            report["index"] = try json(top.bytes)
            guard let wanted = index.manifest(for: platform) else {
                report["platforms"] = index.manifests.compactMap { $0.platform?.description }
                return try render(report)
            }
            top = try await source.manifest(.digest(wanted.digest))
            report["platform"] = platform.description
            report["manifestDigest"] = top.digest.description
        }
        report["manifest"] = try json(top.bytes)
        if case .image(let manifest) = try top.decoded() {
            report["config"] = try json(try await source.blob(manifest.config.digest))
            report["size"] = manifest.blobs.reduce(Int64(top.bytes.count)) { $0 + $1.size }
        }
        return try render(report)
    }

    static func json(_ bytes: [UInt8]) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    }

    static func render(_ object: [String: Any]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object,
                                              options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
