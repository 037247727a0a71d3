import Hummingbird
import NIOCore
import Synchronization

/// The per-request context: Hummingbird's core storage plus the client's address, for the
/// access log, the failed-login limiter and the events' `request.addr`.
struct RegistryRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    /// The connection (blob bodies find its `SendfileHandler` through it).
    let channel: any Channel
    /// This request's number in the process, for `requestID`.
    let number: UInt64

    /// Numbers start at a random point, so ids from different runs and nodes rarely meet.
    private static let counter = Atomic<UInt64>(UInt64.random(in: 0...(UInt64.max >> 1)))

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
        number = Self.counter.add(1, ordering: .relaxed).newValue
    }

    /// The request's id in the access log and in notification events: 16 hex digits. (Cheaper
    /// than Hummingbird's own `id`, which is formatted from the logger's metadata each time.)
    var requestID: String { Self.requestID(number) }

    static func requestID(_ number: UInt64) -> String {
        let digits = String(number, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// `ip:port` of the client (events' `request.addr`), or `-` when unknown.
    var clientAddress: String {
        guard let remoteAddress else { return "-" }
        guard let ip = remoteAddress.ipAddress else { return "\(remoteAddress)" }
        return remoteAddress.protocol == .inet6 ? "[\(ip)]:\(remoteAddress.port ?? 0)" : "\(ip):\(remoteAddress.port ?? 0)"
    }
}
