import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import OCI
import RegistryCore
import RegistryMetadata
import RegistryStorage
import S3
import S3Storage
import Testing

/// The registry's core on the S3 driver against a real RADOS Gateway (`scripts/test.sh` starts
/// it and names its env file in `BERTH_TEST_S3_ENV`), with two `Registry` instances on one
/// bucket and one metadata store standing for two nodes.
@Suite(.serialized) struct S3DriverTests {
    let client: S3Client
    let root = "tests/driver-\(UUID().uuidString.prefix(8))"
    let database = NSTemporaryDirectory() + "berth-s3-\(UUID().uuidString).sqlite"
    let repository = try! RepositoryName("app")
    static let part = S3Client.minimumPartSize

    init() throws {
        guard let file = ProcessInfo.processInfo.environment["BERTH_TEST_S3_ENV"],
              let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw SetupError(description: "BERTH_TEST_S3_ENV names no env file of scripts/s3-server.sh; run scripts/test.sh")
        }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        let configuration = S3Configuration(endpoint: values["S3_ENDPOINT"], region: "us-east-1", bucket: values["S3_BUCKET"] ?? "",
                                            forcePathStyle: true,
                                            credentials: AWSCredentials(accessKey: values["S3_ACCESS_KEY"] ?? "",
                                                                        secretKey: values["S3_SECRET_KEY"] ?? ""))
        client = S3Client(configuration: configuration, http: HTTPClient.shared, logger: Logger(label: "s3-test"))
    }

    struct SetupError: Error, CustomStringConvertible { var description: String }

    func driver(partSize: Int = part) -> S3Driver {
        var settings = S3Driver.Settings()
        settings.rootDirectory = "/\(root)/"
        settings.chunkSize = partSize
        settings.copyThreshold = Int64(Self.part)
        settings.copyChunkSize = Int64(Self.part)
        return S3Driver(client: client, settings: settings)
    }

    /// A node: its own Registry on the shared bucket and database.
    func node() throws -> Registry {
        Registry(settings: RegistrySettings(), storage: driver(), metadata: try SQLiteMetadataStore(path: database),
                 logger: Logger(label: "node"))
    }

    static func bytes(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 131) ^ Int(seed)) }
    }

    func read(_ registry: Registry, _ digest: Digest, range: Range<Int64>? = nil) async throws -> [UInt8] {
        let reader = try await registry.openBlob(digest, in: repository)
        if let range { reader.limit(to: range) }
        var out: [UInt8] = []
        while let chunk = try await reader.next() { out += chunk.readableBytesView }
        await reader.close()
        return out
    }

    func body(_ bytes: ArraySlice<UInt8>) -> Body { Body(chunks: [ByteBuffer(bytes: bytes)]) }

    @Test func aChunkedUploadMovesBetweenNodesAndLandsWhole() async throws {
        let (a, b) = (try node(), try node())
        let data = Self.bytes(3 * Self.part + 12345, seed: 1)
        let digest = DigestHasher.digest(of: data)
        let session = try await a.startUpload(in: repository)
        // Chunks of every kind of size: more than a part, less than one, exactly the rest.
        let cuts = [0, Self.part + 100, Self.part + 3000, 2 * Self.part + 1, 3 * Self.part]
        for (index, (start, end)) in zip(cuts, cuts.dropFirst()).enumerated() {
            let node = index.isMultiple(of: 2) ? a : b
            _ = try await node.appendUpload(session.id, in: repository, range: .init(first: Int64(start), last: Int64(end - 1)),
                                            contentLength: Int64(end - start), body: body(data[start..<end]))
        }
        try await b.finishUpload(session.id, in: repository, digest: digest, range: nil,
                                 contentLength: Int64(data.count - cuts.last!), body: body(data[cuts.last!...]))
        #expect(try await read(a, digest) == data)
        #expect(try await read(b, digest, range: 100..<Int64(Self.part + 200)) == Array(data[100..<Self.part + 200]))
        #expect(try await client.listAllObjects(prefix: "\(root)/berth/uploads/").isEmpty, "the session's objects are gone")
        #expect(try await client.pendingUploads(prefix: "\(root)/").isEmpty, "no multipart upload is left open")
        let blob = try #require(try await client.headObject("\(root)/\(StorageLayout.blobData(digest))"))
        #expect(blob.size == Int64(data.count))
    }

    @Test func aChunkWhoseAcknowledgementWasLostNeverCounts() async throws {
        let driver = driver()
        let path = "berth/uploads/lost-ack"
        let first = try await driver.writer(path, appendingAt: 0)
        try await first.write(ByteBuffer(bytes: Self.bytes(Self.part + 10, seed: 2)))
        try await first.commit()
        // The metadata never moved past 0: the next chunk starts there again, with other bytes.
        let kept = Self.bytes(Self.part + 20, seed: 3)
        let again = try await driver.writer(path, appendingAt: 0)
        try await again.write(ByteBuffer(bytes: kept))
        try await again.commit()
        try await driver.move(path, to: "moved/data")
        #expect(try await driver.readAll("moved/data", limit: 2 * Self.part) == kept)
        await #expect(throws: StorageError.self) { _ = try await driver.writer("berth/uploads/none", appendingAt: 7) }
        try await driver.delete(["moved"])
        #expect(try await driver.list("moved").isEmpty)
    }

    @Test func aMonolithicPushLargerThanAPartIsStoredAndReadable() async throws {
        let registry = try node()
        let data = Self.bytes(2 * Self.part + 7, seed: 4)
        let digest = DigestHasher.digest(of: data)
        let chunks = stride(from: 0, to: data.count, by: 1 << 20).map { ByteBuffer(bytes: data[$0..<min($0 + (1 << 20), data.count)]) }
        try await registry.monolithicUpload(of: digest, into: repository, contentLength: Int64(data.count), body: Body(chunks: chunks))
        #expect(try await read(registry, digest) == data)
        let bad = Self.bytes(Self.part + 1, seed: 5)
        await #expect(throws: DistributionError.self) {
            try await registry.monolithicUpload(of: digest, into: repository, contentLength: Int64(bad.count),
                                                body: Body(chunks: [ByteBuffer(bytes: bad)]))
        }
        #expect(try await client.pendingUploads(prefix: "\(root)/").isEmpty, "a refused push leaves no multipart upload")
        #expect(try await client.listAllObjects(prefix: "\(root)/berth/uploads/").isEmpty)
    }

    @Test func purgingAbortsTheMultipartUploadsOfWritersCutOff() async throws {
        let driver = driver()
        // A push cut off after its first part: nothing listed, but its parts hold space.
        let writer = try await driver.writer("\(StorageLayout.uploadsDirectory)/tmp-cut", appendingAt: nil)
        try await writer.write(ByteBuffer(bytes: Self.bytes(Self.part + 1, seed: 6)))
        #expect(try await client.pendingUploads(prefix: "\(root)/").count == 1)
        try await driver.purgeAbandonedWrites(startedBefore: Int64(Date().timeIntervalSince1970) - 3600)
        #expect(try await client.pendingUploads(prefix: "\(root)/").count == 1, "a recent write is left alone")
        try await driver.purgeAbandonedWrites(startedBefore: Int64(Date().timeIntervalSince1970) + 60)
        #expect(try await client.pendingUploads(prefix: "\(root)/").isEmpty)
    }

    @Test func listingsAndRedirectsFollowTheLayout() async throws {
        let driver = driver()
        for name in ["a/data", "b/data", "c"] {
            let writer = try await driver.writer("dir/\(name)", appendingAt: nil)
            try await writer.write(ByteBuffer(string: name))
            try await writer.commit()
        }
        #expect(Set(try await driver.list("dir")) == ["a", "b", "c"])
        #expect(try await driver.stat("dir/c")?.size == 1)
        let url = try #require(try await driver.redirectURL("dir/a/data"))
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        #expect(String(buffer: try await response.body.collect(upTo: 100)) == "a/data")
        try await driver.delete(["dir"])
        #expect(try await driver.list("dir").isEmpty)
    }
}

/// Chunks as an async sequence: a request body in these tests.
struct Body: AsyncSequence, Sendable {
    let chunks: [ByteBuffer]

    struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: [ByteBuffer]
        mutating func next() async -> ByteBuffer? { remaining.isEmpty ? nil : remaining.removeFirst() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(remaining: chunks) }
}
