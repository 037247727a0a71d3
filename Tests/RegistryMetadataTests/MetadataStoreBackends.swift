import Foundation
import PostgresNIO
import RegistryMetadata
import Testing

/// The metadata stores the shared suites run against.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    var testDescription: String { rawValue }
}

/// Where the test PostgreSQL server is: the file `BERTH_TEST_POSTGRES_ENV` names (written by
/// scripts/postgres-server.sh: PG_HOST, PG_PORT, PG_USER, PG_PASSWORD, PG_DATABASE).
struct TestPostgres: Sendable {
    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    let host: String
    let port: Int
    let user: String
    let password: String
    let database: String

    static func fromEnvironment() throws -> TestPostgres {
        guard let path = ProcessInfo.processInfo.environment["BERTH_TEST_POSTGRES_ENV"], !path.isEmpty else {
            throw Missing(description: """
                BERTH_TEST_POSTGRES_ENV is not set: the PostgreSQL metadata tests need a server. Start one with \
                `scripts/postgres-server.sh start DIR PORT` and set BERTH_TEST_POSTGRES_ENV=DIR/env (scripts/test.sh does both)
                """)
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Missing(description: "BERTH_TEST_POSTGRES_ENV=\(path): cannot read the file")
        }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        guard let host = values["PG_HOST"], let port = values["PG_PORT"].flatMap(Int.init), let user = values["PG_USER"],
              let password = values["PG_PASSWORD"], let database = values["PG_DATABASE"] else {
            throw Missing(description: "BERTH_TEST_POSTGRES_ENV=\(path): PG_HOST, PG_PORT, PG_USER, PG_PASSWORD or PG_DATABASE missing")
        }
        return TestPostgres(host: host, port: port, user: user, password: password, database: database)
    }

    func settings(database: String, maxConnectionLifetime: Duration? = nil) -> PostgresMetadataStore.Settings {
        PostgresMetadataStore.Settings(host: host, port: port, user: user, password: password, database: database,
                                       maxOpenConnections: 8, maxIdleConnections: 1, maxConnectionLifetime: maxConnectionLifetime)
    }

    /// One connection to `database` (the server's own by default), closed after `body`.
    func withConnection<T: Sendable>(to database: String? = nil, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password,
                                                             database: database ?? self.database, tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1,
                                                              logger: Logger(label: "berth.tests.postgres"))
        do {
            let value = try await body(connection)
            try? await connection.close()
            return value
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// A fresh database for one test, dropped after it (whatever `body` did).
    func withDatabase<T: Sendable>(_ body: (String) async throws -> T) async throws -> T {
        let name = "test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let logger = Logger(label: "berth.tests.postgres")
        // A name made here, not a value: identifiers cannot be bound.
        try await withConnection { try await $0.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger) }
        do {
            let value = try await body(name)
            try await withConnection { try await $0.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(name) WITH (FORCE)"), logger: logger) }
            return value
        } catch {
            _ = try? await withConnection { try await $0.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(name) WITH (FORCE)"), logger: logger) }
            throw error
        }
    }
}

/// Runs `body` with a fresh, empty store of `backend`, and cleans it up after.
func withStore<T: Sendable>(_ backend: Backend, _ body: (any MetadataStore) async throws -> T) async throws -> T {
    switch backend {
    case .sqlite:
        let path = NSTemporaryDirectory() + "berth-meta-\(UUID().uuidString).sqlite"
        defer {
            for suffix in ["", "-wal", "-shm", ".locks"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        return try await body(try SQLiteMetadataStore(path: path))
    case .postgres:
        let server = try TestPostgres.fromEnvironment()
        return try await server.withDatabase { database in
            let store = try await PostgresMetadataStore.open(settings: server.settings(database: database))
            do {
                let value = try await body(store)
                await store.shutdown()
                return value
            } catch {
                await store.shutdown()
                throw error
            }
        }
    }
}

/// Runs `body` with two stores of `backend` on one fresh database, as two nodes share it, and
/// cleans up after; `body`'s third argument shuts the second store down (a node going away).
func withTwoStores<T: Sendable>(_ backend: Backend,
                                _ body: (any MetadataStore, any MetadataStore, () async -> Void) async throws -> T) async throws -> T {
    switch backend {
    case .sqlite:
        let path = NSTemporaryDirectory() + "berth-meta-\(UUID().uuidString).sqlite"
        defer {
            for suffix in ["", "-wal", "-shm", ".locks"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        return try await body(try SQLiteMetadataStore(path: path), try SQLiteMetadataStore(path: path), {})
    case .postgres:
        let server = try TestPostgres.fromEnvironment()
        return try await server.withDatabase { database in
            let one = try await PostgresMetadataStore.open(settings: server.settings(database: database))
            let two = try await PostgresMetadataStore.open(settings: server.settings(database: database))
            do {
                let value = try await body(one, two, { await two.shutdown() })
                await one.shutdown()
                await two.shutdown()
                return value
            } catch {
                await one.shutdown()
                await two.shutdown()
                throw error
            }
        }
    }
}
