import Foundation
import NIOCore
import OCI
import RegistryStorage
import Testing

/// The filesystem driver keeps the `StorageDriver` contract: nothing visible before a commit or
/// move, appends that roll back, Distribution's paths.
@Suite struct FilesystemDriverTests {
    let root: String
    let driver: FilesystemDriver

    init() {
        root = NSTemporaryDirectory() + "berth-storage-\(UUID().uuidString)"
        driver = FilesystemDriver(root: root)
    }

    func write(_ text: String, to path: String) async throws {
        let writer = try await driver.writer(path, appendingAt: nil)
        try await writer.write(ByteBuffer(string: text))
        try await writer.commit()
    }

    @Test func blobsLiveAtDistributionsPaths() async throws {
        let bytes = Array("hello".utf8)
        let digest = DigestHasher.digest(of: bytes)
        let temporary = StorageLayout.temporaryFile(UploadID.random())
        try await write("hello", to: temporary)
        try await driver.move(temporary, to: StorageLayout.blobData(digest))
        #expect(FileManager.default.fileExists(atPath:
            "\(root)/docker/registry/v2/blobs/sha256/\(digest.hex.prefix(2))/\(digest.hex)/data"))
        #expect(try await driver.readAll(StorageLayout.blobData(digest), limit: 100) == bytes)
        #expect(try await driver.readAll(StorageLayout.blobData(digest), limit: 2) == nil)
        #expect(try await driver.stat(StorageLayout.blobData(digest))?.size == 5)
        #expect(try await driver.stat(temporary) == nil)
    }

    @Test func cancelledAppendLeavesTheCommittedBytes() async throws {
        let path = StorageLayout.uploadData(UploadID.random())
        try await write("hello ", to: path)
        let cut = try await driver.writer(path, appendingAt: 6)
        try await cut.write(ByteBuffer(string: "GARBAGE"))
        await cut.cancel()
        #expect(try await driver.stat(path)?.size == 6)
        let next = try await driver.writer(path, appendingAt: 6)
        try await next.write(ByteBuffer(string: "world"))
        try await next.commit()
        #expect(try await driver.readAll(path, limit: 100) == Array("hello world".utf8))
    }

    @Test func appendingAfterACrashDropsUnacknowledgedBytes() async throws {
        let path = StorageLayout.uploadData(UploadID.random())
        try await write("hello GARBAGE", to: path)
        let resumed = try await driver.writer(path, appendingAt: 6)
        try await resumed.write(ByteBuffer(string: "world"))
        try await resumed.commit()
        #expect(try await driver.readAll(path, limit: 100) == Array("hello world".utf8))
        await #expect(throws: StorageError.self) { _ = try await driver.writer(path, appendingAt: 50) }
        await #expect(throws: StorageError.self) { _ = try await driver.writer("berth/uploads/missing", appendingAt: 3) }
    }

    @Test func aSessionFileComesWithItsFirstBytes() async throws {
        let path = StorageLayout.uploadData(UploadID.random())
        let first = try await driver.writer(path, appendingAt: 0)
        await first.cancel()
        #expect(try await driver.stat(path)?.size ?? 0 == 0)
        let again = try await driver.writer(path, appendingAt: 0)
        try await again.write(ByteBuffer(string: "chunk"))
        try await again.commit()
        #expect(try await driver.readAll(path, limit: 100) == Array("chunk".utf8))
    }

    @Test func readerServesRanges() async throws {
        let path = "berth/uploads/ranges"
        try await write("0123456789", to: path)
        let reader = try #require(try await driver.open(path))
        #expect(reader.size == 10)
        reader.limit(to: 3..<7)
        var collected = ""
        while let chunk = try await reader.next() { collected += String(buffer: chunk) }
        await reader.close()
        #expect(collected == "3456")
        #expect(try await driver.open("berth/uploads/absent") == nil)
    }

    @Test func deleteRemovesTreesAndListNamesChildren() async throws {
        try await write("a", to: "x/one/data")
        try await write("b", to: "x/two/data")
        #expect(try await driver.list("x").sorted() == ["one", "two"])
        try await driver.delete("x/one")
        try await driver.delete("x/one")
        #expect(try await driver.list("x") == ["two"])
        #expect(try await driver.list("nothing-here").isEmpty)
    }
}
