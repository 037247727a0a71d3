import ArgumentParser
import Foundation
import Hummingbird
import Logging
import RegistryCore
import RegistryMetadata
import RegistryServer
import RegistryStorage
import ServerConfiguration

/// `berth-registry`: an OCI Distribution registry that reads CNCF Distribution's config.yml.
@main
struct BerthRegistry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "berth-registry",
        abstract: "A private container registry (OCI Distribution v1.1), a drop-in for CNCF Distribution.",
        version: "0.1.0",
        subcommands: [Serve.self, VerifyConfig.self, Import.self, GarbageCollect.self, Migrate.self],
        defaultSubcommand: Serve.self)
}

/// Where Distribution's container image keeps its configuration.
let distributionDefaultConfig = "/etc/docker/registry/config.yml"

func loadConfiguration(_ path: String?) throws -> (RegistryConfiguration, String) {
    let environment = ProcessInfo.processInfo.environment
    if let path { return (try RegistryConfiguration.load(path: path, environment: environment), path) }
    if FileManager.default.fileExists(atPath: distributionDefaultConfig) {
        return (try RegistryConfiguration.load(path: distributionDefaultConfig, environment: environment), distributionDefaultConfig)
    }
    return (try RegistryConfiguration.parse(yaml: RegistryConfiguration.embeddedDefault, environment: environment), "embedded default")
}

func makeLogger(_ configuration: RegistryConfiguration) -> Logger {
    let formatter = configuration.log.formatter
    LoggingSystem.bootstrap { label -> any LogHandler in
        if formatter == "text" { return StreamLogHandler.standardError(label: label) }
        return JSONLogHandler(label: label)
    }
    var logger = Logger(label: "berth-registry")
    logger.logLevel = configuration.log.level
    return logger
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the registry API.")

    @Argument(help: "Configuration file (default: \(distributionDefaultConfig) when present, else an embedded default: ./data on 127.0.0.1:5000).")
    var config: String?

    @Flag(help: "Use the embedded default configuration even when \(distributionDefaultConfig) exists.")
    var embeddedDefault = false

    func run() async throws {
        let (configuration, source): (RegistryConfiguration, String)
        do {
            if embeddedDefault && config == nil {
                (configuration, source) = (try RegistryConfiguration.parse(yaml: RegistryConfiguration.embeddedDefault,
                                                                          environment: ProcessInfo.processInfo.environment), "embedded default")
            } else {
                (configuration, source) = try loadConfiguration(config)
            }
        } catch {
            FileHandle.standardError.write(Data("berth-registry: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let logger = makeLogger(configuration)
        logger.info("starting", metadata: ["config": "\(source)"])
        let metrics = configuration.debug.prometheusEnabled ? MetricsBootstrap.prometheus() : nil
        let app = try await buildApplication(configuration: configuration, logger: logger, metrics: metrics)
        try await app.runService()
    }
}

struct VerifyConfig: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify-config", abstract: "Check a configuration file without serving.")

    @Argument(help: "Configuration file.")
    var config: String

    func run() throws {
        do {
            let configuration = try RegistryConfiguration.load(path: config, environment: ProcessInfo.processInfo.environment)
            for warning in configuration.warnings { print("warning: \(warning)") }
            print("\(config): ok")
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the metadata from an existing Distribution storage root, serving its blobs in place.")

    @Argument(help: "Distribution's storage root (the directory holding docker/registry/v2).")
    var directory: String?

    @Option(name: .long, help: "Import the storage this configuration names instead (a filesystem root or an s3 bucket).")
    var config: String?

    func validate() throws {
        guard (directory == nil) != (config == nil) else {
            throw ValidationError("give either a storage root directory or --config CONFIG")
        }
    }

    func run() async throws {
        if let config { return try await importConfigured(config) }
        guard let directory else { return }
        var root = directory
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        if root.hasSuffix("/docker/registry/v2") { root = String(root.dropLast("/docker/registry/v2".count)) }
        var logger = Logger(label: "berth-registry")
        logger.logLevel = .info
        do {
            guard FileManager.default.fileExists(atPath: "\(root)/docker/registry/v2/repositories") else {
                throw MaintenanceError("no docker/registry/v2/repositories directory here")
            }
            let registry = try Registry.onFilesystem(root: root.isEmpty ? "/" : root, settings: RegistrySettings(), logger: logger)
            let summary = try await DistributionImporter(registry: registry).run()
            print(summary)
            print("serve it with storage.filesystem.rootdirectory: \(root)")
        } catch {
            FileHandle.standardError.write(Data("berth-registry import: \(directory): \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// The storage and metadata a configuration names (an S3 bucket written by Distribution's s3
    /// driver, say), imported where `serve` with the same file will find them.
    private func importConfigured(_ path: String) async throws {
        var logger = Logger(label: "berth-registry")
        logger.logLevel = .info
        do {
            let (configuration, _) = try loadConfiguration(path)
            let registry = try await makeRegistry(configuration: configuration, logger: logger)
            guard !(try await registry.storage.list(StorageLayout.repositoriesRoot)).isEmpty else {
                throw MaintenanceError("no docker/registry/v2/repositories in the configured storage")
            }
            print(try await DistributionImporter(registry: registry).run())
            print("serve it with the same configuration")
        } catch {
            FileHandle.standardError.write(Data("berth-registry import: \(path): \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct GarbageCollect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "garbage-collect",
        abstract: "Run one garbage-collection sweep; safe while a server runs on the same storage.")

    @Argument(help: "Configuration file (default: \(distributionDefaultConfig) when present, else the embedded default).")
    var config: String?

    @Flag(name: .customLong("dry-run"), help: "Print what would be removed; remove nothing.")
    var dryRun = false

    @Flag(name: .customLong("delete-untagged"), help: "Also remove manifests no tag, index or subject reaches.")
    var deleteUntagged = false

    func run() async throws {
        do {
            let (configuration, _) = try loadConfiguration(config)
            var logger = Logger(label: "berth-registry")
            logger.logLevel = .warning
            if configuration.storage.s3 == nil { try Self.checkWritable(configuration.storage.rootDirectory) }
            let registry = try await makeRegistry(configuration: configuration, logger: logger)
            let report = try await registry.collectGarbage(dryRun: dryRun ? true : nil, deleteUntagged: deleteUntagged ? true : nil,
                                                           waitForLock: 120, forceOrphanScan: true)
            for line in report.lines { print(line) }
            print(report.summary)
        } catch {
            FileHandle.standardError.write(Data("berth-registry garbage-collect: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// A sweep that cannot write would fail half-way; say why before starting.
    static func checkWritable(_ root: String) throws {
        let directory = "\(root)/berth"
        // Failing here is reported by the probe below, with the system's reason.
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let probe = "\(directory)/.gc-write-check-\(getpid())"
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw MaintenanceError("cannot write to the storage root \(root): \(String(cString: strerror(errno)))")
        }
        close(fd)
        unlink(probe)
    }
}
