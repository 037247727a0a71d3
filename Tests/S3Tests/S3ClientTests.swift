import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import S3
import Testing

/// The client against a real S3 server: the Ceph RADOS Gateway `scripts/test.sh` starts with
/// `scripts/s3-server.sh` and names in `BERTH_TEST_S3_ENV` (its env file). Without it these tests
/// fail, saying so: they are part of the suite, not optional.
@Suite(.serialized) struct S3ClientTests {
    static func client() throws -> S3Client {
        guard let file = ProcessInfo.processInfo.environment["BERTH_TEST_S3_ENV"],
              let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw TestSetupError("BERTH_TEST_S3_ENV names no env file of scripts/s3-server.sh; run scripts/test.sh")
        }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        guard let endpoint = values["S3_ENDPOINT"], let access = values["S3_ACCESS_KEY"],
              let secret = values["S3_SECRET_KEY"], let bucket = values["S3_BUCKET"] else {
            throw TestSetupError("\(file) lacks S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY or S3_BUCKET")
        }
        let configuration = S3Configuration(endpoint: endpoint, region: "us-east-1", bucket: bucket, forcePathStyle: true,
                                            credentials: AWSCredentials(accessKey: access, secretKey: secret))
        return S3Client(configuration: configuration, http: HTTPClient.shared, logger: Logger(label: "s3-test"))
    }

    struct TestSetupError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// A prefix of its own for each test, so runs never see each other's keys.
    static func prefix(_ name: String) -> String { "tests/\(name)-\(UUID().uuidString.prefix(8))/" }

    static func bytes(_ count: Int, seed: UInt8) -> ByteBuffer {
        ByteBuffer(bytes: (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) })
    }

    static func read(_ body: S3ObjectBody) async throws -> [UInt8] {
        var out: [UInt8] = []
        for try await chunk in body.chunks { out += chunk.readableBytesView }
        return out
    }

    @Test func objectsCanBeWrittenStatedReadListedAndDeleted() async throws {
        let s3 = try Self.client()
        let base = Self.prefix("objects")
        // Keys as a registry makes them, and a few that need encoding.
        let keys = ["\(base)docker/registry/v2/blobs/sha256/ab/abcdef/data", "\(base)a b+c~d/é//x.y"]
        for (index, key) in keys.enumerated() {
            try await s3.putObject(key, bytes: Self.bytes(1000 + index, seed: UInt8(index)))
        }
        let info = try #require(try await s3.headObject(keys[0]))
        #expect(info.size == 1000)
        #expect(abs(info.modified - Int64(Date().timeIntervalSince1970)) < 600)
        #expect(try await s3.headObject("\(base)missing") == nil)
        #expect(try await s3.getObject("\(base)missing") == nil)

        let whole = try #require(try await s3.getObject(keys[1]))
        #expect(try await Self.read(whole) == Array(Self.bytes(1001, seed: 1).readableBytesView))
        let part = try #require(try await s3.getObject(keys[1], range: 10..<20))
        #expect(part.length == 10 && part.objectSize == 1001)
        #expect(try await Self.read(part) == Array(Self.bytes(1001, seed: 1).readableBytesView[10..<20]))

        let top = try await s3.listObjects(prefix: base, delimiter: "/")
        #expect(top.objects.isEmpty)
        #expect(Set(top.commonPrefixes) == ["\(base)docker/", "\(base)a b+c~d/"])
        let all = try await s3.listAllObjects(prefix: base)
        #expect(Set(all.map(\.key)) == Set(keys))

        try await s3.copyObject(from: keys[0], to: "\(base)copy")
        #expect(try await s3.headObject("\(base)copy")?.size == 1000)

        try await s3.deleteObjects(keys + ["\(base)copy", "\(base)never-there"])
        #expect(try await s3.listAllObjects(prefix: base).isEmpty)
    }

    @Test func listingsPageThroughContinuationTokens() async throws {
        let s3 = try Self.client()
        let base = Self.prefix("pages")
        let keys = (0..<7).map { "\(base)k\($0)" }
        for key in keys { try await s3.putObject(key, bytes: ByteBuffer(string: key)) }
        var seen: [String] = []
        var token: String?
        var pages = 0
        repeat {
            let page = try await s3.listObjects(prefix: base, continuationToken: token, maxKeys: 3)
            seen += page.objects.map(\.key)
            token = page.continuationToken
            pages += 1
        } while token != nil
        #expect(seen == keys)
        #expect(pages == 3)
        try await s3.deleteObjects(keys)
    }

    @Test func multipartUploadsAreInvisibleUntilCompleted() async throws {
        let s3 = try Self.client()
        let base = Self.prefix("multipart")
        let key = "\(base)object"
        let id = try await s3.createMultipartUpload(key)
        let first = Self.bytes(S3Client.minimumPartSize, seed: 1)
        let second = Self.bytes(1, seed: 2)
        let parts = [try await s3.uploadPart(key, uploadID: id, number: 1, bytes: first),
                     try await s3.uploadPart(key, uploadID: id, number: 2, bytes: second)]
        #expect(try await s3.headObject(key) == nil)
        #expect(try await s3.pendingUploads(prefix: base).map(\.uploadID) == [id])
        try await s3.completeMultipartUpload(key, uploadID: id, parts: parts)
        #expect(try await s3.headObject(key)?.size == Int64(S3Client.minimumPartSize + 1))
        #expect(try await s3.pendingUploads(prefix: base).isEmpty)

        // A part smaller than the minimum but the last is refused with S3's code, naming the key.
        let small = try await s3.createMultipartUpload("\(base)small")
        let tooSmall = [try await s3.uploadPart("\(base)small", uploadID: small, number: 1, bytes: second),
                        try await s3.uploadPart("\(base)small", uploadID: small, number: 2, bytes: second)]
        let error = await #expect(throws: S3Error.self) {
            try await s3.completeMultipartUpload("\(base)small", uploadID: small, parts: tooSmall)
        }
        #expect(error?.code == "EntityTooSmall")
        #expect(error?.description.contains("\(base)small") == true)
        try await s3.abortMultipartUpload("\(base)small", uploadID: small)
        #expect(try await s3.pendingUploads(prefix: base).isEmpty)
        try await s3.deleteObjects([key])
    }

    @Test func largeCopiesGoInParts() async throws {
        let s3 = try Self.client()
        let base = Self.prefix("copy")
        let size = 2 * S3Client.minimumPartSize + 123
        let source = Self.bytes(size, seed: 9)
        try await s3.putObject("\(base)source", bytes: source)
        try await s3.copyObject(from: "\(base)source", to: "\(base)target", size: Int64(size),
                                threshold: Int64(S3Client.minimumPartSize), partSize: Int64(S3Client.minimumPartSize),
                                concurrency: 2)
        let copy = try #require(try await s3.getObject("\(base)target"))
        #expect(try await Self.read(copy) == Array(source.readableBytesView))
        try await s3.deleteObjects(["\(base)source", "\(base)target"])
    }

    @Test func presignedURLsReadWithoutCredentials() async throws {
        let s3 = try Self.client()
        let key = Self.prefix("presigned") + "blob"
        try await s3.putObject(key, bytes: ByteBuffer(string: "hello"))
        let url = s3.presignedGetURL(key, expires: 60)
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        #expect(response.status == .ok)
        #expect(String(buffer: try await response.body.collect(upTo: 100)) == "hello")
        var tampered = HTTPClientRequest(url: url.replacingOccurrences(of: "blob", with: "blob2"))
        tampered.method = .GET
        #expect(try await HTTPClient.shared.execute(tampered, timeout: .seconds(30)).status == .forbidden)
        try await s3.deleteObjects([key])
    }

    @Test func wrongCredentialsNameS3sErrorCode() async throws {
        var configuration = try Self.client().configuration
        configuration.credentials = AWSCredentials(accessKey: "NOSUCHKEY", secretKey: "wrong")
        configuration.maxAttempts = 1
        let s3 = S3Client(configuration: configuration, http: HTTPClient.shared, logger: Logger(label: "s3-test"))
        let error = await #expect(throws: S3Error.self) { try await s3.listObjects(prefix: "x") }
        #expect(error?.code == "InvalidAccessKeyId")
        #expect(error?.status == 403)
        #expect(error?.description.contains(configuration.bucket) == true)
        #expect(error?.description.contains("wrong") == false)
    }
}
