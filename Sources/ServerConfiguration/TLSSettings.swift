import NIOSSL

/// A server's TLS section (`http.tls` of the registry, `server.tls` of berth-auth), read the same
/// way for both and turned into the one server TLS configuration both use.
///
/// Keys under the section: `certificate`, `key` (PEM files, given together), `clientcas` (PEM
/// files: client certificates are then required and checked, mutual TLS) and `minimumtls`
/// (`tls1.2`, the default, or `tls1.3`; older versions are raised to 1.2 with a warning).
public struct TLSSettings: Sendable, Equatable {
    public var certificate: String
    public var key: String
    public var clientCAs: [String]
    /// "tls1.2" or "tls1.3".
    public var minimumVersion: String

    public init(certificate: String, key: String, clientCAs: [String] = [], minimumVersion: String = "tls1.2") {
        self.certificate = certificate
        self.key = key
        self.clientCAs = clientCAs
        self.minimumVersion = minimumVersion
    }

    /// The keys of a TLS section, relative to it.
    public static let keys = ["certificate", "key", "clientcas", "minimumtls"]

    /// Reads the section at `section`; nil when neither certificate nor key is given. Problems
    /// (one file without the other, an unreadable file, an unknown version) go to the tree.
    public static func read(_ section: String, from tree: inout ConfigurationTree) -> TLSSettings? {
        let certificate = tree.string("\(section).certificate")
        let key = tree.string("\(section).key")
        guard certificate != nil || key != nil else { return nil }
        guard let certificate, let key else {
            tree.problem("\(section): certificate and key must be given together")
            return nil
        }
        var minimum = (tree.string("\(section).minimumtls", default: "tls1.2") ?? "tls1.2").lowercased()
        switch minimum {
        case "tls1.2", "tls1.3": break
        case "tls1.0", "tls1.1":
            tree.warn("\(section).minimumtls: \(minimum) is insecure; using tls1.2")
            minimum = "tls1.2"
        default: tree.problem("\(section).minimumtls: expected tls1.2 or tls1.3, got \"\(minimum)\"")
        }
        let settings = TLSSettings(certificate: tree.resolve(certificate), key: tree.resolve(key),
                                   clientCAs: tree.strings("\(section).clientcas").map { tree.resolve($0) },
                                   minimumVersion: minimum)
        for path in [settings.certificate, settings.key] + settings.clientCAs
        where !ConfigurationTree.isReadableRegularFile(path) {
            tree.problem("\(section): cannot read \(path)")
        }
        return settings
    }

    /// TLS 1.2 at least (the server libraries' default would accept 1.0); client certificates
    /// required and checked against `clientCAs` when there are any.
    public func makeServerConfiguration() throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
        let privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(privateKey))
        configuration.minimumTLSVersion = minimumVersion == "tls1.3" ? .tlsv13 : .tlsv12
        if !clientCAs.isEmpty {
            let roots = try clientCAs.flatMap { try NIOSSLCertificate.fromPEMFile($0) }
            configuration.trustRoots = .certificates(roots)
            configuration.certificateVerification = .noHostnameVerification
        }
        return configuration
    }
}
