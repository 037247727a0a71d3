import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import Prometheus
import RegistryCore
import RegistryMetadata
import RegistryStorage
import S3
import S3Storage
import ServerConfiguration
import ServiceLifecycle

/// The core registry a configuration describes: blobs on the filesystem or in S3, metadata in
/// embedded SQLite or in PostgreSQL (`database.enabled`, its schema migrated). Call at start-up.
public func makeRegistry(configuration: RegistryConfiguration, logger: Logger) async throws -> Registry {
    let outbox = configuration.notifications.endpoints.isEmpty
        ? nil : EventOutbox(includeReferences: configuration.notifications.includeReferences)
    let storage = configuration.storage
    let driver: any StorageDriver
    let driverName: String
    if let s3 = storage.s3 {
        let client = S3Client(configuration: s3.configuration, http: S3StorageSettings.httpClient, logger: logger)
        (driver, driverName) = (S3Driver(client: client, settings: s3.driver), "s3")
    } else {
        (driver, driverName) = (FilesystemDriver(root: storage.rootDirectory), "filesystem")
    }
    let metadata: any MetadataStore
    if let postgres = configuration.postgres {
        do {
            metadata = try await PostgresMetadataStore.open(settings: postgres, logger: logger)
        } catch {
            throw ConfigurationError(problems: ["database: cannot use PostgreSQL database \(postgres.database) at "
                                                + "\(postgres.host):\(postgres.port): \(String(reflecting: error))"])
        }
    } else {
        metadata = try Registry.openSQLite(at: storage.sqlitePath ?? Registry.defaultDatabase(root: storage.rootDirectory))
    }
    return Registry(on: driver, named: driverName, metadata: metadata, settings: configuration.settings, logger: logger,
                    outbox: outbox)
}

/// Builds the registry application for a configuration; `main` runs it, tests call it directly.
/// `metrics` is the Prometheus registry swift-metrics reports to (`MetricsBootstrap`), served on
/// the debug listener; nil: no metrics are kept.
public func buildApplication(configuration: RegistryConfiguration, logger: Logger,
                             metrics: PrometheusCollectorRegistry? = nil) async throws -> some ApplicationProtocol {
    for warning in configuration.warnings { logger.warning("\(warning)") }
    let authenticator = try await AuthenticatorFactory.make(configuration.authentication)
    let registry = try await makeRegistry(configuration: configuration, logger: logger)
    if let s3 = configuration.storage.s3 {
        // Wrong credentials or a missing bucket stop start-up with S3's own error, not the first push.
        do {
            _ = try await registry.storage.list(StorageLayout.berthDirectory)
        } catch {
            throw ConfigurationError(problems: ["storage.s3: cannot use bucket \(s3.configuration.bucket) at "
                                                + "\(s3.configuration.endpoint): \(error)"])
        }
    }
    let health = HealthMonitor(settings: configuration.health, storage: configuration.storage.s3 == nil
                                   ? .filesystem(root: configuration.storage.rootDirectory) : .driver(registry.storage, name: "s3"),
                               readOnly: configuration.storage.readOnly, logger: logger)
    let accessLog = configuration.log.accessLog ? AccessLog(json: configuration.log.formatter != "text") : nil
    let serveMetrics = metrics != nil && configuration.debug.prometheusEnabled && configuration.debug.address != nil
    let httpMetrics = serveMetrics ? HTTPMetrics() : nil
    let recorder = httpMetrics == nil && accessLog == nil ? nil : RequestRecorder(metrics: httpMetrics, accessLog: accessLog)
    let responder = RegistryResponder(
        endpoints: Endpoints(configuration: configuration, core: registry, authenticator: authenticator),
        health: configuration.health.isEmpty ? nil : health,
        recorder: recorder)
    let http1 = HTTP1Channel.Configuration(additionalChannelHandlers: [ExpectContinueHandler()])
    let server: HTTPServerBuilder
    if let tls = configuration.http.tls {
        server = try .tls(.http1(configuration: http1), tlsConfiguration: tls.makeServerConfiguration())
    } else if configuration.http.sendfile {
        server = HTTPServerBuilder { responder in SendfileHTTP1Channel(base: HTTP1Channel(responder: responder, configuration: http1)) }
    } else {
        server = .http1(configuration: http1)
    }
    var services: [any Service] = [DrainWatchdog(timeout: configuration.http.drainTimeout, logger: logger)]
    if let recorder { services.append(recorder) }
    if !configuration.health.isEmpty { services.append(health) }
    if configuration.notifications.endpoints.isEmpty {
        // Notifications switched off: an outbox left from before no longer waits for anyone.
        _ = try await registry.metadata.prepareEventCursors([])
    } else {
        let host = ProcessInfo.processInfo.hostName
        let envelope = EventEnvelope(externalHost: configuration.http.externalHost,
                                     scheme: configuration.http.tls == nil ? "http" : "https",
                                     sourceAddress: "\(host):\(configuration.http.address.port)",
                                     instanceID: UUID().uuidString.lowercased())
        services.append(try await NotificationService(settings: configuration.notifications, registry: registry,
                                                      envelope: envelope, logger: logger))
    }
    if let address = configuration.debug.address {
        services.append(DebugServer.make(settings: configuration.debug, address: address, health: health,
                                         metrics: serveMetrics ? metrics : nil, recorder: recorder, logger: logger))
    }
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
