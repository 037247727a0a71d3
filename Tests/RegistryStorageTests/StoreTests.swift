import Foundation
import OCI
import RegistryStorage
import Testing

@Suite struct StoreTests {
    let root: String
    let paths: StoragePaths

    init() {
        root = NSTemporaryDirectory() + "berth-storage-\(UUID().uuidString)"
        paths = StoragePaths(root: root)
    }

    @Test func blobsLiveAtDistributionsPaths() throws {
        let store = try BlobStore(paths: paths)
        let bytes = Array("hello".utf8)
        let digest = DigestHasher.digest(of: bytes)
        #expect(!store.contains(digest))
        try store.store(bytes, as: digest)
        #expect(FileManager.default.fileExists(atPath:
            "\(root)/docker/registry/v2/blobs/sha256/\(digest.hex.prefix(2))/\(digest.hex)/data"))
        #expect(try store.readAll(digest) == bytes)
        #expect(store.size(of: digest) == 5)
    }

    @Test func temporaryWriterIsInvisibleUntilCommitted() throws {
        let store = try BlobStore(paths: paths)
        let writer = try store.makeTemporaryWriter(algorithm: .sha256)
        try Array("abc".utf8).withUnsafeBytes { try writer.write($0) }
        let digest = writer.hasher.finalize()
        #expect(!store.contains(digest))
        try store.commit(writer, as: digest)
        #expect(try store.readAll(digest) == Array("abc".utf8))
    }

    @Test func uploadResumesAfterRestartFromAcknowledgedSize() throws {
        _ = try BlobStore(paths: paths)
        let id = UploadID.random()
        let first = UploadStore(paths: paths)
        try first.create(id)
        let writer = try first.beginAppend(id, at: 0)
        try Array("hello ".utf8).withUnsafeBytes { try writer.write($0) }
        // Bytes of a chunk that was never acknowledged (e.g. written just before a crash).
        try Array("GARBAGE".utf8).withUnsafeBytes { try writer.write($0) }
        first.finish(id, writer, keep: false)
        writer.close()

        let restarted = UploadStore(paths: paths)
        let resumed = try restarted.beginAppend(id, at: 6)
        try Array("world".utf8).withUnsafeBytes { try resumed.write($0) }
        #expect(resumed.size == 11)
        #expect(resumed.hasher.finalize() == DigestHasher.digest(of: Array("hello world".utf8)))
        restarted.finish(id, resumed, keep: true)
        resumed.close()
    }

    @Test func rollbackRestoresSizeAndHash() throws {
        _ = try BlobStore(paths: paths)
        let uploads = UploadStore(paths: paths)
        let id = UploadID.random()
        try uploads.create(id)
        let writer = try uploads.beginAppend(id, at: 0)
        try Array("ab".utf8).withUnsafeBytes { try writer.write($0) }
        let checkpoint = writer.checkpoint
        try Array("cut off".utf8).withUnsafeBytes { try writer.write($0) }
        try writer.rollback(to: checkpoint)
        try Array("c".utf8).withUnsafeBytes { try writer.write($0) }
        #expect(writer.hasher.finalize() == DigestHasher.digest(of: Array("abc".utf8)))
        #expect(try writer.file.size() == 3)
        uploads.finish(id, writer, keep: true)
        writer.close()
    }

    @Test func concurrentAppendToOneSessionIsRefused() throws {
        _ = try BlobStore(paths: paths)
        let uploads = UploadStore(paths: paths)
        let id = UploadID.random()
        try uploads.create(id)
        let writer = try uploads.beginAppend(id, at: 0)
        #expect(throws: UploadStore.UploadError.busy) { try uploads.beginAppend(id, at: 0) }
        uploads.finish(id, writer, keep: true)
        writer.close()
    }

    @Test func missingUploadDataIsReportedAsLost() throws {
        _ = try BlobStore(paths: paths)
        let uploads = UploadStore(paths: paths)
        #expect(throws: UploadStore.UploadError.dataLost) { try uploads.beginAppend(UploadID.random(), at: 0) }
    }

    @Test(arguments: ["../../etc/passwd", "ABCDEFAB-0000-0000-0000-000000000000", "x", ""])
    func uploadIDsRejectAnythingButLowerCaseUUIDs(_ text: String) {
        #expect(UploadID(text) == nil)
    }
}
