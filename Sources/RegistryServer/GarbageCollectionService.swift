import Foundation
import Logging
import RegistryCore
import ServiceLifecycle

/// Sweeps every `storage.maintenance.gc.interval`, while the registry serves; the first sweep
/// runs at start-up. A sweep that fails (or refuses, on a root Berth does not fully know) is
/// logged and tried again on the next interval.
struct GarbageCollectionService: Service {
    let interval: TimeInterval
    let registry: Registry

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                _ = try await registry.collectGarbage()
            } catch let refusal as MaintenanceError {
                registry.logger.warning("gc sweep skipped", metadata: ["reason": "\(refusal)"])
            } catch {
                registry.logger.error("gc sweep failed", metadata: ["error": "\(error)"])
            }
            do {
                try await cancelWhenGracefulShutdown {
                    try await Task.sleep(for: .seconds(interval))
                }
            } catch {
                return
            }
        }
    }
}
