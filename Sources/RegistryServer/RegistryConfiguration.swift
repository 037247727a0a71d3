import Foundation
import Logging
import RegistryCore

/// berth-registry's settings, read from the same `config.yml` CNCF Distribution reads.
///
/// Keys (Distribution's docs/configuration.md), with defaults:
/// - `version` (string, "0.1")
/// - `log.level` (error|warn|info|debug, info), `log.formatter` (text|json|logstash, text)
/// - `storage.filesystem.rootdirectory` (/var/lib/registry), `storage.delete.enabled` (false)
/// - `storage.maintenance.uploadpurging.{enabled (true), age (168h), interval (24h), dryrun (false)}`
/// - `storage.maintenance.readonly.enabled` (false)
/// - `http.addr` (:5000), `http.prefix` (/), `http.host` (none), `http.draintimeout` (10s)
/// - `http.tls.{certificate, key, clientcas[], minimumtls (tls1.2)}`, `http.headers` (name: [values])
/// - `auth.htpasswd.{realm, path}`, `auth.token.{realm, service, issuer, rootcertbundle, jwks}`
/// - Berth's own, where Distribution ignores them: `storage.maintenance.gc.{enabled (true),
///   interval (1h), delay (1h), untagged (false), dryrun (false)}`, `storage.maintenance.retention`
///   and the top-level `immutabletags` (see `RegistryConfiguration+Maintenance`)
/// Every key can be overridden by `REGISTRY_<PATH>` in the environment.
public struct RegistryConfiguration: Sendable {
    public struct TLS: Sendable {
        public var certificate: String
        public var key: String
        public var clientCAs: [String]
        /// "tls1.2" or "tls1.3"; older versions are raised to 1.2.
        public var minimumVersion: String
    }

    public struct UploadPurging: Sendable {
        public var enabled = true
        public var age: TimeInterval = 168 * 3600
        public var interval: TimeInterval = 24 * 3600
        public var dryRun = false
    }

    public enum Authentication: Sendable {
        case none
        case htpasswd(realm: String, path: String)
        case token(realm: String, service: String, issuer: String, rootCertBundle: String?, jwks: String?)
    }

    public var logLevel: Logger.Level = .info
    public var logFormatter = "text"
    public var rootDirectory = "/var/lib/registry"
    public var deleteEnabled = false
    public var readOnly = false
    public var uploadPurging = UploadPurging()
    public var host = "0.0.0.0"
    public var port = 5000
    public var prefix = "/"
    public var externalHost: String?
    public var tls: TLS?
    /// `http.draintimeout`: how long a graceful shutdown waits for running requests (default 10s).
    public var drainTimeout: TimeInterval = 10
    public var headers: [(String, [String])] = []
    public var authentication: Authentication = .none
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

    static let knownKeys: [String] = [
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
        "http.addr", "http.net", "http.prefix", "http.host", "http.secret", "http.relativeurls", "http.draintimeout",
        "http.tls.certificate", "http.tls.key", "http.tls.clientcas", "http.tls.minimumtls", "http.tls.ciphersuites",
        "http.headers", "http.debug.addr", "http.http2.disabled",
        "auth.htpasswd.realm", "auth.htpasswd.path",
        "auth.token.realm", "auth.token.service", "auth.token.issuer", "auth.token.rootcertbundle",
        "auth.token.jwks", "auth.token.autoredirect",
    ]

    /// Keys Distribution knows that berth accepts but does not act on.
    static let ignoredKeys: [String] = ["notifications", "redis", "health", "compatibility", "reporting",
                                        "log.hooks", "http.debug", "http.letsencrypt"]

    /// Parses YAML text with the environment's overrides; throws every problem with its key path.
    public static func parse(yaml: String, environment: [String: String], baseDirectory: String? = nil) throws -> RegistryConfiguration {
        var tree = try ConfigurationTree(yaml: yaml, environment: environment, knownKeys: knownKeys)
        var config = RegistryConfiguration()
        tree.warnAboutUnknownKeys(known: Set(knownKeys), opaque: ignoredKeys + ["http.headers", "log.fields", "storage.maintenance.retention.policies", "immutabletags",
                                                                   "validation.manifests.indexes.platformlist"])

        if let version = tree.string("version"), version != "0.1" {
            tree.problem("version: unsupported configuration version \"\(version)\" (expected 0.1)")
        }
        let level = tree.string("log.level", default: "info") ?? "info"
        switch level.lowercased() {
        case "error": config.logLevel = .error
        case "warn", "warning": config.logLevel = .warning
        case "info": config.logLevel = .info
        case "debug": config.logLevel = .debug
        default: tree.problem("log.level: expected error, warn, info or debug, got \"\(level)\"")
        }
        config.logFormatter = tree.string("log.formatter", default: "text") ?? "text"
        if !["text", "json", "logstash"].contains(config.logFormatter) {
            tree.problem("log.formatter: expected text or json, got \"\(config.logFormatter)\"")
        }

        // Storage: only the filesystem driver.
        if let storage = tree.value("storage") as? [String: Any] {
            let drivers = storage.keys.filter { !["filesystem", "delete", "maintenance", "cache", "redirect"].contains($0) }
            for driver in drivers.sorted() {
                tree.problem("storage.\(driver): unsupported storage driver (berth-registry stores blobs on the filesystem)")
            }
        }
        if let root = tree.string("storage.filesystem.rootdirectory") {
            config.rootDirectory = resolve(root, against: baseDirectory)
        }
        config.deleteEnabled = tree.bool("storage.delete.enabled", default: false)
        config.readOnly = tree.bool("storage.maintenance.readonly.enabled", default: false)
        config.uploadPurging.enabled = tree.bool("storage.maintenance.uploadpurging.enabled", default: true)
        config.uploadPurging.age = tree.duration("storage.maintenance.uploadpurging.age", default: 168 * 3600)
        config.uploadPurging.interval = tree.duration("storage.maintenance.uploadpurging.interval", default: 24 * 3600)
        config.uploadPurging.dryRun = tree.bool("storage.maintenance.uploadpurging.dryrun", default: false)
        if config.uploadPurging.enabled && config.uploadPurging.interval <= 0 {
            tree.problem("storage.maintenance.uploadpurging.interval: must be positive")
        }
        parseMaintenance(&tree, into: &config)
        parseValidation(&tree, into: &config)

        // HTTP.
        let addr = tree.string("http.addr", default: ":5000") ?? ":5000"
        if let (host, port) = parseAddress(addr) {
            config.host = host
            config.port = port
        } else {
            tree.problem("http.addr: expected host:port, got \"\(addr)\"")
        }
        config.drainTimeout = tree.duration("http.draintimeout", default: 10)
        if let net = tree.string("http.net"), net != "tcp" {
            tree.problem("http.net: only tcp is supported, got \"\(net)\"")
        }
        var prefix = tree.string("http.prefix", default: "/") ?? "/"
        if !prefix.hasPrefix("/") { prefix = "/" + prefix }
        if !prefix.hasSuffix("/") { prefix += "/" }
        config.prefix = prefix
        if let host = tree.string("http.host") {
            if URL(string: host)?.scheme == nil { tree.problem("http.host: expected an absolute URL such as https://registry.example.com") }
            config.externalHost = host.hasSuffix("/") ? String(host.dropLast()) : host
        }
        let certificate = tree.string("http.tls.certificate")
        let key = tree.string("http.tls.key")
        if certificate != nil || key != nil {
            guard let certificate, let key else {
                tree.problem("http.tls: certificate and key must be given together")
                return try finish(config, tree)
            }
            var minimum = (tree.string("http.tls.minimumtls", default: "tls1.2") ?? "tls1.2").lowercased()
            switch minimum {
            case "tls1.2", "tls1.3": break
            case "tls1.0", "tls1.1":
                tree.warn("http.tls.minimumtls: \(minimum) is insecure; using tls1.2")
                minimum = "tls1.2"
            default: tree.problem("http.tls.minimumtls: expected tls1.2 or tls1.3, got \"\(minimum)\"")
            }
            config.tls = TLS(certificate: resolve(certificate, against: baseDirectory), key: resolve(key, against: baseDirectory),
                             clientCAs: tree.strings("http.tls.clientcas").map { resolve($0, against: baseDirectory) },
                             minimumVersion: minimum)
            for path in [config.tls!.certificate, config.tls!.key] + config.tls!.clientCAs
            where !isReadableRegularFile(path) {
                tree.problem("http.tls: cannot read \(path)")
            }
        }
        if let headers = tree.value("http.headers") {
            if let map = headers as? [String: Any] {
                for (name, values) in map.sorted(by: { $0.key < $1.key }) {
                    if let list = values as? [Any] {
                        config.headers.append((name, list.map { "\($0)" }))
                    } else {
                        config.headers.append((name, ["\(values)"]))
                    }
                }
            } else {
                tree.problem("http.headers: expected a mapping of header names to lists of values")
            }
        }

        // Auth.
        if let auth = tree.value("auth") as? [String: Any] {
            let kinds = auth.keys.sorted()
            if kinds.count > 1 { tree.problem("auth: only one of htpasswd or token may be configured, got \(kinds.joined(separator: ", "))") }
            for kind in kinds where !["htpasswd", "token"].contains(kind) {
                tree.problem("auth.\(kind): unsupported access controller (use htpasswd or token)")
            }
            if auth["htpasswd"] != nil {
                let realm = tree.string("auth.htpasswd.realm") ?? "Registry Realm"
                if let path = tree.string("auth.htpasswd.path") {
                    let resolved = resolve(path, against: baseDirectory)
                    if !isReadableRegularFile(resolved) { tree.problem("auth.htpasswd.path: cannot read \(resolved) (not a readable file)") }
                    config.authentication = .htpasswd(realm: realm, path: resolved)
                } else {
                    tree.problem("auth.htpasswd.path: required")
                }
            } else if auth["token"] != nil {
                let realm = tree.string("auth.token.realm")
                let service = tree.string("auth.token.service")
                let issuer = tree.string("auth.token.issuer")
                let bundle = tree.string("auth.token.rootcertbundle").map { resolve($0, against: baseDirectory) }
                let jwks = tree.string("auth.token.jwks").map { resolve($0, against: baseDirectory) }
                if realm == nil { tree.problem("auth.token.realm: required") }
                if service == nil { tree.problem("auth.token.service: required") }
                if issuer == nil { tree.problem("auth.token.issuer: required") }
                if bundle == nil && jwks == nil { tree.problem("auth.token.rootcertbundle: required (or auth.token.jwks)") }
                for path in [bundle, jwks].compactMap({ $0 }) where !isReadableRegularFile(path) {
                    tree.problem("auth.token: cannot read \(path)")
                }
                if let realm, let service, let issuer {
                    config.authentication = .token(realm: realm, service: service, issuer: issuer, rootCertBundle: bundle, jwks: jwks)
                }
            }
        }
        if tree.contains("notifications") { tree.warn("notifications: not supported yet; ignored") }
        return try finish(config, tree)
    }

    private static func finish(_ config: RegistryConfiguration, _ tree: ConfigurationTree) throws -> RegistryConfiguration {
        guard tree.problems.isEmpty else { throw ConfigurationError(problems: tree.problems) }
        var config = config
        config.warnings = tree.warnings
        return config
    }

    /// Loads a file; relative paths in it resolve against the process's working directory, as in Distribution.
    public static func load(path: String, environment: [String: String]) throws -> RegistryConfiguration {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(problems: ["\(path): cannot read the configuration file"])
        }
        return try parse(yaml: text, environment: environment)
    }

    /// What `serve` will open: a readable file, not a directory (Debian's own config.yml names the
    /// directory /etc/docker/registry as its htpasswd path), so `verify-config` refuses what
    /// `serve` would fail on.
    static func isReadableRegularFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
            && FileManager.default.isReadableFile(atPath: path)
    }

    static func resolve(_ path: String, against base: String?) -> String {
        guard let base, !path.hasPrefix("/") else { return path }
        return "\(base)/\(path)"
    }

    /// `host:port`, `:port` (all interfaces) or `[v6]:port`.
    static func parseAddress(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }
}
