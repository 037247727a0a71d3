import OCI
import RegistryMetadata
import RegistryStorage

/// One resumable blob upload as a state machine of values: what a request may do to it next.
///
/// Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-blobs
/// A session receives chunks in order, each starting exactly where the acknowledged bytes end;
/// it ends completed (as a blob) or cancelled. The acknowledged size is what the metadata store
/// persists; bytes of a chunk count only once the chunk arrived whole.
public struct UploadSession: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case receiving
        case completed(Digest)
        case cancelled
    }

    /// The byte range a chunk claims (`Content-Range: <first>-<last>`, both inclusive).
    public struct ChunkRange: Sendable, Equatable {
        public var first: Int64
        public var last: Int64

        public init(first: Int64, last: Int64) {
            self.first = first
            self.last = last
        }
    }

    public let id: UploadID
    public let repository: RepositoryName
    public private(set) var size: Int64
    public let startedAt: Int64
    public private(set) var state: State = .receiving
    /// The running digest of the first `size` bytes as saved with the session, when known.
    public private(set) var digestState: [UInt8]?

    public init(id: UploadID, repository: RepositoryName, size: Int64 = 0, startedAt: Int64) {
        self.id = id
        self.repository = repository
        self.size = size
        self.startedAt = startedAt
    }

    init?(_ record: UploadRecord) {
        guard let id = UploadID(record.id) else { return nil }
        self.init(id: id, repository: record.repository, size: record.size, startedAt: record.createdAt)
        digestState = record.digestState
    }

    var record: UploadRecord {
        UploadRecord(id: id.value, repository: repository, size: size, createdAt: startedAt)
    }

    /// Checks a chunk's claimed range and length against the session; returns the number of bytes
    /// it must carry (nil: as many as arrive). A chunk must start where the session ends (416).
    public func expectChunk(range: ChunkRange?, contentLength: Int64?) throws(DistributionError) -> Int64? {
        guard state == .receiving else {
            throw DistributionError(.blobUploadUnknown, "upload \(id) is no longer open")
        }
        guard let range else { return contentLength }
        guard range.first >= 0, range.last >= range.first else {
            throw DistributionError(.blobUploadInvalid, "malformed Content-Range \(range.first)-\(range.last)", status: 416)
        }
        guard range.first == size else {
            throw DistributionError(.blobUploadInvalid, "chunk starts at \(range.first) but the upload has \(size) bytes", status: 416)
        }
        let length = range.last - range.first + 1
        if let contentLength, contentLength != length {
            throw DistributionError(.blobUploadInvalid, "Content-Range covers \(length) bytes but Content-Length is \(contentLength)",
                                    status: 416)
        }
        return length
    }

    /// A chunk of `count` bytes arrived whole; `digestState` is the digest's state after it.
    public mutating func acknowledge(_ count: Int64, digestState: [UInt8]? = nil) {
        precondition(state == .receiving, "acknowledged a chunk of a closed upload")
        size += count
        self.digestState = digestState
    }

    public mutating func complete(as digest: Digest) {
        state = .completed(digest)
    }

    public mutating func cancel() {
        state = .cancelled
    }
}
