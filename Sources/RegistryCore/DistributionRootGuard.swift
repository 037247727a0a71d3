import RegistryMetadata
import RegistryStorage

/// Keeps garbage collection away from content Berth does not know: a Distribution
/// `repositories/` tree never imported, or changed since (a Distribution may still be writing to
/// the same root). Sweeping such a root would delete that registry's blobs.
enum DistributionRootGuard {
    /// The setting holding when the last `import` started (seconds since 1970).
    static let importStartedKey = "distribution_import_started_at"

    static func check(storage: any StorageDriver, metadata: any MetadataStore) async throws {
        let root = StorageLayout.repositoriesRoot
        guard !(try await storage.list(root)).isEmpty else { return }
        guard let text = try await metadata.setting(importStartedKey), let importedAt = Int64(text) else {
            throw MaintenanceError("""
                the storage root holds a Distribution repositories tree that was never imported; \
                run `berth-registry import` on it first (a sweep now would delete that registry's blobs)
                """)
        }
        if let changed = try await newestLink(under: root, storage: storage), changed >= importedAt {
            throw MaintenanceError("""
                the Distribution repositories tree changed after the last import; \
                stop the Distribution writing there and run `berth-registry import` again
                """)
        }
    }

    /// The modification time of the newest `link` file under `directory`.
    private static func newestLink(under directory: String, storage: any StorageDriver) async throws -> Int64? {
        var newest: Int64?
        var pending = [directory]
        while let current = pending.popLast() {
            for name in try await storage.list(current) {
                let path = "\(current)/\(name)"
                if name == "link", let info = try await storage.stat(path) {
                    newest = max(newest ?? info.modified, info.modified)
                } else if name != "link" {
                    pending.append(path)
                }
            }
        }
        return newest
    }
}
