import Foundation
import NIOCore

/// A part of a multipart upload, as `CompleteMultipartUpload` names it.
public struct S3Part: Sendable, Equatable, Codable {
    public var number: Int
    public var etag: String
    public var size: Int64

    public init(number: Int, etag: String, size: Int64) {
        self.number = number
        self.etag = etag
        self.size = size
    }
}

/// A multipart upload not yet completed or aborted (`ListMultipartUploads`).
public struct S3PendingUpload: Sendable, Equatable {
    public var key: String
    public var uploadID: String
    /// Seconds since 1970.
    public var initiated: Int64
}

/// Multipart uploads: bytes sent in parts (at least 5 MiB each but the last) that become one
/// object only when completed; until then nothing is visible at the key.
extension S3Client {
    /// S3's smallest part but the last.
    public static let minimumPartSize = 5 << 20

    /// `CreateMultipartUpload`; returns the upload's id.
    public func createMultipartUpload(_ key: String) async throws -> String {
        let request = Request(operation: "CreateMultipartUpload", method: .POST, key: key, query: [("uploads", "")])
        let root = try await xmlBody(of: send(request), for: request)
        guard let id = root.text("UploadId"), !id.isEmpty else {
            throw S3Error(operation: request.operation, bucket: bucket, key: key, code: "MalformedXML",
                          message: "no UploadId in the answer", status: 200)
        }
        return id
    }

    /// `UploadPart`; returns the part as `complete` needs it.
    public func uploadPart(_ key: String, uploadID: String, number: Int, bytes: ByteBuffer) async throws -> S3Part {
        let request = Request(operation: "UploadPart", method: .PUT, key: key,
                              query: [("partNumber", String(number)), ("uploadId", uploadID)], body: bytes)
        let response = try await drained(send(request))
        guard let etag = response.headers.first(name: "etag") else {
            throw S3Error(operation: request.operation, bucket: bucket, key: key, code: "MissingETag",
                          message: "part \(number) was answered without an ETag", status: Int(response.status.code))
        }
        return S3Part(number: number, etag: etag, size: Int64(bytes.readableBytes))
    }

    /// `UploadPartCopy`: a part made of `range` of an existing object, copied inside the store.
    public func copyPart(_ key: String, uploadID: String, number: Int, from source: String,
                         range: Range<Int64>) async throws -> S3Part {
        let request = Request(operation: "UploadPartCopy", method: .PUT, key: key,
                              query: [("partNumber", String(number)), ("uploadId", uploadID)],
                              headers: [("x-amz-copy-source", copySource(source)),
                                        ("x-amz-copy-source-range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")])
        let root = try await xmlBody(of: send(request), for: request)
        guard let etag = root.text("ETag") else {
            throw S3Error(operation: request.operation, bucket: bucket, key: key, code: "MissingETag",
                          message: "part \(number) was answered without an ETag", status: 200)
        }
        return S3Part(number: number, etag: etag, size: Int64(range.count))
    }

    /// `CompleteMultipartUpload`: the parts, in order, become the object at `key`.
    public func completeMultipartUpload(_ key: String, uploadID: String, parts: [S3Part]) async throws {
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for part in parts {
            xml += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(part.etag.xmlEscaped)</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let request = Request(operation: "CompleteMultipartUpload", method: .POST, key: key,
                              query: [("uploadId", uploadID)], headers: [("content-type", "application/xml")],
                              body: ByteBuffer(string: xml))
        // The answer may be 200 with an <Error> body (S3 reports late failures that way).
        _ = try await xmlBody(of: send(request), for: request)
    }

    /// `AbortMultipartUpload`: the parts are discarded; an upload already gone is no error.
    public func abortMultipartUpload(_ key: String, uploadID: String) async throws {
        let request = Request(operation: "AbortMultipartUpload", method: .DELETE, key: key, query: [("uploadId", uploadID)])
        _ = try await drained(send(request, accepting: [404]))
    }

    /// Every multipart upload in progress under `prefix` (for purging abandoned ones).
    public func pendingUploads(prefix: String) async throws -> [S3PendingUpload] {
        var uploads: [S3PendingUpload] = []
        var keyMarker: String?
        var uploadMarker: String?
        while true {
            var query: [(String, String)] = [("prefix", prefix), ("uploads", "")]
            if let keyMarker { query.append(("key-marker", keyMarker)) }
            if let uploadMarker { query.append(("upload-id-marker", uploadMarker)) }
            let request = Request(operation: "ListMultipartUploads", method: .GET, key: nil, query: query)
            let root = try await xmlBody(of: send(request), for: request)
            for item in root.all("Upload") {
                guard let key = item.text("Key"), let id = item.text("UploadId") else { continue }
                uploads.append(S3PendingUpload(key: key, uploadID: id,
                                               initiated: item.text("Initiated").flatMap(S3Time.isoDate) ?? 0))
            }
            guard root.text("IsTruncated") == "true" else { return uploads }
            keyMarker = root.text("NextKeyMarker")
            uploadMarker = root.text("NextUploadIdMarker")
        }
    }

    /// Copies an object of any size inside the store: one `CopyObject` up to `threshold` bytes,
    /// else a multipart upload of `partSize` copied parts, `concurrency` at a time.
    public func copyObject(from source: String, to destination: String, size: Int64, threshold: Int64,
                           partSize: Int64, concurrency: Int) async throws {
        guard size > threshold else { return try await copyObject(from: source, to: destination) }
        let uploadID = try await createMultipartUpload(destination)
        do {
            let ranges = stride(from: Int64(0), to: size, by: Int(partSize)).map { $0..<min($0 + partSize, size) }
            var parts: [S3Part] = []
            try await withThrowingTaskGroup(of: S3Part.self) { group in
                var next = 0
                func add() {
                    let index = next
                    next += 1
                    group.addTask {
                        try await copyPart(destination, uploadID: uploadID, number: index + 1, from: source, range: ranges[index])
                    }
                }
                while next < min(max(concurrency, 1), ranges.count) { add() }
                while let part = try await group.next() {
                    parts.append(part)
                    if next < ranges.count { add() }
                }
            }
            try await completeMultipartUpload(destination, uploadID: uploadID, parts: parts.sorted { $0.number < $1.number })
        } catch {
            try? await abortMultipartUpload(destination, uploadID: uploadID)
            throw error
        }
    }
}
