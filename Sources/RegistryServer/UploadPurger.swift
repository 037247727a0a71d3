import Foundation
import Logging
import RegistryMetadata
import RegistryStorage
import ServiceLifecycle

/// Removes upload sessions older than `storage.maintenance.uploadpurging.age`, every `interval`.
///
/// Also removes temp files of monolithic uploads that a crash left behind. Runs once at start-up,
/// as Distribution does, then on its interval until graceful shutdown.
struct UploadPurger: Service {
    let settings: RegistryConfiguration.UploadPurging
    let metadata: any MetadataStore
    let uploads: UploadStore
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            purge()
            do {
                try await cancelWhenGracefulShutdown {
                    try await Task.sleep(for: .seconds(settings.interval))
                }
            } catch {
                return
            }
        }
    }

    func purge() {
        let cutoff = Int64(Date().timeIntervalSince1970 - settings.age)
        do {
            let stale = try metadata.uploads(startedBefore: cutoff)
            for upload in stale {
                guard let id = UploadID(upload.id) else { continue }
                if settings.dryRun {
                    logger.info("would purge upload", metadata: ["upload": "\(upload.id)", "repository": "\(upload.repository)"])
                    continue
                }
                try metadata.deleteUpload(upload.id)
                uploads.remove(id)
                logger.info("purged upload", metadata: ["upload": "\(upload.id)", "repository": "\(upload.repository)"])
            }
            for path in uploads.staleTemporaryFiles(olderThan: settings.age) where !settings.dryRun {
                uploads.removeFile(path)
            }
        } catch {
            logger.error("upload purge failed", metadata: ["error": "\(error)"])
        }
    }
}
