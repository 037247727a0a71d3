import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// How to reach one registry host: scheme and TLS settings, chosen as Docker does.
///
/// - `localhost`, `127.0.0.0/8` and `::1` use plain HTTP, unless `certs.d/<host:port>/` exists:
///   a CA put there for a loopback registry says it speaks TLS (a local TLS registry or token
///   service would otherwise be unreachable without a guess).
/// - Other hosts use HTTPS with the system trust store plus any `*.crt` in
///   `/etc/docker/certs.d/<host:port>/`, and `client.cert`/`client.key` there for mutual TLS.
/// - `--insecure` allows plain HTTP for any host.
/// See https://docs.docker.com/engine/security/certificates/
public struct TransportSecurity: Sendable {
    /// Directory holding per-host certificate folders.
    public var certsDirectory: String
    /// Whether plain HTTP is allowed for every host.
    public var insecure: Bool

    public init(certsDirectory: String = "/etc/docker/certs.d", insecure: Bool = false) {
        self.certsDirectory = certsDirectory
        self.insecure = insecure
    }

    /// Whether a host is loopback, where Docker speaks plain HTTP without being told.
    public static func isLoopback(_ host: String) -> Bool {
        var name = host
        if name.hasPrefix("[") {
            return name.hasPrefix("[::1]")
        }
        if let colon = name.lastIndex(of: ":") { name = String(name[..<colon]) }
        return name == "localhost" || name.hasPrefix("127.")
    }

    /// The URL scheme to use for a host.
    public func scheme(for host: String) -> String {
        if insecure { return "http" }
        if Self.isLoopback(host) {
            var isDirectory: ObjCBool = false
            let configured = FileManager.default.fileExists(atPath: certsPath(for: host), isDirectory: &isDirectory)
            return configured && isDirectory.boolValue ? "https" : "http"
        }
        return "https"
    }

    /// The folder Docker reads a host's certificates from.
    public func certsPath(for host: String) -> String { certsDirectory + "/" + host }

    /// The TLS configuration for a host; throws when its certs.d files are unreadable.
    public func tlsConfiguration(for host: String) throws -> TLSConfiguration {
        var config = TLSConfiguration.makeClientConfiguration()
        config.minimumTLSVersion = .tlsv12
        let dir = certsPath(for: host)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        for file in files.sorted() where file.hasSuffix(".crt") {
            config.additionalTrustRoots.append(.file(dir + "/" + file))
        }
        let certFile = dir + "/client.cert", keyFile = dir + "/client.key"
        if FileManager.default.fileExists(atPath: certFile) && FileManager.default.fileExists(atPath: keyFile) {
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(certFile)
                config.certificateChain = chain.map { .certificate($0) }
                config.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            } catch {
                throw ClientError.tls(host: host, reason: "cannot load client certificate from \(dir): \(error)", certsPath: dir)
            }
        }
        return config
    }

    /// `strerror` for system errors, the description otherwise.
    static func reason(_ error: any Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
        return "\(error)"
    }

    /// A short reason from BoringSSL's long error text.
    static func tlsReason(_ text: String) -> String {
        if text.contains("CERTIFICATE_VERIFY_FAILED") { return "certificate verify failed (unknown authority or wrong host name)" }
        if text.contains("WRONG_VERSION_NUMBER") { return "the server does not speak TLS (plain HTTP? use --insecure)" }
        if text.contains("uncleanShutdown") { return "connection closed during the TLS handshake" }
        return text.count > 200 ? String(text.prefix(200)) + "..." : text
    }

    /// Turns a transport failure into a message that says what to do.
    public func describe(_ error: any Error, host: String) -> any Error {
        if error is ClientError || error is CancellationError { return error }
        if let connection = error as? NIOConnectionError {
            if connection.connectionErrors.isEmpty && (connection.dnsAError != nil || connection.dnsAAAAError != nil) {
                return ClientError.unknownHost(host)
            }
            let reasons = connection.connectionErrors.map { Self.reason($0.error) }
            return ClientError.connection(host: host, reason: reasons.first ?? "connection failed")
        }
        let text = String(describing: error)
        if error is NIOSSLError || error is BoringSSLError || text.contains("SSL") || text.contains("certificate")
            || text.contains("handshake") {
            return ClientError.tls(host: host, reason: Self.tlsReason(text), certsPath: certsPath(for: host))
        }
        if text.contains("unknownHost") || text.contains("resolve") || text.contains("DNS")
            || text.contains("getaddrinfo") || text.contains("SocketAddressError") {
            return ClientError.unknownHost(host)
        }
        if let http = error as? HTTPClientError {
            if http == .connectTimeout { return ClientError.connection(host: host, reason: "connection timed out") }
            if http == .remoteConnectionClosed { return ClientError.connection(host: host, reason: "connection closed by the registry") }
            return ClientError.connection(host: host, reason: "\(http)")
        }
        if error is IOError {
            return ClientError.connection(host: host, reason: Self.reason(error))
        }
        return error
    }
}
