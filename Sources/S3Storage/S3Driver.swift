import Foundation
import NIOCore
import RegistryStorage
import S3

/// `StorageDriver` on an S3 bucket: blobs at Distribution's object keys
/// (`<rootdirectory>/docker/registry/v2/blobs/sha256/<2>/<hex>/data`), so a bucket Distribution
/// wrote is served in place.
///
/// Objects are written once and become visible whole (`PutObject`, or a multipart upload that is
/// completed only on commit); a `move` is a server-side copy, in parts past
/// `multipartCopyThreshold`, then a delete. Upload sessions are resumable from any node: their
/// state lives in the bucket (`S3UploadSession`), never in one node's memory.
public struct S3Driver: StorageDriver {
    public struct Settings: Sendable {
        /// `rootdirectory`: a key prefix for everything (none when empty).
        public var rootDirectory = ""
        /// `chunksize`: the part size of multipart uploads (at least 5 MiB).
        public var chunkSize = 10 << 20
        /// `multipartcopychunksize`, `multipartcopymaxconcurrency`, `multipartcopythresholdsize`.
        public var copyChunkSize: Int64 = 32 << 20
        public var copyConcurrency = 100
        public var copyThreshold: Int64 = 32 << 20
        /// Blob pulls answered with a redirect to a presigned URL (`storage.redirect.disable`
        /// false), so bytes flow from the bucket to the client, not through the node.
        public var redirect = true

        public init() {}
    }

    public let client: S3Client
    public let settings: Settings
    /// `rootdirectory` as a key prefix: no leading slash, one trailing slash (empty for none).
    let prefix: String

    public init(client: S3Client, settings: Settings) {
        self.client = client
        self.settings = settings
        let trimmed = settings.rootDirectory.split(separator: "/").joined(separator: "/")
        self.prefix = trimmed.isEmpty ? "" : trimmed + "/"
    }

    /// The object key of a driver path.
    func key(_ path: String) -> String { prefix + path }

    public func stat(_ path: String) async throws -> StorageFileInfo? {
        guard let info = try await client.headObject(key(path)) else { return nil }
        return StorageFileInfo(size: info.size, modified: info.modified)
    }

    public func open(_ path: String) async throws -> (any StorageReader)? {
        guard let info = try await client.headObject(key(path)) else { return nil }
        return S3Reader(client: client, key: key(path), size: info.size)
    }

    public func readAll(_ path: String, limit: Int) async throws -> [UInt8]? {
        try await client.getSmallObject(key(path), limit: limit)
    }

    public func writer(_ path: String, appendingAt offset: Int64?) async throws -> any StorageWriter {
        guard let offset else { return S3ObjectWriter(client: client, key: key(path), partSize: settings.chunkSize) }
        let session = S3UploadSession(client: client, key: key(path), partSize: settings.chunkSize)
        return try await session.writer(at: offset)
    }

    public func move(_ source: String, to destination: String) async throws {
        let session = S3UploadSession(client: client, key: key(source), partSize: settings.chunkSize)
        let from: String
        let size: Int64
        if let finished = try await session.finish() {
            (from, size) = finished
        } else {
            guard let info = try await client.headObject(key(source)) else { throw StorageError.notFound(source) }
            (from, size) = (key(source), info.size)
        }
        try await client.copyObject(from: from, to: key(destination), size: size, threshold: settings.copyThreshold,
                                    partSize: settings.copyChunkSize, concurrency: settings.copyConcurrency)
        try await delete([source])
    }

    /// Every object at or under each path, and, under the uploads directory (the only place
    /// writers leave them), the multipart uploads of sessions among them.
    public func delete(_ paths: [String]) async throws {
        var keys: [String] = []
        for path in paths {
            let base = key(path)
            keys.append(base)
            keys += try await client.listAllObjects(prefix: base + "/").map(\.key)
            guard path.hasPrefix(StorageLayout.uploadsDirectory + "/") else { continue }
            for upload in try await client.pendingUploads(prefix: base + "/") {
                try await client.abortMultipartUpload(upload.key, uploadID: upload.uploadID)
            }
        }
        try await client.deleteObjects(keys)
    }

    public func list(_ directory: String) async throws -> [String] {
        let base = key(directory) + "/"
        var names: [String] = []
        var token: String?
        repeat {
            let page = try await client.listObjects(prefix: base, delimiter: "/", continuationToken: token)
            names += page.objects.map { String($0.key.dropFirst(base.count)) }
            names += page.commonPrefixes.map { String($0.dropFirst(base.count).dropLast()) }
            token = page.continuationToken
        } while token != nil
        return names.filter { !$0.isEmpty }
    }

    /// A presigned URL valid for 20 minutes, as Distribution's S3 driver gives.
    public func redirectURL(_ path: String) async throws -> String? {
        settings.redirect ? client.presignedGetURL(key(path), expires: 20 * 60) : nil
    }

    /// Aborts multipart uploads under the uploads directory started before `cutoff` (a writer
    /// cut off by a crash leaves one, invisible to listings, holding its parts' space).
    public func purgeAbandonedWrites(startedBefore cutoff: Int64) async throws {
        for upload in try await client.pendingUploads(prefix: key(StorageLayout.uploadsDirectory) + "/")
        where upload.initiated < cutoff {
            try await client.abortMultipartUpload(upload.key, uploadID: upload.uploadID)
        }
    }
}
