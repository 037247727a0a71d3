import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOPosix
import OCI
import RegistryCore
import RegistryStorage

/// `HEAD`/`GET`/`DELETE /v2/<name>/blobs/<digest>`.
///
/// Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-blobs
extension Endpoints {
    func headBlob(_ digest: Digest, in repository: RepositoryName, request: Request) async throws -> Response {
        let size = try await core.checkBlob(digest, in: repository)
        let (status, _, headers) = try Self.served(digest, size: size, request: request)
        return Response(status: status, headers: headers)
    }

    /// `channel`: the connection, whose `SendfileHandler` (on plain HTTP) sends local files.
    func getBlob(_ digest: Digest, in repository: RepositoryName, request: Request, channel: (any Channel)?) async throws -> Response {
        // As Distribution: a storage with its own URLs (S3) serves the bytes itself.
        if let url = try await core.blobRedirect(digest, in: repository) {
            return Response(status: .temporaryRedirect, headers: [
                .location: url, .dockerContentDigest: digest.description, .contentLength: "0",
            ])
        }
        let reader = try await core.openBlob(digest, in: repository)
        let served: (HTTPResponse.Status, Range<Int64>, HTTPFields)
        do {
            served = try Self.served(digest, size: reader.size, request: request)
        } catch {
            await reader.close()
            throw error
        }
        let (status, range, headers) = served
        reader.limit(to: range)
        return Response(status: status, headers: headers, body: Self.stream(reader, length: Int64(range.count), channel: channel))
    }

    /// The status, byte range and headers of a blob response, following the request's `Range`;
    /// throws `RangeNotSatisfiable` for a range outside the blob.
    private static func served(_ digest: Digest, size: Int64, request: Request) throws -> (HTTPResponse.Status, Range<Int64>, HTTPFields) {
        var headers = blobHeaders(digest)
        var range = 0..<size
        var status = HTTPResponse.Status.ok
        if let header = request.headers[.range] {
            switch ByteRange.parse(header, size: size) {
            case .whole: break
            case .partial(let requested):
                range = requested
                status = .partialContent
                headers[.contentRange] = "bytes \(requested.lowerBound)-\(requested.upperBound - 1)/\(size)"
            case .unsatisfiable: throw RangeNotSatisfiable(size: size)
            }
        }
        headers[.contentLength] = String(range.count)
        return (status, range, headers)
    }

    private static func blobHeaders(_ digest: Digest) -> HTTPFields {
        [
            .dockerContentDigest: digest.description,
            .contentType: "application/octet-stream",
            .acceptRanges: "bytes",
            .eTag: "\"\(digest)\"",
            .cacheControl: "max-age=31536000",
        ]
    }

    /// Bytes per region a blob is sent in with `sendfile`: each is read into the page cache on a
    /// thread of the pool first (`readahead`), so the event loop's `sendfile` never waits for the
    /// disk, and the next is read while this one goes out.
    static let sendfileRegion: Int64 = 4 << 20

    /// Streams a reader (closing it afterwards) without ever holding more than one chunk. A local
    /// file on a connection with a `SendfileHandler` goes out with `sendfile` instead.
    static func stream(_ reader: any StorageReader, length: Int64, channel: (any Channel)? = nil) -> ResponseBody {
        ResponseBody(contentLength: Int(length)) { writer in
            if let channel, let local = reader as? any LocalFileReader,
               let sender = try? await channel.pipeline.handler(type: SendfileHandler.self).get(),
               let detached = local.detachFile() {
                let file = SharedFile(takingOwnershipOf: detached.file)
                var offset = detached.range.lowerBound
                while offset < detached.range.upperBound {
                    let start = offset
                    let end = min(offset + Self.sendfileRegion, detached.range.upperBound)
                    try await NIOThreadPool.singleton.runIfActive { file.file.readAhead(at: start, count: end - start) }
                    let (token, marker) = sender.register(start..<end, of: file)
                    do {
                        try await writer.write(marker)
                    } catch {
                        sender.cancel(token)
                        throw error
                    }
                    offset = end
                }
                try await writer.finish(nil)
                return
            }
            do {
                while let chunk = try await reader.next() { try await writer.write(chunk) }
            } catch {
                await reader.close()
                throw error
            }
            await reader.close()
            try await writer.finish(nil)
        }
    }

    func deleteBlob(_ digest: Digest, in repository: RepositoryName) async throws -> Response {
        try await core.deleteBlob(digest, in: repository)
        return Response(status: .accepted, headers: [.contentLength: "0", .dockerContentDigest: digest.description])
    }
}

/// `416` for a `Range` outside the blob, with the blob's size in `Content-Range`.
struct RangeNotSatisfiable: Error {
    let size: Int64
}

/// A single `Range: bytes=...` request (RFC 9110 §14.1.2); multiple ranges are served whole.
enum ByteRange: Equatable {
    case whole
    case partial(Range<Int64>)
    case unsatisfiable

    static func parse(_ header: String, size: Int64) -> ByteRange {
        guard header.hasPrefix("bytes=") else { return .whole }
        let spec = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let first = spec[..<dash]
        let last = spec[spec.index(after: dash)...]
        if first.isEmpty {
            guard let suffix = Int64(last), suffix > 0 else { return .unsatisfiable }
            return size == 0 ? .unsatisfiable : .partial(max(0, size - suffix)..<size)
        }
        guard let start = Int64(first), start >= 0 else { return .whole }
        guard start < size else { return .unsatisfiable }
        if last.isEmpty { return .partial(start..<size) }
        guard let end = Int64(last), end >= start else { return .unsatisfiable }
        return .partial(start..<min(end + 1, size))
    }
}
