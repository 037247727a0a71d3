import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import OCI

/// A blob download in progress: the body streams from `offset`.
public struct BlobDownload: Sendable {
    /// Buffers of the blob, in order.
    public let body: HTTPClientResponse.Body
    /// Where the body starts: the requested offset on 206, 0 when the registry ignored `Range`.
    public let offset: Int64
}

extension RegistryClient {
    /// Whether the repository already has the blob (`HEAD /v2/<name>/blobs/<digest>`).
    public func blobExists(_ digest: Digest, in repository: RepositoryName, scopes: [String]? = nil) async throws -> Bool {
        let response = try await send(.HEAD, "/v2/\(repository)/blobs/\(digest)",
                                      scopes: scopes ?? [Self.scope(repository, "pull")], accept: [200, 404])
        return response.status == .ok
    }

    /// Starts a blob download, from `offset` with a `Range` header when resuming.
    public func fetchBlob(_ digest: Digest, from repository: RepositoryName, offset: Int64 = 0) async throws -> BlobDownload {
        var headers = HTTPHeaders()
        if offset > 0 { headers.add(name: "Range", value: "bytes=\(offset)-") }
        let response = try await send(.GET, "/v2/\(repository)/blobs/\(digest)", headers: headers,
                                      scopes: [Self.scope(repository, "pull")],
                                      accept: offset > 0 ? [200, 206, 416] : [200])
        switch response.status.code {
        case 206:
            return BlobDownload(body: response.body, offset: offset)
        case 416:
            // Our partial file is no shorter than the blob: start again from zero.
            _ = try? await response.body.collect(upTo: 1 << 20)
            return try await fetchBlob(digest, from: repository, offset: 0)
        default:
            return BlobDownload(body: response.body, offset: 0)
        }
    }

    /// Tries a cross-repository mount (`POST ...uploads/?mount=<digest>&from=<repo>`).
    /// Returns true when mounted; false when the registry opened an upload instead (cancelled here).
    public func mountBlob(_ digest: Digest, into repository: RepositoryName, from source: RepositoryName) async throws -> Bool {
        let scopes = [Self.scope(repository, "pull,push"), Self.scope(source, "pull")]
        let response = try await send(.POST, "/v2/\(repository)/blobs/uploads/?mount=\(digest)&from=\(source)",
                                      headers: ["Content-Length": "0"], scopes: scopes, accept: [201, 202])
        _ = try? await response.body.collect(upTo: 1 << 20)
        if response.status == .created { return true }
        if let location = response.headers.first(name: "Location") {
            _ = try? await send(.DELETE, location, scopes: scopes, accept: [200, 202, 204, 404])
        }
        return false
    }

    /// Opens an upload session and returns its `Location`.
    func startUpload(in repository: RepositoryName) async throws -> String {
        let response = try await send(.POST, "/v2/\(repository)/blobs/uploads/", headers: ["Content-Length": "0"],
                                      scopes: [Self.scope(repository, "pull,push")], accept: [202])
        _ = try? await response.body.collect(upTo: 1 << 20)
        guard let location = response.headers.first(name: "Location") else {
            throw ClientError.protocolViolation("upload started without a Location header")
        }
        return location
    }

    /// Appends `digest=` to an upload location, keeping its own query (state tokens).
    func appendingDigest(_ location: String, _ digest: Digest) -> String {
        location + (location.contains("?") ? "&" : "?") + "digest=\(digest)"
    }

    /// Uploads a blob in one `PUT` (monolithic): the body streams, never held in memory.
    public func uploadBlob(_ digest: Digest, size: Int64, to repository: RepositoryName,
                           body: @escaping @Sendable () -> HTTPClientRequest.Body) async throws {
        let location = try await startUpload(in: repository)
        let headers: HTTPHeaders = ["Content-Type": "application/octet-stream", "Content-Length": "\(size)"]
        let response = try await send(.PUT, appendingDigest(location, digest), headers: headers, body: body,
                                      replayable: false, scopes: [Self.scope(repository, "pull,push")], accept: [201])
        _ = try? await response.body.collect(upTo: 1 << 20)
    }

    /// Uploads a blob in `PATCH` chunks of `chunkSize`, then closes it with `PUT ?digest=`.
    ///
    /// - Parameter chunk: makes the body for bytes `[offset, offset + length)`.
    /// See https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-a-blob-in-chunks
    public func uploadBlobInChunks(
        _ digest: Digest, size: Int64, chunkSize: Int64, to repository: RepositoryName,
        chunk: @escaping @Sendable (_ offset: Int64, _ length: Int64) -> HTTPClientRequest.Body,
        progress: (@Sendable (Int64) -> Void)? = nil
    ) async throws {
        let scopes = [Self.scope(repository, "pull,push")]
        var location = try await startUpload(in: repository)
        var offset: Int64 = 0
        while offset < size {
            let length = min(chunkSize, size - offset)
            let start = offset
            let headers: HTTPHeaders = [
                "Content-Type": "application/octet-stream",
                "Content-Length": "\(length)",
                "Content-Range": "\(start)-\(start + length - 1)",
            ]
            let response = try await send(.PATCH, location, headers: headers, body: { chunk(start, length) },
                                          replayable: false, scopes: scopes, accept: [202])
            _ = try? await response.body.collect(upTo: 1 << 20)
            guard let next = response.headers.first(name: "Location") else {
                throw ClientError.protocolViolation("chunk accepted without a Location header")
            }
            location = next
            offset += length
            progress?(offset)
        }
        let response = try await send(.PUT, appendingDigest(location, digest), headers: ["Content-Length": "0"],
                                      scopes: scopes, accept: [201])
        _ = try? await response.body.collect(upTo: 1 << 20)
    }
}
