import Foundation

/// Talks to a `docker-credential-<name>` program (get / store / erase over stdin/stdout).
///
/// See https://github.com/docker/docker-credential-helpers#development
public struct CredentialHelper: Sendable {
    /// The helper's suffix, e.g. `pass` for `docker-credential-pass`.
    public let name: String

    public init(name: String) { self.name = name }

    private struct Payload: Codable {
        var ServerURL: String?
        var Username: String
        var Secret: String
    }

    /// The username helpers use to mark an identity (refresh) token.
    static let tokenUsername = "<token>"

    /// Credentials for `serverURL`, or nil when the helper has none.
    public func get(serverURL: String) throws -> Credentials? {
        let (status, out, err) = try run("get", input: Array(serverURL.utf8))
        if status != 0 {
            let message = String(decoding: out + err, as: UTF8.self)
            if message.contains("credentials not found") { return nil }
            throw ClientError.credentialHelper(name: name, reason: firstLine(message))
        }
        let payload = try JSONDecoder().decode(Payload.self, from: Data(out))
        if payload.Username == Self.tokenUsername {
            return Credentials(username: "", identityToken: payload.Secret)
        }
        return Credentials(username: payload.Username, password: payload.Secret)
    }

    /// Stores credentials for `serverURL`.
    public func store(serverURL: String, credentials: Credentials) throws {
        let payload: Payload
        if let token = credentials.identityToken {
            payload = Payload(ServerURL: serverURL, Username: Self.tokenUsername, Secret: token)
        } else {
            payload = Payload(ServerURL: serverURL, Username: credentials.username, Secret: credentials.password ?? "")
        }
        let (status, out, err) = try run("store", input: Array(try JSONEncoder().encode(payload)))
        if status != 0 {
            throw ClientError.credentialHelper(name: name, reason: firstLine(String(decoding: out + err, as: UTF8.self)))
        }
    }

    /// Erases credentials for `serverURL`.
    public func erase(serverURL: String) throws {
        let (status, out, err) = try run("erase", input: Array(serverURL.utf8))
        if status != 0 {
            throw ClientError.credentialHelper(name: name, reason: firstLine(String(decoding: out + err, as: UTF8.self)))
        }
    }

    private func firstLine(_ s: String) -> String {
        String(s.split(separator: "\n").first ?? "exited with an error")
    }

    /// Runs the helper with `input` on stdin; returns status, stdout and stderr.
    private func run(_ verb: String, input: [UInt8]) throws -> (Int32, [UInt8], [UInt8]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["docker-credential-\(name)", verb]
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        do {
            try process.run()
        } catch {
            throw ClientError.credentialHelper(name: name, reason: "cannot run docker-credential-\(name): \(error)")
        }
        stdin.fileHandleForWriting.write(Data(input))
        try? stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if process.terminationStatus == 127 {
            throw ClientError.credentialHelper(name: name, reason: "docker-credential-\(name) not found in PATH")
        }
        return (process.terminationStatus, Array(out), Array(err))
    }
}
