import ArgumentParser
import Foundation
import RegistryClient

/// `berth login HOST [-u USER] [--password-stdin]`: checks credentials, then stores them.
struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "login", abstract: "Log in to a registry (stores credentials in Docker's config.json).")

    @Argument(help: "Registry host, e.g. registry.example.com:5000.")
    var host: String

    @Option(name: [.short, .long], help: "User name.")
    var username: String?

    @Flag(help: "Read the password from standard input.")
    var passwordStdin = false

    @OptionGroup var registry: RegistryOptions

    func run() async throws {
        let host = Login.normalisedHost(host)
        var user = username
        var password: String?
        if passwordStdin {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            password = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        } else if Terminal.isTTY(0) {
            if user == nil { user = Terminal.prompt("Username: ", secret: false) }
            password = Terminal.prompt("Password: ", secret: true)
        }
        guard let user, !user.isEmpty else { throw ValidationError("a user name is required (-u USER)") }
        guard let password, !password.isEmpty else {
            throw ValidationError("a password is required (use --password-stdin when not on a terminal)")
        }
        let credentials = Credentials(username: user, password: password)
        try await withContext(registry.security) { context in
            let client = try context.client(for: host, credentials: credentials)
            let refresh = try await client.login()
            let stored = refresh.map { Credentials(username: user, identityToken: $0) } ?? credentials
            try context.config.store(stored, for: host)
            print("Login Succeeded")
        }
    }

    /// Accepts `https://host/` forms too, as `docker login` does.
    static func normalisedHost(_ host: String) -> String {
        var h = Substring(host)
        if let r = h.range(of: "://") { h = h[r.upperBound...] }
        if let slash = h.firstIndex(of: "/") { h = h[..<slash] }
        return String(h)
    }
}

/// `berth logout HOST`: forgets stored credentials.
struct Logout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logout", abstract: "Log out of a registry.")

    @Argument(help: "Registry host.")
    var host: String

    func run() async throws {
        let host = Login.normalisedHost(host)
        do {
            if try DockerConfig.fromEnvironment().erase(host: host) {
                print("Removing login credentials for \(host)")
            } else {
                print("Not logged in to \(host)")
            }
        } catch {
            Terminal.error("\(error)")
            throw ExitCode.failure
        }
    }
}
