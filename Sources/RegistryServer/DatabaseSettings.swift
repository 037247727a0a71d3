import Foundation
import RegistryMetadata
import ServerConfiguration

/// `database`: the metadata in PostgreSQL, with GitLab's container registry's keys, so several
/// nodes can share it; without `enabled: true`, the metadata stays in embedded SQLite.
///
/// ```yaml
/// database:
///   enabled: true
///   host: 127.0.0.1
///   port: 5432
///   user: registry
///   password: ...
///   dbname: registry
///   sslmode: disable          # disable | require | verify-full
///   pool: {maxopen: 20, maxidle: 5, maxlifetime: 5m}
/// ```
enum DatabaseSettings {
    static let keys = ["enabled", "host", "port", "user", "password", "dbname", "sslmode", "pool.maxopen", "pool.maxidle",
                       "pool.maxlifetime", "sqlite.path"].map { "database.\($0)" }

    /// The PostgreSQL settings when `database.enabled`; nil (embedded SQLite) otherwise.
    static func read(from tree: inout ConfigurationTree) -> PostgresMetadataStore.Settings? {
        guard tree.bool("database.enabled", default: false) else { return nil }
        let host = tree.string("database.host") ?? "127.0.0.1"
        let port = tree.integer("database.port", default: 5432, in: 1...65535, expected: "a TCP port")
        guard let user = tree.string("database.user"), !user.isEmpty else {
            tree.problem("database.user: required when database.enabled is true")
            return nil
        }
        guard let name = tree.string("database.dbname"), !name.isEmpty else {
            tree.problem("database.dbname: required when database.enabled is true")
            return nil
        }
        var tls = PostgresMetadataStore.Settings.TLSMode.disable
        if let mode = tree.string("database.sslmode") {
            if let known = PostgresMetadataStore.Settings.TLSMode(rawValue: mode) {
                tls = known
            } else {
                tree.problem("database.sslmode: \"\(mode)\" is not one of disable, require, verify-full")
            }
        }
        let maxOpen = tree.integer("database.pool.maxopen", default: 16, in: 1...10_000, expected: "a count of at least 1")
        let maxIdle = tree.integer("database.pool.maxidle", default: 2, in: 0...10_000, expected: "a count")
        let lifetime = tree.duration("database.pool.maxlifetime", default: 0)
        return PostgresMetadataStore.Settings(
            host: host, port: port, user: user, password: tree.string("database.password"), database: name, tls: tls,
            maxOpenConnections: maxOpen, maxIdleConnections: min(maxIdle, maxOpen),
            maxConnectionLifetime: lifetime > 0 ? .milliseconds(Int64(lifetime * 1000)) : nil)
    }
}
