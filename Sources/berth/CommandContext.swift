import ArgumentParser
import AsyncHTTPClient
import Foundation
import ImageStore
import RegistryClient

/// What a command runs with: one HTTP client, credentials from config.json, the local store.
/// Built by `withContext`, which shuts the HTTP client down however the command ends.
struct CommandContext: Sendable {
    let http: HTTPClient
    let security: TransportSecurity
    let config: DockerConfig

    /// A registry client for `host`, with the credentials config.json has for it.
    func client(for host: String, credentials: Credentials? = nil) throws -> RegistryClient {
        let creds = try credentials ?? config.credentials(for: host)
        return try RegistryClient(host: host, http: http, security: security, credentials: creds)
    }

    /// The local store at `$BERTH_ROOT` (or the default).
    func store() throws -> ImageStore { try ImageStore(root: ImageStore.defaultRoot()) }
}

/// Runs `body` with a context; prints errors as a person reads them and exits 1.
func withContext<T: Sendable>(
    _ security: TransportSecurity = TransportSecurity(),
    _ body: @Sendable (CommandContext) async throws -> T
) async throws -> T {
    let http = RegistryClient.makeHTTPClient()
    let context = CommandContext(http: http, security: security, config: DockerConfig.fromEnvironment())
    do {
        let result = try await body(context)
        try? await http.shutdown()
        return result
    } catch {
        try? await http.shutdown()
        if error is ExitCode || error is CleanExit { throw error }
        Terminal.error("\(error)")
        throw ExitCode.failure
    }
}

/// Output helpers: results to stdout, diagnostics to stderr.
enum Terminal {
    /// Whether a stream is a terminal (progress bars only then).
    static func isTTY(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data("berth: error: \(message)\n".utf8))
    }

    static func info(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// Reads a line from the terminal, optionally without echo (passwords).
    static func prompt(_ text: String, secret: Bool) -> String? {
        if secret {
            guard let p = getpass(text) else { return nil }
            return String(cString: p)
        }
        FileHandle.standardError.write(Data(text.utf8))
        return readLine()
    }
}
