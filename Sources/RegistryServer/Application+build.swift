import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import RegistryCore
import ServiceLifecycle

/// The core registry a configuration describes: filesystem storage and SQLite metadata under
/// `storage.filesystem.rootdirectory`. Blocking: call at start-up.
public func makeRegistry(configuration: RegistryConfiguration, logger: Logger) throws -> Registry {
    try Registry.onFilesystem(root: configuration.rootDirectory, settings: configuration.settings, logger: logger)
}

/// Builds the registry application for a configuration; `main` runs it, tests call it directly.
public func buildApplication(configuration: RegistryConfiguration, logger: Logger) async throws -> some ApplicationProtocol {
    for warning in configuration.warnings { logger.warning("\(warning)") }
    let authenticator = try await AuthenticatorFactory.make(configuration.authentication)
    let registry = try makeRegistry(configuration: configuration, logger: logger)
    let responder = RegistryResponder(endpoints: Endpoints(configuration: configuration, core: registry, authenticator: authenticator))
    let http1 = HTTPServerBuilder.http1(configuration: .init(additionalChannelHandlers: [ExpectContinueHandler()]))
    let server: HTTPServerBuilder
    if let tls = configuration.tls {
        server = try .tls(http1, tlsConfiguration: makeTLSConfiguration(tls))
    } else {
        server = http1
    }
    var services: [any Service] = [DrainWatchdog(timeout: configuration.drainTimeout, logger: logger)]
    if !configuration.readOnly {
        if configuration.uploadPurging.enabled {
            services.append(UploadPurger(settings: configuration.uploadPurging, registry: registry))
        }
        if configuration.garbageCollection.enabled {
            services.append(GarbageCollectionService(interval: configuration.garbageCollection.interval, registry: registry))
        }
    }
    let scheme = configuration.tls == nil ? "http" : "https"
    return Application(
        responder: responder,
        server: server,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
        services: services,
        onServerRunning: { channel in
            logger.info("listening", metadata: ["address": "\(scheme)://\(channel.localAddress?.description ?? "?")",
                                                "root": "\(configuration.rootDirectory)"])
        },
        logger: logger)
}

/// TLS 1.2 at least (Hummingbird's default would accept 1.0); client certificates required and
/// checked against `clientcas` when configured (mutual TLS).
func makeTLSConfiguration(_ tls: RegistryConfiguration.TLS) throws -> TLSConfiguration {
    let chain = try NIOSSLCertificate.fromPEMFile(tls.certificate).map { NIOSSLCertificateSource.certificate($0) }
    let key = try NIOSSLPrivateKey(file: tls.key, format: .pem)
    var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
    configuration.minimumTLSVersion = tls.minimumVersion == "tls1.3" ? .tlsv13 : .tlsv12
    if !tls.clientCAs.isEmpty {
        let roots = try tls.clientCAs.flatMap { try NIOSSLCertificate.fromPEMFile($0) }
        configuration.trustRoots = .certificates(roots)
        configuration.certificateVerification = .noHostnameVerification
    }
    return configuration
}
