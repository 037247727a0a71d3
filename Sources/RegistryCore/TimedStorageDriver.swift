import Metrics
import RegistryStorage

/// A storage driver that times each of its calls into `registry_storage_action_seconds{driver,
/// action}`, as Distribution's storage metrics do. Opening a reader or a writer is timed, the
/// bytes that flow through them are not (the HTTP metrics have those).
struct TimedStorageDriver: StorageDriver {
    let base: any StorageDriver
    /// One timer per action, made once (the metrics factory looks them up under a lock).
    private let timers: [String: Metrics.Timer]

    init(_ base: any StorageDriver, driverName: String) {
        self.base = base
        var timers: [String: Metrics.Timer] = [:]
        for action in ["Stat", "Reader", "GetContent", "Writer", "Move", "Delete", "List", "URLFor"] {
            timers[action] = Metrics.Timer(label: "registry_storage_action_seconds",
                                           dimensions: [("action", action), ("driver", driverName)])
        }
        self.timers = timers
    }

    private func timed<T>(_ action: String, _ body: () async throws -> T) async rethrows -> T {
        let start = ContinuousClock.now
        defer {
            let elapsed = (ContinuousClock.now - start).components
            timers[action]?.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
        }
        return try await body()
    }

    func stat(_ path: String) async throws -> StorageFileInfo? { try await timed("Stat") { try await base.stat(path) } }
    func open(_ path: String) async throws -> (any StorageReader)? { try await timed("Reader") { try await base.open(path) } }
    func readAll(_ path: String, limit: Int) async throws -> [UInt8]? {
        try await timed("GetContent") { try await base.readAll(path, limit: limit) }
    }
    func writer(_ path: String, appendingAt offset: Int64?) async throws -> any StorageWriter {
        try await timed("Writer") { try await base.writer(path, appendingAt: offset) }
    }
    func move(_ source: String, to destination: String) async throws {
        try await timed("Move") { try await base.move(source, to: destination) }
    }
    func delete(_ paths: [String]) async throws { try await timed("Delete") { try await base.delete(paths) } }
    func list(_ directory: String) async throws -> [String] { try await timed("List") { try await base.list(directory) } }
    func redirectURL(_ path: String) async throws -> String? {
        try await timed("URLFor") { try await base.redirectURL(path) }
    }
    func purgeAbandonedWrites(startedBefore cutoff: Int64) async throws {
        try await base.purgeAbandonedWrites(startedBefore: cutoff)
    }
}
