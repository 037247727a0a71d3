import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import OCI
import RegistryCore
import RegistryStorage

/// Blob uploads over HTTP: `POST` (start, monolithic, mount), `PATCH`, `PUT`, `GET`, `DELETE`.
///
/// Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-blobs
extension Endpoints {
    func startUpload(in repository: RepositoryName, request: Request, mountSource: RepositoryName?) async throws -> Response {
        let query = request.uri.queryParameters
        if let mount = query["mount"] {
            let digest = try RegistryRoute.digest(mount)
            if try await core.mountBlob(digest, from: mountSource, hasFromParameter: query["from"] != nil, into: repository) {
                return Self.blobCreated(digest, location: location("/v2/\(repository)/blobs/\(digest)"))
            }
            // Not mountable: fall back to a normal upload session, as the spec says.
        } else if let digestText = query["digest"] {
            let digest = try RegistryRoute.digest(digestText)
            try await core.monolithicUpload(of: digest, into: repository, contentLength: Self.contentLength(request), body: request.body)
            return Self.blobCreated(digest, location: location("/v2/\(repository)/blobs/\(digest)"))
        }
        let session = try await core.startUpload(in: repository)
        return Self.uploadAccepted(session, location: uploadLocation(session), status: .accepted)
    }

    func appendUpload(_ id: UploadID, in repository: RepositoryName, request: Request) async throws -> Response {
        let session = try await core.appendUpload(id, in: repository, range: try Self.contentRange(request),
                                                  contentLength: Self.contentLength(request), body: request.body)
        return Self.uploadAccepted(session, location: uploadLocation(session), status: .accepted)
    }

    func finishUpload(_ id: UploadID, in repository: RepositoryName, request: Request) async throws -> Response {
        guard let digestText = request.uri.queryParameters["digest"] else {
            throw DistributionError(.digestInvalid, "the digest query parameter is required to finish an upload")
        }
        let digest = try RegistryRoute.digest(digestText)
        try await core.finishUpload(id, in: repository, digest: digest, range: try Self.contentRange(request),
                                    contentLength: Self.contentLength(request), body: request.body)
        return Self.blobCreated(digest, location: location("/v2/\(repository)/blobs/\(digest)"))
    }

    func uploadStatus(_ id: UploadID, in repository: RepositoryName) async throws -> Response {
        let session = try await core.upload(id, in: repository)
        return Self.uploadAccepted(session, location: uploadLocation(session), status: .noContent)
    }

    func cancelUpload(_ id: UploadID, in repository: RepositoryName) async throws -> Response {
        try await core.cancelUpload(id, in: repository)
        return Response(status: .noContent, headers: [.contentLength: "0"])
    }

    // MARK: Helpers

    /// `Content-Range: <first>-<last>` (also with a `bytes` unit and a `/size` suffix); nil when absent.
    static func contentRange(_ request: Request) throws -> UploadSession.ChunkRange? {
        guard let header = request.headers[.contentRange] else { return nil }
        var text = Substring(header)
        if text.hasPrefix("bytes=") || text.hasPrefix("bytes ") { text = text.dropFirst(6) }
        if let slash = text.firstIndex(of: "/") { text = text[..<slash] }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let first = Int64(String(parts[0]).trimmingCharacters(in: .whitespaces)),
              let last = Int64(String(parts[1]).trimmingCharacters(in: .whitespaces)), first >= 0, last >= first else {
            throw DistributionError(.blobUploadInvalid, "malformed Content-Range \"\(text.prefix(100))\"", status: 416)
        }
        return UploadSession.ChunkRange(first: first, last: last)
    }

    private func uploadLocation(_ session: UploadSession) -> String {
        location("/v2/\(session.repository)/blobs/uploads/\(session.id)")
    }

    static func uploadAccepted(_ session: UploadSession, location: String, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [
            .location: location,
            .range: "0-\(max(0, session.size - 1))",
            .dockerUploadUUID: session.id.value,
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
