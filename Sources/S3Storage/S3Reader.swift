import AsyncHTTPClient
import NIOCore
import RegistryStorage
import S3

/// A `StorageReader` of one object: a single (ranged) `GetObject` whose body is passed on chunk
/// by chunk as it arrives, so memory stays flat whatever the object's size.
///
/// `@unchecked Sendable`: one consumer reads it, each call awaited before the next.
final class S3Reader: StorageReader, @unchecked Sendable {
    private let client: S3Client
    private let key: String
    let size: Int64
    private var range: Range<Int64>
    private var chunks: HTTPClientResponse.Body.AsyncIterator?
    private var started = false

    init(client: S3Client, key: String, size: Int64) {
        self.client = client
        self.key = key
        self.size = size
        self.range = 0..<size
    }

    func limit(to range: Range<Int64>) {
        let lower = max(0, range.lowerBound)
        self.range = lower..<max(lower, min(size, range.upperBound))
    }

    func next() async throws -> ByteBuffer? {
        if !started {
            started = true
            guard !range.isEmpty else { return nil }
            guard let object = try await client.getObject(key, range: range == 0..<size ? nil : range) else {
                throw StorageError.notFound(key)
            }
            chunks = object.chunks.makeAsyncIterator()
        }
        guard var iterator = chunks else { return nil }
        let chunk = try await iterator.next()
        chunks = chunk == nil ? nil : iterator
        return chunk
    }

    /// Dropping the body's iterator ends the request (its connection is not reused).
    func close() async {
        chunks = nil
    }
}
