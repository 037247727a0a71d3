import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// Bounds a graceful shutdown by `http.draintimeout`.
///
/// On SIGTERM the server stops accepting and lets requests finish, but a client that stalled in
/// the middle of a body would hold it forever. After the drain timeout the process exits anyway:
/// that is safe, because nothing is committed before it is complete (an interrupted upload keeps
/// what was acknowledged, as after a crash).
struct DrainWatchdog: Service {
    let timeout: TimeInterval
    let logger: Logger

    func run() async throws {
        // Listens to the signals itself: the service group shuts the HTTP server down first and
        // tells this service only once the server has finished, which is what may never happen.
        // When it does finish in time, that graceful shutdown cancels the wait below.
        try? await cancelWhenGracefulShutdown {
            let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
            var iterator = signals.makeAsyncIterator()
            guard await iterator.next() != nil else { return }  // nil: cancelled
            try await Task.sleep(for: .seconds(timeout))
            logger.warning("requests still running after http.draintimeout; exiting",
                           metadata: ["timeout": "\(timeout)s"])
            exit(0)
        }
    }
}
