import NIOCore
import RegistryStorage
import S3

/// A `StorageWriter` of a new object: up to one part's worth is sent with one `PutObject` on
/// commit; past that the bytes go as a multipart upload whose parts leave as they fill, and the
/// object appears, whole, only when `commit` completes it. Memory: one part.
///
/// `@unchecked Sendable`: one caller uses a writer at a time, each call awaited before the next.
final class S3ObjectWriter: StorageWriter, @unchecked Sendable {
    private let client: S3Client
    private let key: String
    private let partSize: Int
    private var pending = ByteBuffer()
    private var uploadID: String?
    private var parts: [S3Part] = []

    init(client: S3Client, key: String, partSize: Int) {
        self.client = client
        self.key = key
        self.partSize = max(partSize, S3Client.minimumPartSize)
    }

    func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        pending.writeBuffer(&buffer)
        while pending.readableBytes >= partSize {
            try await sendPart(pending.readSlice(length: partSize)!)
            pending.discardReadBytes()
        }
    }

    func commit() async throws {
        guard let uploadID else { return try await client.putObject(key, bytes: pending) }
        if pending.readableBytes > 0 { try await sendPart(pending) }
        try await client.completeMultipartUpload(key, uploadID: uploadID, parts: parts)
    }

    func cancel() async {
        if let uploadID { try? await client.abortMultipartUpload(key, uploadID: uploadID) }
        pending.clear()
    }

    private func sendPart(_ bytes: ByteBuffer) async throws {
        let id: String
        if let uploadID {
            id = uploadID
        } else {
            id = try await client.createMultipartUpload(key)
            uploadID = id
        }
        parts.append(try await client.uploadPart(key, uploadID: id, number: parts.count + 1, bytes: bytes))
    }
}
