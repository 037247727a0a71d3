import Foundation
import ServerConfiguration

/// `http`: where berth-registry listens and how it answers.
public struct HTTPSettings: Sendable {
    /// `http.addr`, `:5000` (every interface) by default.
    public var address = ListenAddress(host: "0.0.0.0", port: 5000)
    /// `http.prefix`: the path the API is served under, always with a leading and trailing `/`.
    public var prefix = "/"
    /// `http.host`: the external URL written into `Location` headers.
    public var externalHost: String?
    /// `http.tls`.
    public var tls: TLSSettings?
    /// `http.draintimeout`: how long a graceful shutdown waits for running requests.
    public var drainTimeout: TimeInterval = 10
    /// `http.sendfile` (Berth's): blob bodies on plain HTTP leave by `sendfile(2)`. Off by default:
    /// on this project's loopback benchmark, copying 1 MiB chunks through user space is faster
    /// (the receiver copies from cache-warm socket buffers rather than from the page cache).
    public var sendfile = false
    /// `http.headers`: added to every response, in name order.
    public var headers: [(String, [String])] = []

    public init() {}

    static func read(from tree: inout ConfigurationTree) -> HTTPSettings {
        var settings = HTTPSettings()
        settings.address = tree.address("http.addr", default: settings.address)
        settings.drainTimeout = tree.duration("http.draintimeout", default: settings.drainTimeout)
        settings.sendfile = tree.bool("http.sendfile", default: settings.sendfile)
        if let net = tree.string("http.net"), net != "tcp" {
            tree.problem("http.net: only tcp is supported, got \"\(net)\"")
        }
        var prefix = tree.string("http.prefix", default: settings.prefix) ?? settings.prefix
        if !prefix.hasPrefix("/") { prefix = "/" + prefix }
        if !prefix.hasSuffix("/") { prefix += "/" }
        settings.prefix = prefix
        if let host = tree.string("http.host") {
            if URL(string: host)?.scheme == nil { tree.problem("http.host: expected an absolute URL such as https://registry.example.com") }
            settings.externalHost = host.hasSuffix("/") ? String(host.dropLast()) : host
        }
        settings.tls = TLSSettings.read("http.tls", from: &tree)
        settings.headers = tree.headers("http.headers")
        return settings
    }
}
