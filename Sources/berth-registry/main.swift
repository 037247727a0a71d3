import ArgumentParser
import Foundation
import Hummingbird
import Logging
import RegistryServer

/// `berth-registry`: an OCI Distribution registry that reads CNCF Distribution's config.yml.
@main
struct BerthRegistry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "berth-registry",
        abstract: "A private container registry (OCI Distribution v1.1), a drop-in for CNCF Distribution.",
        version: "0.1.0",
        subcommands: [Serve.self, VerifyConfig.self, Import.self],
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
    let formatter = configuration.logFormatter
    LoggingSystem.bootstrap { label -> any LogHandler in
        if formatter == "text" { return StreamLogHandler.standardError(label: label) }
        return JSONLogHandler(label: label)
    }
    var logger = Logger(label: "berth-registry")
    logger.logLevel = configuration.logLevel
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
        let app = try await buildApplication(configuration: configuration, logger: logger)
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

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the metadata from an existing Distribution storage root, serving its blobs in place.")

    @Argument(help: "Distribution's storage root (the directory holding docker/registry/v2).")
    var directory: String

    func run() throws {
        var logger = Logger(label: "berth-registry")
        logger.logLevel = .info
        let importer = try DistributionImporter(directory: directory, logger: logger)
        let summary = try importer.run()
        print(summary)
        print("serve it with storage.filesystem.rootdirectory: \(importer.rootDirectory)")
    }
}
