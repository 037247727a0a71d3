import Foundation
import Logging
import RegistryCore
import ServiceLifecycle

/// Removes upload sessions older than `storage.maintenance.uploadpurging.age`, every `interval`.
///
/// Also removes temp files of monolithic uploads that a crash left behind. Runs once at start-up,
/// as Distribution does, then on its interval until graceful shutdown.
struct UploadPurger: Service {
    let settings: StorageSettings.UploadPurging
    let registry: Registry

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await purge()
            do {
                try await cancelWhenGracefulShutdown {
                    try await Task.sleep(for: .seconds(settings.interval))
                }
            } catch {
                return
            }
        }
    }

    func purge() async {
        let cutoff = Int64(Date().timeIntervalSince1970 - settings.age)
        do {
            let purged = try await registry.purgeUploads(startedBefore: cutoff, dryRun: settings.dryRun)
            for upload in purged {
                registry.logger.info(settings.dryRun ? "would purge upload" : "purged upload",
                                     metadata: ["upload": "\(upload.id)", "repository": "\(upload.repository)"])
            }
        } catch {
            registry.logger.error("upload purge failed", metadata: ["error": "\(error)"])
        }
    }
}
