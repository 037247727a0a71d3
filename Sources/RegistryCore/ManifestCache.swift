import Foundation
import NIOCore
import OCI

/// Manifest bytes by digest, kept in memory so a manifest GET reads no file.
///
/// Content under a digest never changes, so entries need no invalidation; whether a repository
/// still holds the manifest is always asked of the metadata store. Bounded by total bytes: when
/// full, it is emptied (manifests are small and re-read cheaply).
///
/// `@unchecked Sendable`: `entries` and `bytes` are only touched under `lock`.
final class ManifestCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [Digest: ByteBuffer] = [:]
    private var bytes = 0
    private let capacity: Int

    init(capacity: Int = 64 << 20) {
        self.capacity = capacity
    }

    subscript(digest: Digest) -> ByteBuffer? {
        lock.withLock { entries[digest] }
    }

    func insert(_ buffer: ByteBuffer, for digest: Digest) {
        lock.withLock {
            if bytes + buffer.readableBytes > capacity {
                entries.removeAll(keepingCapacity: true)
                bytes = 0
            }
            if entries.updateValue(buffer, forKey: digest) == nil { bytes += buffer.readableBytes }
        }
    }
}
