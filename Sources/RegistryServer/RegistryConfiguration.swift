import Foundation
import Logging
import RegistryCore
import RegistryMetadata
import ServerConfiguration

/// berth-registry's settings, read from the same `config.yml` CNCF Distribution reads
/// (Distribution's docs/configuration.md names the keys).
///
/// One typed section per part of the file: `LogSettings` (`log`), `StorageSettings` (`storage`),
/// `HTTPSettings` (`http`, with `TLSSettings` for `http.tls`), `RegistryAuthentication` (`auth`),
/// and Berth's own keys where Distribution ignores them: garbage collection, retention and
/// immutable tags (`RegistryConfiguration+Maintenance`) and Distribution 3's `validation`
/// (`RegistryConfiguration+Validation`). Each section reads its keys from the `ConfigurationTree`
/// with its properties' initial values as the defaults, so a default is written once.
/// Every key can be overridden by `REGISTRY_<PATH>` in the environment.
public struct RegistryConfiguration: Sendable {
    public var log = LogSettings()
    public var storage = StorageSettings()
    /// `database` (GitLab's keys): the metadata in PostgreSQL; nil: embedded SQLite.
    public var postgres: PostgresMetadataStore.Settings?
    public var http = HTTPSettings()
    public var debug = DebugSettings()
    public var health = HealthSettings()
    public var notifications = NotificationSettings()
    public var authentication = RegistryAuthentication.none
    public var garbageCollection = GarbageCollectionSettings()
    public var retention = RetentionSettings()
    public var immutableTags: [ImmutableTagRule] = []
    public var validation = ManifestValidation()
    /// Non-fatal remarks (unknown keys, ignored settings) to log at start-up.
    public var warnings: [String] = []

    public init() {}

    /// The configuration `berth-registry serve` uses without a file: filesystem + SQLite under
    /// `./data`, listening on 127.0.0.1:5000.
    public static let embeddedDefault = """
        version: 0.1
        log:
          level: info
        storage:
          filesystem:
            rootdirectory: ./data
          delete:
            enabled: false
        http:
          addr: 127.0.0.1:5000
        """

    static let knownKeys: [String] = S3StorageSettings.keys + DatabaseSettings.keys + [
        "version", "log.level", "log.formatter", "log.accesslog.disabled", "log.fields",
        "storage.filesystem.rootdirectory", "storage.filesystem.maxthreads", "storage.delete.enabled",
        "storage.maintenance.uploadpurging.enabled", "storage.maintenance.uploadpurging.age",
        "storage.maintenance.uploadpurging.interval", "storage.maintenance.uploadpurging.dryrun",
        "storage.maintenance.readonly.enabled",
        "storage.maintenance.gc.enabled", "storage.maintenance.gc.interval", "storage.maintenance.gc.delay",
        "storage.maintenance.gc.untagged", "storage.maintenance.gc.dryrun",
        "storage.maintenance.retention.dryrun", "storage.maintenance.retention.policies", "immutabletags",
        "validation.enabled", "validation.disabled", "validation.manifests.urls.allow", "validation.manifests.urls.deny",
        "validation.manifests.indexes.platforms", "validation.manifests.indexes.platformlist",
        "storage.cache.blobdescriptor", "storage.redirect.disable",
        "http.addr", "http.net", "http.prefix", "http.host", "http.secret", "http.relativeurls", "http.draintimeout", "http.sendfile",
        "http.tls.certificate", "http.tls.key", "http.tls.clientcas", "http.tls.minimumtls", "http.tls.ciphersuites",
        "http.headers", "http.debug.addr", "http.debug.prometheus.enabled", "http.debug.prometheus.path",
        "http.http2.disabled",
        "health.storagedriver.enabled", "health.storagedriver.interval", "health.storagedriver.threshold",
        "health.file", "health.http", "health.tcp",
        "notifications.events.includereferences", "notifications.endpoints",
        "auth.htpasswd.realm", "auth.htpasswd.path",
        "auth.token.realm", "auth.token.service", "auth.token.issuer", "auth.token.rootcertbundle",
        "auth.token.jwks", "auth.token.autoredirect",
    ]

    /// Keys Distribution knows that berth accepts but does not act on.
    static let ignoredKeys: [String] = ["redis", "compatibility", "reporting", "log.hooks", "http.letsencrypt"]

    /// Parses YAML text with the environment's overrides; throws every problem with its key path.
    public static func parse(yaml: String, environment: [String: String], baseDirectory: String? = nil) throws -> RegistryConfiguration {
        var tree = try ConfigurationTree(yaml: yaml, environment: environment, knownKeys: knownKeys, prefix: "REGISTRY_",
                                         baseDirectory: baseDirectory)
        var config = RegistryConfiguration()
        tree.warnAboutUnknownKeys(known: Set(knownKeys), opaque: ignoredKeys + [
            "http.headers", "log.fields", "storage.maintenance.retention.policies", "immutabletags",
            "validation.manifests.indexes.platformlist", "health.file", "health.http", "health.tcp",
            "notifications.endpoints"])

        if let version = tree.string("version"), version != "0.1" {
            tree.problem("version: unsupported configuration version \"\(version)\" (expected 0.1)")
        }
        config.log = LogSettings.read(from: &tree)
        config.postgres = DatabaseSettings.read(from: &tree)
        config.storage = StorageSettings.read(from: &tree, metadataInPostgres: config.postgres != nil)
        parseMaintenance(&tree, into: &config)
        parseValidation(&tree, into: &config)
        config.http = HTTPSettings.read(from: &tree)
        config.debug = DebugSettings.read(from: &tree)
        config.health = HealthSettings.read(from: &tree)
        config.notifications = NotificationSettings.read(from: &tree)
        config.authentication = RegistryAuthentication.read(from: &tree)
        config.warnings = try tree.finish()
        return config
    }

    /// Loads a file; relative paths in it resolve against the process's working directory, as in Distribution.
    public static func load(path: String, environment: [String: String]) throws -> RegistryConfiguration {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(problems: ["\(path): cannot read the configuration file"])
        }
        return try parse(yaml: text, environment: environment)
    }
}
