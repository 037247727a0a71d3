import ArgumentParser
import Foundation
import Hummingbird
import HummingbirdBcrypt
import Logging
import ServerConfiguration
import TokenService

/// `berth-auth`: the token service of the Docker token authentication flow.
@main
struct BerthAuth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "berth-auth",
        abstract: "Token service for berth-registry (and any registry that follows the Docker token spec).",
        version: "0.1.0",
        subcommands: [Serve.self, VerifyConfig.self, HashPassword.self])
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve /token and /.well-known/jwks.json.")

    @Argument(help: "Configuration file.")
    var config: String

    func run() async throws {
        let configuration: TokenServiceConfiguration
        do {
            configuration = try TokenServiceConfiguration.load(path: config, environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("berth-auth: \(error)\n".utf8))
            throw ExitCode(1)
        }
        var logger = Logger(label: "berth-auth")
        logger.logLevel = .info
        let app = try await buildTokenApplication(configuration: configuration, logger: logger,
                                                  metrics: MetricsBootstrap.prometheus())
        try await app.runService()
    }
}

struct VerifyConfig: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify-config", abstract: "Check a configuration file.")

    @Argument(help: "Configuration file.")
    var config: String

    func run() throws {
        do {
            let configuration = try TokenServiceConfiguration.load(path: config, environment: ProcessInfo.processInfo.environment)
            for warning in configuration.warnings { print("warning: \(warning)") }
            print("\(config): ok")
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct HashPassword: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash-password", abstract: "Read a password on stdin; print its bcrypt hash for users.static or htpasswd.")

    @Option(help: "bcrypt cost (4-31).")
    var cost: UInt8 = 10

    func run() throws {
        guard (4...31).contains(cost) else { throw ValidationError("--cost must be between 4 and 31") }
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
            FileHandle.standardError.write(Data("berth-auth: no password on stdin\n".utf8))
            throw ExitCode(1)
        }
        print(Bcrypt.hash(line, cost: cost))
    }
}
