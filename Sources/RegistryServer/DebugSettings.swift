import ServerConfiguration

/// `http.debug`: a second listener, for `/metrics` and `/debug/health` only, so neither is
/// reachable on the API's address.
public struct DebugSettings: Sendable {
    /// `http.debug.addr`; nil: no debug listener.
    public var address: ListenAddress?
    /// `http.debug.prometheus.enabled`.
    public var prometheusEnabled = false
    /// `http.debug.prometheus.path`.
    public var prometheusPath = "/metrics"

    public init() {}

    static func read(from tree: inout ConfigurationTree) -> DebugSettings {
        var settings = DebugSettings()
        if tree.contains("http.debug.addr") {
            settings.address = tree.address("http.debug.addr", default: ListenAddress(host: "127.0.0.1", port: 5001))
        }
        settings.prometheusEnabled = tree.bool("http.debug.prometheus.enabled", default: settings.prometheusEnabled)
        let path = tree.string("http.debug.prometheus.path", default: settings.prometheusPath) ?? settings.prometheusPath
        if path.hasPrefix("/") && !path.contains(" ") {
            settings.prometheusPath = path
        } else {
            tree.problem("http.debug.prometheus.path: expected an absolute path such as /metrics")
        }
        if settings.prometheusEnabled && settings.address == nil {
            tree.warn("http.debug.prometheus.enabled: needs http.debug.addr; no metrics are served")
        }
        return settings
    }
}
