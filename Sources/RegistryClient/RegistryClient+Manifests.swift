import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import OCI

/// A manifest as fetched: its exact bytes (digests cover bytes, never re-encoded JSON).
public struct FetchedManifest: Sendable {
    public let bytes: [UInt8]
    public let mediaType: String
    public let digest: Digest

    public init(bytes: [UInt8], mediaType: String, digest: Digest) {
        self.bytes = bytes
        self.mediaType = mediaType
        self.digest = digest
    }

    /// A descriptor for this manifest.
    public var descriptor: Descriptor {
        Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count))
    }

    /// The decoded manifest or index.
    public func decoded() throws -> AnyManifest {
        try AnyManifest(decoding: bytes, contentType: mediaType)
    }
}

extension RegistryClient {
    /// Largest manifest we accept (Distribution's own limit is 4 MiB).
    static let maxManifestBytes = 4 << 20

    /// Fetches a manifest or index by tag or digest; verifies the bytes when asked by digest.
    public func fetchManifest(_ reference: ManifestReference, from repository: RepositoryName,
                              scopes: [String]? = nil) async throws -> FetchedManifest {
        let headers: HTTPHeaders = ["Accept": MediaType.manifestTypesByPreference.joined(separator: ", ")]
        let response = try await send(.GET, "/v2/\(repository)/manifests/\(reference)", headers: headers,
                                      scopes: scopes ?? [Self.scope(repository, "pull")])
        let bytes = Array(buffer: try await response.body.collect(upTo: Self.maxManifestBytes))
        let digest: Digest
        if case .digest(let wanted) = reference {
            digest = DigestHasher.digest(of: bytes, algorithm: wanted.algorithm)
            guard digest == wanted else { throw ContentMismatch.digest(expected: wanted, actual: digest) }
        } else {
            digest = DigestHasher.digest(of: bytes)
        }
        var mediaType = response.headers.first(name: "Content-Type") ?? ""
        if let semicolon = mediaType.firstIndex(of: ";") { mediaType = String(mediaType[..<semicolon]) }
        if !MediaType.manifestTypes.contains(mediaType) {
            struct Probe: Decodable { var mediaType: String?; var manifests: [Descriptor]? }
            let probe = try? JSONDecoder().decode(Probe.self, from: Data(bytes))
            mediaType = probe?.mediaType ?? (probe?.manifests != nil ? MediaType.ociIndex : MediaType.ociManifest)
        }
        return FetchedManifest(bytes: bytes, mediaType: mediaType, digest: digest)
    }

    /// The descriptor of a manifest if the registry has it (`HEAD`), else nil.
    public func manifestDescriptor(_ reference: ManifestReference, in repository: RepositoryName,
                                   scopes: [String]? = nil) async throws -> Descriptor? {
        let headers: HTTPHeaders = ["Accept": MediaType.manifestTypesByPreference.joined(separator: ", ")]
        let response = try await send(.HEAD, "/v2/\(repository)/manifests/\(reference)", headers: headers,
                                      scopes: scopes ?? [Self.scope(repository, "pull")], accept: [200, 404])
        guard response.status == .ok else { return nil }
        guard let header = response.headers.first(name: "Docker-Content-Digest"),
              let digest = try? Digest(header) else {
            // No digest header: fall back to fetching the bytes.
            return try await fetchManifest(reference, from: repository, scopes: scopes).descriptor
        }
        let size = response.headers.first(name: "Content-Length").flatMap { Int64($0) } ?? 0
        let type = response.headers.first(name: "Content-Type") ?? MediaType.ociManifest
        return Descriptor(mediaType: type, digest: digest, size: size)
    }

    /// Stores a manifest under a tag or its digest; returns the digest the registry computed.
    @discardableResult
    public func putManifest(_ bytes: [UInt8], mediaType: String, reference: ManifestReference,
                            in repository: RepositoryName, scopes: [String]? = nil) async throws -> Digest {
        let headers: HTTPHeaders = ["Content-Type": mediaType, "Content-Length": "\(bytes.count)"]
        let buffer = ByteBuffer(bytes: bytes)
        let response = try await send(.PUT, "/v2/\(repository)/manifests/\(reference)", headers: headers,
                                      body: { .bytes(buffer) },
                                      scopes: scopes ?? [Self.scope(repository, "pull,push")], accept: [201])
        _ = try? await response.body.collect(upTo: 1 << 20)
        let algorithm: Digest.Algorithm = if case .digest(let wanted) = reference { wanted.algorithm } else { .sha256 }
        let digest = DigestHasher.digest(of: bytes, algorithm: algorithm)
        if let header = response.headers.first(name: "Docker-Content-Digest"),
           let theirs = try? Digest(header), theirs != digest {
            throw ContentMismatch.digest(expected: digest, actual: theirs)
        }
        return digest
    }

    /// Deletes a manifest by digest (registries refuse deletes by tag).
    public func deleteManifest(_ digest: Digest, in repository: RepositoryName) async throws {
        let response = try await send(.DELETE, "/v2/\(repository)/manifests/\(digest)",
                                      scopes: [Self.scope(repository, "pull,push,delete")], accept: [200, 202, 204])
        _ = try? await response.body.collect(upTo: 1 << 20)
    }

    /// Every tag of a repository, following `Link` pagination.
    public func tags(in repository: RepositoryName) async throws -> [String] {
        struct Page: Decodable { var tags: [String]? }
        var result: [String] = []
        var next: String? = "/v2/\(repository)/tags/list?n=1000"
        while let path = next {
            let response = try await send(.GET, path, scopes: [Self.scope(repository, "pull")])
            let body = try await response.body.collect(upTo: 64 << 20)
            result += try JSONDecoder().decode(Page.self, from: Data(buffer: body)).tags ?? []
            next = Self.nextLink(response.headers)
        }
        return result
    }

    /// Every repository the registry lists (`/v2/_catalog`), following `Link` pagination.
    public func catalog() async throws -> [String] {
        struct Page: Decodable { var repositories: [String]? }
        var result: [String] = []
        var next: String? = "/v2/_catalog?n=1000"
        while let path = next {
            let response = try await send(.GET, path, scopes: ["registry:catalog:*"])
            let body = try await response.body.collect(upTo: 64 << 20)
            result += try JSONDecoder().decode(Page.self, from: Data(buffer: body)).repositories ?? []
            next = Self.nextLink(response.headers)
        }
        return result
    }

    /// The `rel="next"` target of a `Link` header (RFC 8288), if any.
    static func nextLink(_ headers: HTTPHeaders) -> String? {
        for value in headers["Link"] {
            for part in value.split(separator: ",") where part.contains("rel=\"next\"") || part.contains("rel=next") {
                guard let open = part.firstIndex(of: "<"), let close = part.firstIndex(of: ">"), open < close else { continue }
                return String(part[part.index(after: open)..<close])
            }
        }
        return nil
    }
}
