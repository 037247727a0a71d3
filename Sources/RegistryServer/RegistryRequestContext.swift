import Hummingbird
import NIOCore

/// The per-request context: Hummingbird's core storage plus the client's address, for the
/// access log, the failed-login limiter and the events' `request.addr`.
struct RegistryRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The client's IP address, as the access log's first field; `-` when unknown.
    var clientIP: String { remoteAddress?.ipAddress ?? "-" }

    /// `ip:port` of the client (events' `request.addr`), or `-` when unknown.
    var clientAddress: String {
        guard let remoteAddress else { return "-" }
        guard let ip = remoteAddress.ipAddress else { return "\(remoteAddress)" }
        return remoteAddress.protocol == .inet6 ? "[\(ip)]:\(remoteAddress.port ?? 0)" : "\(ip):\(remoteAddress.port ?? 0)"
    }
}
