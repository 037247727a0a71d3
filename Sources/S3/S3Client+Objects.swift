import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// What `HeadObject` and listings tell of an object.
public struct S3ObjectInfo: Sendable, Equatable {
    public var key: String
    public var size: Int64
    /// Seconds since 1970.
    public var modified: Int64
    public var etag: String
}

/// One page of `ListObjectsV2`.
public struct S3ListPage: Sendable {
    public var objects: [S3ObjectInfo] = []
    /// The "directories" under the prefix when a delimiter was given, each ending with it.
    public var commonPrefixes: [String] = []
    /// Where the next page starts; nil on the last page.
    public var continuationToken: String?
}

/// An object's bytes as they arrive (a `GetObject` answer's body).
public struct S3ObjectBody: Sendable {
    /// Bytes of this answer (the range's length for a ranged read).
    public let length: Int64
    /// The object's whole size.
    public let objectSize: Int64
    public let chunks: HTTPClientResponse.Body
}

extension S3Client {
    /// `HeadObject`; nil when there is no such object.
    public func headObject(_ key: String) async throws -> S3ObjectInfo? {
        let request = Request(operation: "HeadObject", method: .HEAD, key: key)
        let response = try await send(request, accepting: [404])
        guard response.status != .notFound else { return nil }
        let headers = response.headers
        return S3ObjectInfo(key: key, size: headers.first(name: "content-length").flatMap { Int64($0) } ?? 0,
                            modified: headers.first(name: "last-modified").flatMap(S3Time.httpDate) ?? 0,
                            etag: headers.first(name: "etag") ?? "")
    }

    /// `GetObject`, of `range` only when given; nil when there is no such object.
    public func getObject(_ key: String, range: Range<Int64>? = nil) async throws -> S3ObjectBody? {
        var request = Request(operation: "GetObject", method: .GET, key: key)
        if let range {
            guard !range.isEmpty else {
                guard let info = try await headObject(key) else { return nil }
                return S3ObjectBody(length: 0, objectSize: info.size, chunks: HTTPClientResponse(status: .ok).body)
            }
            request.headers.append(("range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)"))
        }
        let response = try await send(request, accepting: [404])
        guard response.status != .notFound else {
            _ = try? await response.body.collect(upTo: 64 << 10)
            return nil
        }
        let length = response.headers.first(name: "content-length").flatMap { Int64($0) } ?? 0
        var objectSize = length
        if let contentRange = response.headers.first(name: "content-range"),
           let total = contentRange.split(separator: "/").last.flatMap({ Int64($0) }) {
            objectSize = total
        }
        return S3ObjectBody(length: length, objectSize: objectSize, chunks: response.body)
    }

    /// A small object read whole (at most `limit` bytes); nil when absent or larger.
    public func getSmallObject(_ key: String, limit: Int) async throws -> [UInt8]? {
        guard let object = try await getObject(key) else { return nil }
        guard object.length <= limit else { return nil }
        return Array(try await object.chunks.collect(upTo: limit).readableBytesView)
    }

    /// `PutObject` of bytes held in memory (small objects; large ones go in parts).
    public func putObject(_ key: String, bytes: ByteBuffer, contentType: String? = nil) async throws {
        var request = Request(operation: "PutObject", method: .PUT, key: key, body: bytes)
        if let contentType { request.headers.append(("content-type", contentType)) }
        _ = try await drained(send(request))
    }

    /// `CopyObject`: a server-side copy of an object of up to 5 GiB (larger ones: `copyInParts`).
    public func copyObject(from source: String, to destination: String) async throws {
        let request = Request(operation: "CopyObject", method: .PUT, key: destination,
                              headers: [("x-amz-copy-source", copySource(source))])
        _ = try await xmlBody(of: send(request), for: request)
    }

    /// `DeleteObjects` for up to 1,000 keys a request; missing keys are no error.
    public func deleteObjects(_ keys: [String]) async throws {
        for start in stride(from: 0, to: keys.count, by: 1000) {
            let batch = keys[start..<min(start + 1000, keys.count)]
            var xml = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
            for key in batch { xml += "<Object><Key>\(key.xmlEscaped)</Key></Object>" }
            xml += "</Delete>"
            let body = ByteBuffer(string: xml)
            // S3 requires a checksum of a DeleteObjects body; MD5 is the one every store takes.
            let md5 = Data(Insecure.MD5.hash(data: Array(xml.utf8))).base64EncodedString()
            let request = Request(operation: "DeleteObjects", method: .POST, key: nil, query: [("delete", "")],
                                  headers: [("content-md5", md5), ("content-type", "application/xml")], body: body)
            let result = try await xmlBody(of: send(request), for: request)
            if let failed = result.all("Error").first {
                throw S3Error(operation: "DeleteObjects", bucket: bucket, key: failed.text("Key"),
                              code: failed.text("Code") ?? "Unknown", message: failed.text("Message") ?? "", status: 200)
            }
        }
    }

    /// One page of `ListObjectsV2` of the keys under `prefix`.
    public func listObjects(prefix: String, delimiter: String? = nil, continuationToken: String? = nil,
                            maxKeys: Int = 1000) async throws -> S3ListPage {
        var query: [(String, String)] = [("list-type", "2"), ("max-keys", String(maxKeys)), ("prefix", prefix)]
        if let delimiter { query.append(("delimiter", delimiter)) }
        if let continuationToken { query.append(("continuation-token", continuationToken)) }
        let request = Request(operation: "ListObjectsV2", method: .GET, key: nil, query: query)
        let root = try await xmlBody(of: send(request), for: request)
        var page = S3ListPage()
        for item in root.all("Contents") {
            guard let key = item.text("Key") else { continue }
            page.objects.append(S3ObjectInfo(key: key, size: item.text("Size").flatMap { Int64($0) } ?? 0,
                                             modified: item.text("LastModified").flatMap(S3Time.isoDate) ?? 0,
                                             etag: item.text("ETag") ?? ""))
        }
        page.commonPrefixes = root.all("CommonPrefixes").compactMap { $0.text("Prefix") }
        if root.text("IsTruncated") == "true" { page.continuationToken = root.text("NextContinuationToken") }
        return page
    }

    /// Every key under `prefix`, all pages.
    public func listAllObjects(prefix: String) async throws -> [S3ObjectInfo] {
        var objects: [S3ObjectInfo] = []
        var token: String?
        repeat {
            let page = try await listObjects(prefix: prefix, continuationToken: token)
            objects += page.objects
            token = page.continuationToken
        } while token != nil
        return objects
    }

    /// A presigned `GET` of `key`, valid for `expires` seconds (for a client redirect).
    public func presignedGetURL(_ key: String, expires: Int) -> String {
        signer.presignedURL(method: "GET", url: configuration.url(key: key, query: ""), expires: expires, date: Date())
    }

    /// `x-amz-copy-source`: the bucket and key, encoded.
    func copySource(_ key: String) -> String {
        "/" + S3Encoding.encode(bucket) + "/" + S3Encoding.encodePath(key)
    }

    /// Reads and drops a body nobody needs, so the connection can be reused.
    func drained(_ response: HTTPClientResponse) async throws -> HTTPClientResponse {
        _ = try await response.body.collect(upTo: 1 << 20)
        return response
    }
}

/// The two time formats S3 answers in.
enum S3Time {
    /// `2026-12-07T19:39:24.000Z` (listings) as seconds since 1970.
    static func isoDate(_ text: String) -> Int64? {
        let parts = text.split(whereSeparator: { "-T:.Z".contains($0) }).compactMap { Int($0) }
        guard parts.count >= 6 else { return nil }
        return civil(year: parts[0], month: parts[1], day: parts[2], hour: parts[3], minute: parts[4], second: parts[5])
    }

    /// `Mon, 07 Dec 2026 19:39:24 GMT` (`Last-Modified`) as seconds since 1970.
    static func httpDate(_ text: String) -> Int64? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == ":" || $0 == "," })
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard fields.count >= 7, let day = Int(fields[1]), let month = months.firstIndex(of: String(fields[2])),
              let year = Int(fields[3]), let hour = Int(fields[4]), let minute = Int(fields[5]),
              let second = Int(fields[6]) else { return nil }
        return civil(year: year, month: month + 1, day: day, hour: hour, minute: minute, second: second)
    }

    /// Seconds since 1970 of a UTC date and time (days from the civil calendar, no time zones).
    static func civil(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }
}
