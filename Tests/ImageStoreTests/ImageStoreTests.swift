import Foundation
import NIOCore
import OCI
import Synchronization
import Testing
@testable import ImageStore

/// Store atomicity: nothing unverified is ever visible, interrupted writes resume, the index
/// survives concurrent writers.
@Suite struct ImageStoreTests {
    func makeStore() throws -> ImageStore {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("berth-store-\(UUID().uuidString)").path
        return try ImageStore(root: root)
    }

    func bytes(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
    }

    @Test func layoutFilesExist() throws {
        let store = try makeStore()
        #expect(FileManager.default.fileExists(atPath: store.root + "/oci-layout"))
        let index = try store.readIndex()
        #expect(index.schemaVersion == 2 && index.manifests.isEmpty)
    }

    @Test func interruptedWriteResumesAndCommitsAtomically() throws {
        let store = try makeStore()
        let data = bytes(3 << 20)
        let descriptor = Descriptor(mediaType: MediaType.ociLayer, digest: DigestHasher.digest(of: data), size: Int64(data.count))
        do {
            let writer = try BlobWriter(store: store, descriptor: descriptor)
            try writer.write(ByteBuffer(bytes: data[0..<(1 << 20)]))
            // Dropped without commit: an interrupted pull.
        }
        #expect(!store.hasBlob(descriptor.digest))
        let writer = try BlobWriter(store: store, descriptor: descriptor)
        #expect(writer.offset == 1 << 20)
        try writer.write(ByteBuffer(bytes: data[(1 << 20)...]))
        try writer.commit()
        #expect(store.hasBlob(descriptor.digest))
        #expect(try store.readBlob(descriptor.digest) == data)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.root + "/ingest").isEmpty)
    }

    @Test func digestMismatchLeavesNothing() throws {
        let store = try makeStore()
        let data = bytes(4096)
        var wrong = data
        wrong[100] ^= 0xff
        let descriptor = Descriptor(mediaType: MediaType.ociLayer, digest: DigestHasher.digest(of: data), size: Int64(data.count))
        let writer = try BlobWriter(store: store, descriptor: descriptor)
        try writer.write(ByteBuffer(bytes: wrong))
        #expect(throws: ContentMismatch.digest(expected: descriptor.digest, actual: DigestHasher.digest(of: wrong))) {
            try writer.commit()
        }
        #expect(!store.hasBlob(descriptor.digest))
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.root + "/ingest").isEmpty)
    }

    @Test func oversizedBodyIsRejected() throws {
        let store = try makeStore()
        let data = bytes(100)
        let descriptor = Descriptor(mediaType: MediaType.ociLayer, digest: DigestHasher.digest(of: data), size: 50)
        let writer = try BlobWriter(store: store, descriptor: descriptor)
        #expect(throws: ContentMismatch.size(digest: descriptor.digest, expected: 50, actual: 100)) {
            try writer.write(ByteBuffer(bytes: data))
        }
    }

    @Test func sha512BlobsAreVerifiedInTheirAlgorithm() throws {
        let store = try makeStore()
        let data = bytes(3000)
        let digest = DigestHasher.digest(of: data, algorithm: .sha512)
        let writer = try BlobWriter(store: store, descriptor: Descriptor(mediaType: MediaType.ociLayer, digest: digest,
                                                                         size: Int64(data.count)))
        try writer.write(ByteBuffer(bytes: data))
        try writer.commit()
        #expect(store.blobPath(digest).hasSuffix("/blobs/sha512/" + digest.hex))
        #expect(try store.readBlob(digest) == data)
    }

    @Test func restartDropsPartialBytes() throws {
        let store = try makeStore()
        let data = bytes(10_000)
        let descriptor = Descriptor(mediaType: MediaType.ociLayer, digest: DigestHasher.digest(of: data), size: Int64(data.count))
        let writer = try BlobWriter(store: store, descriptor: descriptor)
        try writer.write(ByteBuffer(bytes: data[0..<500]))
        try writer.restart()
        #expect(writer.offset == 0)
        try writer.write(ByteBuffer(bytes: data))
        try writer.commit()
        #expect(try store.readBlob(descriptor.digest) == data)
    }

    @Test func secondWriterWaitsThenFindsBlob() async throws {
        let store = try makeStore()
        let data = bytes(1 << 20)
        let descriptor = Descriptor(mediaType: MediaType.ociLayer, digest: DigestHasher.digest(of: data), size: Int64(data.count))
        let first = try BlobWriter(store: store, descriptor: descriptor)
        let opened = DispatchSemaphore(value: 0)
        let result = Mutex<Bool?>(nil)
        Thread.detachNewThread {
            let second = try? BlobWriter(store: store, descriptor: descriptor)
            result.withLock { $0 = second?.alreadyPresent }
            opened.signal()
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(result.withLock { $0 } == nil)  // still blocked on the lock
        try first.write(ByteBuffer(bytes: data))
        try first.commit()
        opened.wait()
        #expect(result.withLock { $0 } == true)
    }

    @Test func corruptBlobIsDetectedOnRead() throws {
        let store = try makeStore()
        let descriptor = try store.writeBlob(Array("{}".utf8), mediaType: MediaType.ociConfig)
        try Data("{x".utf8).write(to: URL(fileURLWithPath: store.blobPath(descriptor.digest)))
        #expect(throws: StoreError.self) { try store.readBlob(descriptor.digest) }
    }

    @Test func concurrentReferenceUpdatesAreAllKept() throws {
        let store = try makeStore()
        let manifest = try store.writeBlob(Array(#"{"schemaVersion":2,"config":{"mediaType":"a","digest":"sha256:\#(String(repeating: "0", count: 64))","size":0},"layers":[]}"#.utf8),
                                           mediaType: MediaType.ociManifest)
        DispatchQueue.concurrentPerform(iterations: 40) { i in
            let ref = try? ImageReference(parsing: "localhost/app:t\(i)")
            if let ref { try? store.setReference(ref, to: manifest) }
        }
        #expect(try store.images().count == 40)
        try store.removeReference(try ImageReference(parsing: "localhost/app:t3"))
        #expect(try store.images().count == 39)
        #expect(try store.resolve(try ImageReference(parsing: "localhost/app:t3")) == nil)
        #expect(try store.resolve(try ImageReference(parsing: "localhost/app:t4"))?.digest == manifest.digest)
    }

    @Test func garbageCollectionKeepsReachableAndWaitsForWriters() throws {
        let store = try makeStore()
        let config = try store.writeBlob(Array("{}".utf8), mediaType: MediaType.ociConfig)
        let layer = try store.writeBlob(bytes(1000), mediaType: MediaType.ociLayer)
        let orphan = try store.writeBlob(bytes(10, seed: 1), mediaType: MediaType.ociLayer)
        let manifest = ImageManifest(config: config, layers: [layer])
        let m = try store.writeBlob(Array(try JSONEncoder().encode(manifest)), mediaType: MediaType.ociManifest)
        try store.setReference(try ImageReference(parsing: "localhost/gc:1"), to: m)
        do {
            let lease = try store.writerLease()
            #expect(try store.collectGarbage() == nil)
            withExtendedLifetime(lease) {}
        }
        let result = try #require(try store.collectGarbage())
        #expect(result.removed == 1)
        #expect(!store.hasBlob(orphan.digest))
        #expect(store.hasBlob(layer.digest) && store.hasBlob(config.digest) && store.hasBlob(m.digest))
    }
}
