import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import RegistryCore
import ServerConfiguration
import ServiceLifecycle

/// The core registry a configuration describes: filesystem storage and SQLite metadata under
/// `storage.filesystem.rootdirectory`. Blocking: call at start-up.
public func makeRegistry(configuration: RegistryConfiguration, logger: Logger) throws -> Registry {
    try Registry.onFilesystem(root: configuration.storage.rootDirectory, settings: configuration.settings, logger: logger)
}

/// Builds the registry application for a configuration; `main` runs it, tests call it directly.
public func buildApplication(configuration: RegistryConfiguration, logger: Logger) async throws -> some ApplicationProtocol {
    for warning in configuration.warnings { logger.warning("\(warning)") }
    let authenticator = try await AuthenticatorFactory.make(configuration.authentication)
    let registry = try makeRegistry(configuration: configuration, logger: logger)
    let responder = RegistryResponder(endpoints: Endpoints(configuration: configuration, core: registry, authenticator: authenticator))
    let http1 = HTTPServerBuilder.http1(configuration: .init(additionalChannelHandlers: [ExpectContinueHandler()]))
    let server: HTTPServerBuilder
    if let tls = configuration.http.tls {
        server = try .tls(http1, tlsConfiguration: tls.makeServerConfiguration())
    } else {
        server = http1
    }
    var services: [any Service] = [DrainWatchdog(timeout: configuration.http.drainTimeout, logger: logger)]
    if !configuration.storage.readOnly {
        if configuration.storage.uploadPurging.enabled {
            services.append(UploadPurger(settings: configuration.storage.uploadPurging, registry: registry))
        }
        if configuration.garbageCollection.enabled {
            services.append(GarbageCollectionService(interval: configuration.garbageCollection.interval, registry: registry))
        }
    }
    let scheme = configuration.http.tls == nil ? "http" : "https"
    return Application(
        responder: responder,
        server: server,
        configuration: .init(address: .hostname(configuration.http.address.host, port: configuration.http.address.port), serverName: nil),
        services: services,
        onServerRunning: { channel in
            logger.info("listening", metadata: ["address": "\(scheme)://\(channel.localAddress?.description ?? "?")",
                                                "root": "\(configuration.storage.rootDirectory)"])
        },
        logger: logger)
}
