import ArgumentParser
import ContainerEngine
import Foundation
import ImageStore
import ImageTransfer
import OCI
import RegistryClient

/// Runs an engine command: opens the store and the engine, reconciles containers whose
/// supervisor died, and reports errors as docker does: `run` and `exec` exit 125 for the
/// engine's own errors (`failureStatus`), other commands 1.
func withEngineContext<T: Sendable>(
    _ security: TransportSecurity = TransportSecurity(),
    failureStatus: Int32 = 1,
    _ body: @Sendable (EngineCommandContext, ContainerEngine) async throws -> T
) async throws -> T {
    do {
        let engine = try ContainerEngine(store: ImageStore(root: ImageStore.defaultRoot()))
        engine.reconcile()
        return try await body(EngineCommandContext(security: security), engine)
    } catch let error as ExitCode {
        throw error
    } catch let error as ExecFailure {
        Terminal.error(error.message)
        throw ExitCode(error.status)
    } catch {
        Terminal.error("\(error)")
        throw ExitCode(failureStatus)
    }
}

/// What engine commands need beyond the engine: pulling an image that is not stored yet.
struct EngineCommandContext: Sendable {
    let security: TransportSecurity

    /// The stored image `reference`, pulled for this machine's platform first if missing.
    func localImage(_ reference: ImageReference, pullingWith store: ImageStore) async throws -> Descriptor {
        if let descriptor = try store.resolve(reference) { return descriptor }
        let platform = Platform.current
        let http = RegistryClient.makeHTTPClient()
        do {
            let config = DockerConfig.fromEnvironment()
            let client = try RegistryClient(host: reference.host, http: http, security: security,
                                            credentials: try config.credentials(for: reference.host))
            Terminal.info("Unable to find image '\(reference)' locally")
            let descriptor = try await ImagePuller(client: client, store: store, jobs: 4,
                                                   progress: ProgressDisplay(quiet: false, resultsToStandardError: true)).pull(reference, platform: platform)
            try? await http.shutdown()
            return descriptor
        } catch {
            try? await http.shutdown()
            throw error
        }
    }
}
