import ArgumentParser
import Foundation
import RegistryCore
import RegistryMetadata
import RegistryServer

/// `berth-registry migrate`: the PostgreSQL metadata schema of a configuration's database, and
/// the move of an embedded registry's SQLite metadata into it.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply or show the PostgreSQL metadata schema, or copy an embedded registry's SQLite metadata into it.",
        subcommands: [Up.self, Status.self, ImportSQLite.self])

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Bring the schema to this build's version.")

        @Argument(help: "Configuration file with database.enabled (default: \(distributionDefaultConfig) when present).")
        var config: String?

        func run() async throws {
            try await Migrate.withDatabase(config) { store in
                try await store.migrate()
                try await Migrate.printVersion(store)
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the schema version applied and the one this build knows.")

        @Argument(help: "Configuration file with database.enabled (default: \(distributionDefaultConfig) when present).")
        var config: String?

        func run() async throws {
            try await Migrate.withDatabase(config) { store in try await Migrate.printVersion(store) }
        }
    }

    struct ImportSQLite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-sqlite",
            abstract: "Copy an embedded registry's SQLite metadata into the configuration's empty PostgreSQL database.",
            discussion: """
                Stop the embedded registry first. Blobs are not copied: point the configuration's storage at \
                the same blobs (the same root directory, or a bucket they were copied to).
                """)

        @Argument(help: "The SQLite database (database.sqlite.path; by default <rootdirectory>/berth/metadata.sqlite).")
        var file: String

        @Argument(help: "Configuration file with database.enabled (default: \(distributionDefaultConfig) when present).")
        var config: String?

        func run() async throws {
            let file = self.file
            try await Migrate.withDatabase(config) { store in
                guard FileManager.default.fileExists(atPath: file) else { throw MaintenanceError("\(file): no such file") }
                try await store.migrate()
                let report = try await store.importSQLite(from: try SQLiteMetadataStore(path: file))
                let counts = report.rows.map { "\($0.count) \($0.table)" }.joined(separator: ", ")
                print("imported \(file): \(counts)")
            }
        }
    }

    static func printVersion(_ store: PostgresMetadataStore) async throws {
        let (applied, known) = try await store.schemaVersion()
        print("schema version \(applied) (this berth-registry knows \(known))"
              + (applied < known ? ": run `berth-registry migrate up`" : ""))
    }

    /// Runs `body` on the configuration's PostgreSQL store; any failure ends the command with
    /// its message and status 1.
    static func withDatabase(_ config: String?, _ body: (PostgresMetadataStore) async throws -> Void) async throws {
        do {
            let (configuration, path) = try loadConfiguration(config)
            guard let settings = configuration.postgres else {
                throw MaintenanceError("\(path) keeps the metadata in embedded SQLite (database.enabled is not true): "
                                       + "its schema is migrated by serve")
            }
            try await PostgresMetadataStore.checkConnection(settings: settings, logger: .init(label: "berth-registry.migrate"))
            let store = PostgresMetadataStore(settings: settings)
            do {
                try await body(store)
                await store.shutdown()
            } catch {
                await store.shutdown()
                throw error
            }
        } catch {
            FileHandle.standardError.write(Data("berth-registry migrate: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
