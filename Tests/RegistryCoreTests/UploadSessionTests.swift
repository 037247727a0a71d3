import OCI
import RegistryCore
import RegistryStorage
import Testing

@Suite struct UploadSessionTests {
    let repository = try! RepositoryName("app")

    @Test func chunksMustStartWhereTheSessionEnds() throws {
        var session = UploadSession(id: UploadID.random(), repository: repository, startedAt: 0)
        #expect(try session.expectChunk(range: .init(first: 0, last: 4), contentLength: 5) == 5)
        session.acknowledge(5)
        #expect(session.size == 5)
        #expect(throws: DistributionError.self) { try session.expectChunk(range: .init(first: 3, last: 9), contentLength: nil) }
        #expect(throws: DistributionError.self) { try session.expectChunk(range: .init(first: 5, last: 9), contentLength: 4) }
        #expect(try session.expectChunk(range: nil, contentLength: 7) == 7)
        #expect(try session.expectChunk(range: nil, contentLength: nil) == nil)
    }

    @Test func aClosedSessionTakesNoChunks() throws {
        var session = UploadSession(id: UploadID.random(), repository: repository, startedAt: 0)
        session.complete(as: DigestHasher.digest(of: Array("x".utf8)))
        #expect(throws: DistributionError.self) { try session.expectChunk(range: nil, contentLength: 1) }
        var cancelled = UploadSession(id: UploadID.random(), repository: repository, startedAt: 0)
        cancelled.cancel()
        #expect(cancelled.state == .cancelled)
    }
}
