import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import OCI
import RegistryStorage

/// `HEAD`/`GET`/`DELETE /v2/<name>/blobs/<digest>`.
///
/// Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-blobs
extension Registry {
    /// Bytes read from disk per response write.
    static let readChunkSize = 1 << 20

    func getBlob(_ digest: Digest, in repository: RepositoryName, request: Request) throws -> Response {
        guard try metadata.isBlobLinked(digest, in: repository), let file = blobs.open(digest) else {
            throw DistributionError(.blobUnknown, "blob \(digest) is unknown to repository \(repository)")
        }
        let size: Int64
        do { size = try file.size() } catch { file.close(); throw error }
        var headers: HTTPFields = [
            .dockerContentDigest: digest.description,
            .contentType: "application/octet-stream",
            .acceptRanges: "bytes",
            .eTag: "\"\(digest)\"",
            .cacheControl: "max-age=31536000",
        ]
        var range = 0..<size
        var status = HTTPResponse.Status.ok
        if let header = request.headers[.range] {
            switch ByteRange.parse(header, size: size) {
            case .whole: break
            case .partial(let requested):
                range = requested
                status = .partialContent
                headers[.contentRange] = "bytes \(requested.lowerBound)-\(requested.upperBound - 1)/\(size)"
            case .unsatisfiable:
                file.close()
                throw RangeNotSatisfiable(size: size)
            }
        }
        headers[.contentLength] = String(range.count)
        if request.method == .head {
            file.close()
            return Response(status: status, headers: headers)
        }
        return Response(status: status, headers: headers, body: Self.stream(file, range: range))
    }

    /// Streams `range` of `file` (closing it afterwards) without ever holding more than one chunk.
    static func stream(_ file: FileDescriptor, range: Range<Int64>) -> ResponseBody {
        ResponseBody(contentLength: Int(range.count)) { writer in
            defer { file.close() }
            var offset = range.lowerBound
            let allocator = ByteBufferAllocator()
            while offset < range.upperBound {
                let wanted = Int(min(Int64(readChunkSize), range.upperBound - offset))
                var buffer = allocator.buffer(capacity: wanted)
                let read = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { raw in
                    try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[..<wanted]), at: offset)
                }
                guard read > 0 else { throw SystemError("pread(\(file.path)): unexpected end of file", 5) }
                offset += Int64(read)
                try await writer.write(buffer)
            }
            try await writer.finish(nil)
        }
    }

    func deleteBlob(_ digest: Digest, in repository: RepositoryName) throws -> Response {
        try ensureDeleteEnabled()
        guard try metadata.unlinkBlob(digest, from: repository) else {
            throw DistributionError(.blobUnknown, "blob \(digest) is unknown to repository \(repository)")
        }
        logger.info("blob unlinked", metadata: ["repository": "\(repository)", "digest": "\(digest)"])
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
