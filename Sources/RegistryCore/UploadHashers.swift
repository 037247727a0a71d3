import Foundation
import OCI
import RegistryStorage

/// The running digest of each open upload session, and which sessions a request is writing now.
///
/// Cached in memory at each session's acknowledged size so a chunk is hashed once; after a
/// restart (or on another node) the state saved with the session carries on instead.
///
/// `@unchecked Sendable`: `hashers` and `active` are only touched under `lock`.
final class UploadHashers: @unchecked Sendable {
    struct Checkpoint: Sendable {
        var size: Int64
        var hasher: DigestHasher
    }

    private let lock = NSLock()
    private var hashers: [UploadID: Checkpoint] = [:]
    private var active: Set<UploadID> = []

    /// Takes the session for one request; throws when another request is writing to it.
    func begin(_ id: UploadID) throws(DistributionError) -> Checkpoint? {
        lock.lock()
        defer { lock.unlock() }
        guard active.insert(id).inserted else {
            throw DistributionError(.blobUploadInvalid, "another request is writing to this upload", status: 416)
        }
        return hashers[id]
    }

    /// Releases the session, remembering its hash state when `checkpoint` is given.
    func end(_ id: UploadID, keeping checkpoint: Checkpoint?) {
        lock.withLock {
            hashers[id] = checkpoint
            active.remove(id)
        }
    }
}
