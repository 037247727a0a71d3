import Foundation
import OCI
import RegistryMetadata

/// What each recently read tag points at, so a manifest GET by tag, the hottest request of a
/// registry, needs no metadata read.
///
/// Entries live for at most `lifetime`; every change this process makes to a tag, a manifest or
/// (by a sweep) to anything drops the affected entries at once. Changes by another process on the
/// same metadata (`garbage-collect`, other nodes) are seen within `lifetime`.
///
/// `@unchecked Sendable`: `entries` is only touched under `lock`.
final class TagCache: @unchecked Sendable {
    private struct Key: Hashable {
        let repository: RepositoryName
        let tag: Tag
    }

    private let lock = NSLock()
    private var entries: [Key: (record: ManifestRecord, expires: ContinuousClock.Instant)] = [:]
    /// Counts removals: a read that started before one may not insert what it read.
    private var generation: UInt64 = 0
    private let lifetime: Duration
    private let capacity: Int

    init(lifetime: Duration = .seconds(1), capacity: Int = 50_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    subscript(tag: Tag, in repository: RepositoryName) -> ManifestRecord? {
        let key = Key(repository: repository, tag: tag)
        return lock.withLock {
            guard let entry = entries[key], entry.expires > .now else { return nil }
            return entry.record
        }
    }

    /// Taken before reading the metadata; passed to `insert`.
    var currentGeneration: UInt64 { lock.withLock { generation } }

    /// Remembers what a read found, unless something was removed since it began (it may be stale).
    func insert(_ record: ManifestRecord, for tag: Tag, in repository: RepositoryName, readAt readGeneration: UInt64) {
        let key = Key(repository: repository, tag: tag)
        lock.withLock {
            guard generation == readGeneration else { return }
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = (record, .now + lifetime)
        }
    }

    func remove(_ tag: Tag, in repository: RepositoryName) {
        lock.withLock {
            generation &+= 1
            entries.removeValue(forKey: Key(repository: repository, tag: tag))
        }
    }

    /// Drops every tag of the repository pointing at `digest` (the manifest was deleted).
    func remove(pointingAt digest: Digest, in repository: RepositoryName) {
        lock.withLock {
            generation &+= 1
            entries = entries.filter { !($0.key.repository == repository && $0.value.record.digest == digest) }
        }
    }

    func removeAll() {
        lock.withLock {
            generation &+= 1
            entries.removeAll(keepingCapacity: true)
        }
    }
}
