import Foundation
import Logging
import NIOCore
import OCI
import RegistryCore
import RegistryStorage
import Testing

/// Upload sessions through the core on a real filesystem driver and SQLite store, across a
/// restart (a new `Registry` on the same root: no hash state in memory).
@Suite struct RegistryUploadTests {
    let root = NSTemporaryDirectory() + "berth-core-\(UUID().uuidString)"
    let repository = try! RepositoryName("app")

    func registry() throws -> Registry {
        try Registry.onFilesystem(root: root, settings: RegistrySettings(), logger: Logger(label: "test"))
    }

    func body(_ text: String) -> Body { Body(chunks: [ByteBuffer(string: text)]) }

    @Test func aSessionStartedBeforeARestartFinishesWithoutAChunk() async throws {
        let session = try await registry().startUpload(in: repository)
        #expect(!FileManager.default.fileExists(atPath: "\(root)/\(StorageLayout.uploadData(session.id))"),
                "a session gets its file with its first bytes")
        let data = "whole blob in the closing PUT"
        let digest = DigestHasher.digest(of: Array(data.utf8))
        let restarted = try registry()
        try await restarted.finishUpload(session.id, in: repository, digest: digest, range: nil,
                                         contentLength: Int64(data.utf8.count), body: body(data))
        #expect(try await restarted.checkBlob(digest, in: repository) == Int64(data.utf8.count))
    }

    @Test func aChunkedSessionResumesAfterARestart() async throws {
        let first = try registry()
        let session = try await first.startUpload(in: repository)
        _ = try await first.appendUpload(session.id, in: repository, range: .init(first: 0, last: 5),
                                         contentLength: 6, body: body("hello "))
        let restarted = try registry()
        let resumed = try await restarted.upload(session.id, in: repository)
        #expect(resumed.size == 6)
        let digest = DigestHasher.digest(of: Array("hello world".utf8))
        await #expect(throws: DistributionError.self) {
            // A wrong digest cancels the session, as Distribution does.
            try await restarted.finishUpload(session.id, in: repository, digest: DigestHasher.digest(of: Array("x".utf8)),
                                             range: nil, contentLength: 5, body: body("world"))
        }
        let again = try await restarted.startUpload(in: repository)
        _ = try await restarted.appendUpload(again.id, in: repository, range: nil, contentLength: 6, body: body("hello "))
        try await registry().finishUpload(again.id, in: repository, digest: digest, range: nil, contentLength: 5,
                                          body: body("world"))
        #expect(try await restarted.checkBlob(digest, in: repository) == 11)
        await #expect(throws: DistributionError.self) { _ = try await restarted.upload(again.id, in: repository) }
    }

    @Test func aResumedSessionCarriesOnFromItsSavedDigestWithoutReadingItsBytes() async throws {
        let first = try registry()
        let session = try await first.startUpload(in: repository)
        _ = try await first.appendUpload(session.id, in: repository, range: nil, contentLength: 6, body: body("hello "))
        // Change the stored bytes behind the registry's back: only a digest carried on from the
        // saved state (not one rebuilt by reading the file) still matches the original content.
        try Data("HELLO ".utf8).write(to: URL(fileURLWithPath: "\(root)/\(StorageLayout.uploadData(session.id))"))
        let digest = DigestHasher.digest(of: Array("hello world".utf8))
        try await registry().finishUpload(session.id, in: repository, digest: digest, range: nil, contentLength: 5,
                                          body: body("world"))
        #expect(try await registry().checkBlob(digest, in: repository) == 11)
    }

    @Test func aSessionsSizeMovesOnlyFromWhereItsWriterFoundIt() async throws {
        let core = try registry()
        let session = try await core.startUpload(in: repository)
        let stale = try await core.upload(session.id, in: repository)
        _ = try await core.appendUpload(session.id, in: repository, range: nil, contentLength: 3, body: body("abc"))
        // The size moves only from where the writer found it: a second node's chunk at 0 loses.
        #expect(try await core.metadata.setUploadSize(session.id.value, from: stale.size, to: 3, digestState: nil) == false)
        #expect(try await core.upload(session.id, in: repository).size == 3)
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
